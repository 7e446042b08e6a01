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
# makes this checkout importable (l2c, pipelines, bench) from a venv's Python
REPO_PTH = import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'l2c_repo.pth').write_text(str(pathlib.Path.cwd()) + '\n')
DEALS  ?= 3000
SEED   ?= 42

.PHONY: setup demo refresh test lint sqlfluff pytest bench bench-mining spark-check docs clean

setup: $(STAMP)

# requirements-dev.txt holds the test-only oracle (pm4py, AGPL): installed into the same venv
# for the tests and benchmarks, never imported by the warehouse code
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PY) -c "$(REPO_PTH)"
	touch $(STAMP)

demo: setup
	$(PY) -m l2c.demo --deals $(DEALS) --seed $(SEED)

# The scheduled job against the configured (real) sources: load, check, build, check.
refresh: setup
	$(PY) -m l2c.refresh

lint: setup
	$(VENV)/bin/ruff check l2c pipelines tests bench
	$(VENV)/bin/ruff format --check l2c pipelines tests bench

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

# process mining vs pm4py on generated logs, e.g. ARGS="--events 100000 1000000"
bench-mining: setup
	$(PY) -m bench.mining $(ARGS)

# The dbt SQL layers built on Spark (local pyspark; needs Java 17+) and compared row by row with
# the DuckDB build, in its own venv with dbt-spark and pyspark (requirements-spark.txt).
$(SPARK_STAMP): requirements.txt requirements-spark.txt constraints.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet -r requirements.txt -r requirements-spark.txt -c constraints.txt
	$(SPARK_VENV)/bin/python -c "$(REPO_PTH)"
	touch $(SPARK_STAMP)

spark-check: $(SPARK_STAMP)
	$(SPARK_VENV)/bin/python -m l2c.spark_check $(ARGS)

# The dbt docs site of the warehouse (run `make demo` first): lineage graph from the raw
# sources to the marts, metrics and exposures, every model's and column's description, and the
# catalog's types. One self-contained file: target/static_index.html (or `dbt docs serve`).
docs: setup
	L2C_DUCKDB_PATH=$(or $(DUCKDB),warehouse/lead2cash.duckdb) $(VENV)/bin/dbt docs generate --static --profiles-dir profiles
	@echo "dbt docs: $(CURDIR)/target/static_index.html"

clean:
	rm -rf warehouse target logs .pytest_cache .ruff_cache
