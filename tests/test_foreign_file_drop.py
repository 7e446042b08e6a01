"""A foreign CRM export brought in through the file drop, following only docs/adding-a-source.md.

The CRM ("acme") is built here, not taken from the demo: one CSV of opportunities from 2016 in
a Swiss layout (`;`, decimal comma, `'` thousands, day-first dates, local time), no stage
history and no pipelines. It goes next to the hand-written Pipedrive + Stripe fixture (2024),
so the gaps the guide promises to make loud are all there:
- a deal in USD dated 2016 (seed fx_rates has USD from 2020 only) and one in CHF (no rate at
  all): reporting values null, warned, listed;
- deals without a creation date: still counted, warned, listed;
- a system whose data ended years before the other one's: measured at its own as-of, warned
  as stale, listed;
- a row whose date does not parse: quarantined, and the guide's rejects query finds it;
- before anything is loaded, the registered system leaks no row (its pipeline is a literal).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from l2c.dbt_runner import DBT_SYSTEMS_ENV, with_registry, with_systems_excluded
from tests.fixtures.raw_fixture import build_raw_fixture
from tests.test_dbt_fixture import PROJECT_DIR, _dbt_invoke

pytestmark = pytest.mark.slow

EXPORT = (
    "Opportunity ID;Opportunity Name;Owner;Stage;Amount;Currency;Created;Close Date;Status\n"
    "A-1;Alpha;Anna Meier;Closing;12'500,00;EUR;03/02/2016 10:15;15/03/2016;Won\n"
    "A-2;Beta;Anna Meier;Proposal;8'000,00;USD;10/02/2016 09:00;20/04/2016;Lost\n"
    "A-3;Gamma;Ben Keller;Discovery;3'000,00;CHF;01/03/2016 14:00;;Open\n"
    "A-4;Delta;Ben Keller;Proposal;5'000,00;EUR;;30/05/2016;Won\n"
    "A-5;Epsilon;Anna Meier;Discovery;1'000,00;EUR;;;Open\n"
    "A-6;Zeta;Ben Keller;Closing;2'000,00;EUR;31/02/2016 10:00;;Open\n"
)

# Step 2 of the guide: the declared mapping.
MAPPING = """\
system: acme
kind: crm
warehouse_entities: [deals, pipelines, stages]
entities:
  opportunities:
    files:
      - {glob: "opportunities_*.csv", format: csv}
    csv:
      delimiter: ";"
      decimal_separator: ","
      thousands_separator: "'"
      timestamp_formats: ["%d/%m/%Y %H:%M"]
      date_formats: ["%d/%m/%Y"]
    time_zone: Europe/Zurich
    primary_key: [opportunity_id]
    columns:
      Opportunity ID:   {name: opportunity_id, type: string}
      Opportunity Name: {name: opportunity_name, type: string}
      Owner:            {name: owner_name, type: string}
      Stage:            {name: stage, type: string, not_null: true}
      Amount:           {name: amount, type: decimal}
      Currency:         {name: currency, type: string}
      Created:          {name: created_at, type: timestamp}
      Close Date:       {name: close_date, type: date}
      Status:           {name: status, type: string, not_null: true}
"""

# Step 4: staging models. A CRM without pipelines: one pipeline written as a literal row, its
# stages the distinct stage values of the loaded deals. Without stage history: no
# stage_changes entity (each deal gets its current stage as its creation stage).
SOURCES_YML = """\
version: 2
sources:
  - name: acme
    schema: raw_acme
    config:
      loaded_at_query: >-
        select max(inserted_at) from raw_acme._dlt_loads where status = 0
    tables:
      - name: _dlt_loads
      - name: opportunities
        columns:
          - name: opportunity_id
            data_tests: [unique]
          - name: amount
            data_tests: [non_negative]
          - name: created_at
            data_tests: [timestamp_in_range]
          - name: close_date
            data_tests: [timestamp_in_range]
"""
RAW_CHECKS = (
    "source_unique_acme_opportunities_opportunity_id",
    "source_non_negative_acme_opportunities_amount",
    "source_timestamp_in_range_acme_opportunities_created_at",
    "source_timestamp_in_range_acme_opportunities_close_date",
)

MODELS_YML = """\
version: 2
models:
  - name: stg_acme__deals
    description: "Acme opportunities. Grain: one row per opportunity."
    columns:
      - name: deal_key
        data_tests: [primary_key]
  - name: stg_acme__pipelines
    description: "Acme's single pipeline. Grain: one row."
    columns:
      - name: pipeline_key
        data_tests: [primary_key]
  - name: stg_acme__stages
    description: "The stage values of Acme's deals. Grain: one row per stage."
    columns:
      - name: stage_key
        data_tests: [primary_key]
"""

STG_DEALS = """\
with source as (
    {{ select_source_columns('acme', 'opportunities', [
        'opportunity_id:string', 'opportunity_name:string', 'stage:string', 'amount:float',
        'currency:string', 'created_at:timestamptz', 'close_date:date', 'status:string',
    ]) }}
),

renamed as (
    select
        'acme' as source_system,
        {{ make_key('acme', 'opportunity_id') }} as deal_key,
        opportunity_id as deal_id,
        opportunity_name as title,
        cast(null as {{ dbt.type_string() }}) as owner_user_key,
        cast(null as {{ dbt.type_string() }}) as account_key,
        cast(null as {{ dbt.type_string() }}) as person_key,
        'acme:sales' as pipeline_key,
        {{ make_key('acme', 'lower(stage)') }} as stage_key,
        lower(status) as status,
        amount as value,
        upper(currency) as currency,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as lead_key,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('created_at') }} as updated_at,
        case when lower(status) = 'won' then cast(close_date as timestamp) end as won_at,
        case when lower(status) = 'lost' then cast(close_date as timestamp) end as lost_at,
        case
            when lower(status) in ('won', 'lost') then cast(close_date as timestamp)
        end as closed_at,
        cast(null as {{ dbt.type_string() }}) as lost_reason,
        cast(null as date) as expected_close_date,
        false as is_deleted,
        cast(null as {{ dbt.type_string() }}) as deal_type,
        cast(null as {{ dbt.type_string() }}) as campaign_key
    from source
),

final as (
    {{ select_canonical('deals') }}
)

select * from final
"""

STG_PIPELINES = """\
with renamed as (
    select
        'acme' as source_system,
        'acme:sales' as pipeline_key,
        'sales' as pipeline_id,
        'Sales' as pipeline_name,
        1 as pipeline_order,
        false as is_deleted
),

final as (
    {{ select_canonical('pipelines') }}
)

select * from final
"""

STG_STAGES = """\
with deals as (
    select * from {{ ref('stg_acme__deals') }}
),

renamed as (
    select distinct
        'acme' as source_system,
        stage_key,
        substr(stage_key, 6) as stage_id,
        pipeline_key,
        case substr(stage_key, 6)
            when 'discovery' then 'Discovery'
            when 'proposal' then 'Proposal'
            when 'closing' then 'Closing'
        end as stage_name,
        case substr(stage_key, 6)
            when 'discovery' then 1 when 'proposal' then 2 when 'closing' then 3
        end as stage_order,
        false as is_deleted
    from deals
),

final as (
    {{ select_canonical('stages') }}
)

select * from final
"""

# Step 6: seed rows.
STAGE_MAPPING = (
    "acme,Sales,Discovery,Qualification\n"
    "acme,Sales,Proposal,Proposal\n"
    "acme,Sales,Closing,Negotiation\n"
)


def _project_with_acme(root: Path) -> Path:
    """A copy of the project with the guide's steps 4-6 done for `acme`."""
    project = root / "project"
    for part in ("models", "macros", "seeds", "analyses", "profiles", "tests/dbt"):
        shutil.copytree(PROJECT_DIR / part, project / part)
    for name in ("dbt_project.yml", "selectors.yml"):
        if (PROJECT_DIR / name).exists():
            shutil.copy(PROJECT_DIR / name, project / name)
    staging = project / "models" / "staging" / "acme"
    staging.mkdir()
    for name, text in {
        "_acme__sources.yml": SOURCES_YML,
        "_acme__models.yml": MODELS_YML,
        "stg_acme__deals.sql": STG_DEALS,
        "stg_acme__pipelines.sql": STG_PIPELINES,
        "stg_acme__stages.sql": STG_STAGES,
    }.items():
        (staging / name).write_text(text)
    with (project / "seeds" / "stage_mapping.csv").open("a") as seed:
        seed.write(STAGE_MAPPING)
    return project


# dbt builds the registry of the fixture's systems and acme (L2C_DBT_SYSTEMS, as `l2c dbt` and
# the jobs run it for a deployment of these systems): not the other registered systems' empty
# staging models and their tests
SYSTEMS = "pipedrive,stripe,acme"


def _build(project: Path, db_path: Path, target: Path, *select: str) -> dict[str, str]:
    # a partial build runs only the tests whose parents are all selected
    args = (
        ["build", "--indirect-selection", "cautious", "--select", *select] if select else ["build"]
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DBT_SYSTEMS_ENV, SYSTEMS)
        args = with_systems_excluded(with_registry(args))
    result = _dbt_invoke(db_path, args, target, project)
    statuses = {r.node.name: str(r.status) for r in result.result}
    failed = {name: s for name, s in statuses.items() if s in ("error", "fail")}
    assert result.success and not failed, failed or result.exception
    return statuses


def _q(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path)) as con:
        return con.execute(sql).fetchall()


def test_foreign_export_through_the_file_drop_makes_its_gaps_loud(tmp_path, monkeypatch):
    from pipelines import load, manifest

    db_path = tmp_path / "warehouse" / "foreign.duckdb"
    db_path.parent.mkdir()
    build_raw_fixture(str(db_path))
    project = _project_with_acme(tmp_path)
    # Steps 2-3: the declared mapping is the system's declaration in the manifest (kept here in
    # a folder of its own, named by L2C_FILE_DROP_MAPPINGS); `l2c systems --write` puts it in
    # the project's dbt registry.
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "acme.yml").write_text(MAPPING)
    monkeypatch.setenv(manifest.FILE_DROPS_ENV, str(mappings))
    monkeypatch.setenv("L2C_PROJECT_DIR", str(project))
    assert manifest.main(["--write"]) == 0
    assert "acme:\n      kind: crm" in (project / "dbt_project.yml").read_text()

    # Registered, nothing loaded: the literal pipeline row stays out, the system is listed;
    # its raw checks (dbt tests on raw_acme.opportunities, not there yet) pass.
    statuses = _build(
        project,
        db_path,
        tmp_path / "target0",
        "+int_stages_mapped",
        "+stage_funnel",
        "+win_rates",
        "+data_quality_issues",
    )
    assert {name: statuses.get(name) for name in RAW_CHECKS} == dict.fromkeys(RAW_CHECKS, "pass")
    for relation in (
        "intermediate.int_pipelines_unioned",
        "intermediate.int_stages_mapped",
        "marts.cases",
        "marts.stage_funnel",
        "marts.win_rates",
    ):
        column = "group_value" if relation == "marts.win_rates" else "source_system"
        assert _q(db_path, f"select count(*) from {relation} where {column} = 'acme'") == [(0,)], (
            relation
        )
    assert _q(
        db_path,
        "select severity from marts.data_quality_issues "
        "where issue = 'system_without_data' and source_system = 'acme'",
    ) == [("info",)]

    # The export folder, then the load (`l2c load --systems acme`).
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "opportunities_2016.csv").write_text(EXPORT, encoding="utf-8")
    monkeypatch.setenv("SOURCES__ACME__FOLDER", str(exports))
    loaded = load.load_system("acme", db_path)
    assert loaded.rows_by_table.get("opportunities") == 5

    # the same target folder: this build reuses the first one's parse (dbt's partial parsing;
    # the project has not changed since)
    statuses = _build(project, db_path, tmp_path / "target0")
    assert {name: statuses[name] for name in RAW_CHECKS} == dict.fromkeys(RAW_CHECKS, "pass")
    assert {
        name: statuses[name]
        for name in ("warn_fx_rate_missing", "warn_case_without_start", "warn_system_data_stale")
    } == dict.fromkeys(
        ("warn_fx_rate_missing", "warn_case_without_start", "warn_system_data_stale"), "warn"
    )

    # The guide's rejects query finds the row whose date does not exist.
    rejects = _q(
        db_path,
        "select source_file, source_row, column_name, reason from marts.load_rejects "
        "where source_system = 'acme'",
    )
    assert [r[:3] for r in rejects] == [("opportunities_2016.csv", 6, "Created")]
    assert "31/02/2016 10:00" in rejects[0][3]

    cases = {
        row[0]: row[1:]
        for row in _q(
            db_path,
            "select case_id, outcome, cast(deal_created_at as varchar), deal_value_reporting "
            "from marts.cases where source_system = 'acme'",
        )
    }
    assert cases == {
        "acme:A-1": ("won", "2016-02-03 09:15:00", 12500.0),
        "acme:A-2": ("lost", "2016-02-10 08:00:00", None),
        "acme:A-3": ("open", "2016-03-01 13:00:00", None),
        "acme:A-4": ("won", None, None),
        "acme:A-5": ("open", None, None),
    }
    # every deal counts in the win rates, the undated ones in cohort '(none)'; the won value
    # is known (A-4's EUR amount has no date for a rate: null, not a partial sum)
    assert _q(
        db_path,
        "select deals_count, won_count, lost_count, open_count, won_value_reporting "
        "from marts.win_rates where dimension = 'source_system' and group_value = 'acme'",
    ) == [(5, 2, 1, 2, None)]
    # (the fixture's undated Pipedrive deal 108 is the third)
    assert _q(
        db_path,
        "select deals_count from marts.win_rates "
        "where dimension = 'cohort_month' and group_value = '(none)'",
    ) == [(3,)]

    # Acme is measured to its own latest event, not to Pipedrive's 2024.
    [(acme_as_of, behind)] = _q(
        db_path,
        "select cast(as_of as varchar), days_behind from intermediate.int_as_of_resolved "
        "where source_system = 'acme'",
    )
    assert acme_as_of == "2016-05-30 00:00:00" and behind > 2900

    issues = {
        (issue, object_type): (affected, description)
        for issue, object_type, affected, description in _q(
            db_path,
            "select issue, object_type, affected_count, description "
            "from marts.data_quality_issues where source_system = 'acme'",
        )
    }
    assert set(issues) == {
        ("fx_rate_missing", "deal"),
        ("fx_rate_missing", "event"),
        ("case_without_start", "deal"),
        ("system_data_stale", "system"),
    }
    affected, description = issues[("fx_rate_missing", "deal")]
    assert affected == 4
    assert "CHF 2016-03-01..2016-03-01 (1)" in description
    assert "USD 2016-02-10..2016-02-10 (1)" in description
    assert "EUR (no date)..(no date) (2)" in description
    affected, description = issues[("case_without_start", "deal")]
    assert affected == 2 and "1 of them have no event" in description
    assert "2016-05-30" in issues[("system_data_stale", "system")][1]
