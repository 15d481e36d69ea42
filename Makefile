# make test: create .venv when missing, install -e .[dev], run ruff, mypy and pytest.
# make demo: run the scheduled batch example DAG end to end against the built-in simulator.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BUILD := build
export AIRFLOW_HOME ?= $(CURDIR)/$(BUILD)/airflow-home
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PYTHONWARNINGS ?= ignore

.PHONY: install test lint typecheck unit demo bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest exits 5 when it collects nothing: that is a failure here, said out loud.
unit: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	@$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: lint typecheck unit

# A throwaway Airflow in build/demo/airflow-home, the simulator on a free loopback port (or Kling
# itself with KLING_API_KEY set), one run of kling_scheduled_batch; images under build/demo/images.
# DEMO_DATE=YYYY-MM-DD picks the run's date (default: today, UTC).
demo: $(STAMP)
	$(PY) scripts/demo.py $(DEMO_DATE)

bench: $(STAMP)
	$(PY) benchmarks/import_time.py

clean:
	rm -rf $(BUILD) $(VENV)
