# Lead-to-Cash warehouse. Two commands matter:
#   make demo   build the demo warehouse end to end and print a summary
#   make test   lint everything and run every test
# Both create the virtual environment (.venv) themselves on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
DEALS  ?= 3000
SEED   ?= 42

.PHONY: setup demo refresh test lint sqlfluff pytest bench bench-mining clean

setup: $(STAMP)

# requirements-dev.txt holds the test-only oracle (pm4py, AGPL): installed into the same venv
# for the tests and benchmarks, never imported by the warehouse code
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'l2c_repo.pth').write_text(str(pathlib.Path.cwd()) + '\n')"
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

pytest: setup
	$(VENV)/bin/pytest -q -n auto --dist loadfile --durations=15

test: lint sqlfluff pytest

bench: setup
	$(PY) -m bench.run $(ARGS)

# process mining vs pm4py on generated logs, e.g. ARGS="--events 100000 1000000"
bench-mining: setup
	$(PY) -m bench.mining $(ARGS)

clean:
	rm -rf warehouse target logs .pytest_cache .ruff_cache
