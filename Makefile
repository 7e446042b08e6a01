# Lead-to-Cash warehouse. Two commands matter:
#   make demo   build the demo warehouse end to end and print a summary
#   make test   lint everything and run every test
# Both create the virtual environment (.venv) themselves on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
# the Spark check's own environment: pyspark next to great-expectations breaks pytest-xdist
# workers (GX imports pyspark.sql.connect, which exits without grpc), so it stays out of .venv
SPARK_VENV  := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.setup-stamp
DEALS  ?= 3000
SEED   ?= 42

.PHONY: setup postgres-server demo refresh test lint sqlfluff pytest bench bench-api bench-dlt-floor bench-mining bench-scale spark-check docs clean

setup: $(STAMP) postgres-server

# The served-warehouse tests start a throwaway PostgreSQL server (initdb/pg_ctl of Debian's
# postgresql package); installed here when missing (CI is a fresh Debian machine, run as root).
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends postgresql)

# The product (pyproject.toml) and the demo harness (demo/pyproject.toml), both editable, plus
# the development tools (requirements.txt) and the test-only oracle (requirements-dev.txt:
# pm4py, AGPL, never imported by the warehouse code); constraints.txt pins every version.
$(STAMP): pyproject.toml demo/pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[postgres,metrics]' -e ./demo \
		-r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

demo: setup
	$(VENV)/bin/l2c demo --deals $(DEALS) --seed $(SEED)

# The scheduled job against the configured (real) sources: load, check, build, check.
refresh: setup
	$(VENV)/bin/l2c refresh $(ARGS)

lint: setup
	$(VENV)/bin/ruff check l2c pipelines demo tests bench
	$(VENV)/bin/ruff format --check l2c pipelines demo tests bench

sqlfluff: setup
	mkdir -p warehouse
	L2C_DUCKDB_PATH=warehouse/sqlfluff.duckdb $(VENV)/bin/sqlfluff lint models analyses tests/dbt

# Debian's chromium: tests/test_report.py opens the HTML report in it (headless). Installed
# when missing (CI is a fresh Debian machine and runs as root); `make demo` does not need it.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

pytest: setup $(CHROMIUM)
	$(VENV)/bin/pytest -q -n auto --dist loadfile --durations=15

test: lint sqlfluff pytest

bench: setup
	$(PY) -m bench.run $(ARGS)

# Loads against fakes with a realistic latency and the vendors' rate limits (ARGS="--deals N")
bench-api: setup
	$(PY) -m bench.api $(ARGS)

# dlt's own cost per run: each system's tables, one row each, no HTTP (ARGS="--systems stripe")
bench-dlt-floor: setup
	$(PY) -m bench.dlt_floor $(ARGS)

# process mining vs pm4py on generated logs, e.g. ARGS="--events 100000 1000000"
bench-mining: setup
	$(PY) -m bench.mining $(ARGS)

# a loaded warehouse tiled to k copies and built, e.g.
# ARGS="--base /tmp/w/l2c.duckdb --copies 1 11 56" (base: `make bench ARGS="--keep /tmp/w"`)
bench-scale: setup
	$(PY) -m bench.scale $(ARGS)

# The dbt SQL layers built on Spark (local pyspark; needs Java 17+) and compared row by row with
# the DuckDB build, in its own venv with dbt-spark and pyspark (requirements-spark.txt).
$(SPARK_STAMP): pyproject.toml demo/pyproject.toml requirements.txt requirements-spark.txt constraints.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet -c constraints.txt -e . -e ./demo \
		-r requirements.txt -r requirements-spark.txt
	touch $(SPARK_STAMP)

spark-check: $(SPARK_STAMP)
	$(SPARK_VENV)/bin/l2c spark-check $(ARGS)

# The dbt docs site of the warehouse (run `make demo` first): lineage graph from the raw
# sources to the marts, metrics and exposures, every model's and column's description, and the
# catalog's types. One self-contained file: target/static_index.html (or `dbt docs serve`).
docs: setup
	L2C_DUCKDB_PATH=$(or $(DUCKDB),warehouse/lead2cash.duckdb) $(VENV)/bin/dbt docs generate --static --profiles-dir profiles
	@echo "dbt docs: $(CURDIR)/target/static_index.html"

clean:
	rm -rf warehouse target logs .pytest_cache .ruff_cache
