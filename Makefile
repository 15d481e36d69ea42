# make test: create .venv when missing, install -e .[dev] with the committed constraints, run ruff, mypy and pytest.
# make demo: run the scheduled batch and product video example DAGs end to end against the built-in simulator.
# make lowest: the unit tests, the operator's DAG tests and the demo DAG on the lowest supported Airflow
#   line (3.1), in .venv-3.1;
#   make line AIRFLOW_LINE=3.2 does the same for another tested line;
#   make middle: on the line between (3.2), only the tests of what differs there (MIDDLE_TESTS).
# Skips are listed with their reason (the browser test skips without Chromium: apt-get install chromium).
# The tests run on PYTEST_WORKERS pytest-xdist workers (PYTEST_WORKERS=0: in this process) and print
# the 15 slowest; PYTEST_ARGS picks tests (default: all of tests/).
# make constraints: regenerate constraints/ from fresh venvs (after a dependency changes in pyproject.toml).
# make dist: build the sdist and wheel into dist/ and check what they contain.
# make docs: build the docs site (docs/) into build/docs/html, warnings as errors, every internal
#   reference checked; its tables are generated from the code at build time.
PYTHON ?= $(shell command -v python3.11 || echo python3)
# The Airflow release each tested line's constraints are made with (its latest patch; pinned, so that
# no other package's limits can silently pick an older one), the newest line (the default venv) and
# the lowest (make lowest).
TESTED_AIRFLOW := 3.3.2 3.2.2 3.1.8
AIRFLOW_LINE ?= 3.3
LOWEST_LINE := 3.1
VENV ?= .venv
CONSTRAINTS ?= constraints/airflow-$(AIRFLOW_LINE)-py3.11.txt
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
STAMP := $(VENV)/.installed-stamp
BUILD := build
export AIRFLOW_HOME ?= $(CURDIR)/$(BUILD)/airflow-home
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PYTHONWARNINGS ?= ignore

# Workers: more than the 2 cores of a small machine, since a test often waits on a subprocess or a
# server. --dist loadscope: a unit module's tests on one worker, end-to-end tests one by one (tests/conftest.py).
PYTEST_WORKERS ?= 4
PYTEST_OPTS := -q -p no:cacheprovider --durations=15 -rfEs \
	$(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadscope)

.PHONY: install test lint typecheck unit demo line lowest middle constraints constraints-one check-constraints dist docs bench clean

# Reinstalls whenever pyproject.toml or the constraints file changes.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (the constraints are for 3.11): set PYTHON"'
	$(PIP) --upgrade pip
	$(PIP) -c $(CONSTRAINTS) -e '.[dev]'
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
	@$(PY) -m pytest $(PYTEST_OPTS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: lint typecheck unit

# A throwaway Airflow in build/demo/airflow-home, the simulator on a free loopback port (or Kling
# itself with KLING_API_KEY set), one run each of kling_scheduled_batch, kling_scheduled_batch_operator
# and kling_product_video; images, videos and contact sheets under build/demo/images.
# DEMO_DATE=YYYY-MM-DD picks the run's date (default: today, UTC).
demo: $(STAMP)
	$(PY) scripts/demo.py $(DEMO_DATE)

# One Airflow line's latest patch from its own constraints file, in .venv-<line>: the unit tests
# (those that need a newer Airflow skip with a reason), the operator under `airflow dags test`
# (on the worker, deferred, and a worker killed mid-wait that resumes) and the demo DAG.
LINE_TESTS := tests/unit tests/e2e/test_operator_dags.py
line:
	$(MAKE) --no-print-directory VENV=.venv-$(AIRFLOW_LINE) AIRFLOW_LINE=$(AIRFLOW_LINE) \
		AIRFLOW_HOME=$(CURDIR)/$(BUILD)/airflow-home-$(AIRFLOW_LINE) PYTEST_ARGS="$(LINE_TESTS)" \
		unit demo check-constraints

lowest:
	$(MAKE) --no-print-directory AIRFLOW_LINE=$(LOWEST_LINE) line

# The line between the lowest and the newest (3.2) runs only what differs from line to line. The
# package has no branch on Airflow's version, and its unit tests pass on the lines either side, so
# they are not run again here. What does differ is Airflow itself and the packages its line pins
# (constraints/airflow-3.2-pins.txt): how Airflow reads the provider (its CLI and ProvidersManager,
# where 3.2 is the first line to read conn-fields), and how it runs the operator under `airflow dags
# test` (task runner, execution API, triggerer, a killed worker resumed); and that the venv is what
# the constraints pin.
MIDDLE_LINE := 3.2
MIDDLE_TESTS := tests/unit/test_provider_info.py tests/e2e/test_operator_dags.py
middle:
	$(MAKE) --no-print-directory VENV=.venv-$(MIDDLE_LINE) AIRFLOW_LINE=$(MIDDLE_LINE) \
		AIRFLOW_HOME=$(CURDIR)/$(BUILD)/airflow-home-$(MIDDLE_LINE) PYTEST_ARGS="$(MIDDLE_TESTS)" \
		unit check-constraints

# One fresh venv per tested line: the provider with its dev extra and that line's release in TESTED_AIRFLOW
# (and the line's pins, constraints/airflow-<line>-pins.txt, when Airflow needs some), frozen.
# Run it after changing a dependency, then `make test lowest` before committing.
constraints:
	@for version in $(TESTED_AIRFLOW); do \
		$(MAKE) --no-print-directory AIRFLOW_VERSION=$$version AIRFLOW_LINE=$${version%.*} constraints-one || exit 1; \
	done

# Fails when the venv holds a package, or a version, that the constraints file does not pin: a
# dependency changed without `make constraints` (or an old venv: `make clean`).
check-constraints: $(STAMP)
	@$(PY) -m pip freeze --exclude-editable | sort > $(VENV)/freeze.txt
	@grep -v '^#' $(CONSTRAINTS) | sort | comm -23 $(VENV)/freeze.txt - > $(VENV)/unpinned.txt; \
	if [ -s $(VENV)/unpinned.txt ]; then \
		echo "ERROR: $(VENV) has packages that $(CONSTRAINTS) does not pin; run \`make constraints\`:" >&2; \
		cat $(VENV)/unpinned.txt >&2; exit 1; \
	else echo "$(VENV) matches $(CONSTRAINTS)"; fi

FREEZE_VENV := $(BUILD)/constraints-venv
constraints-one:
	rm -rf $(FREEZE_VENV)
	$(PYTHON) -m venv $(FREEZE_VENV)
	$(FREEZE_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	@# The requirements as top-level ones: pip resolves them in seconds, where behind `-e .[dev]` it
	@# backtracks through boto3/aiobotocore releases for many minutes.
	$(FREEZE_VENV)/bin/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(FREEZE_VENV)/requirements.txt
	$(FREEZE_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(FREEZE_VENV)/requirements.txt \
		'apache-airflow==$(AIRFLOW_VERSION)' $(addprefix -c ,$(wildcard constraints/airflow-$(AIRFLOW_LINE)-pins.txt))
	$(FREEZE_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
	$(FREEZE_VENV)/bin/python -m pip check
	@mkdir -p constraints
	{ echo "# Airflow $(AIRFLOW_VERSION), Python 3.11: every package of a fresh venv with the provider and its dev extra."; \
	  echo "# Generated by \`make constraints\`; do not edit by hand."; \
	  $(FREEZE_VENV)/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(FREEZE_VENV)

# The sdist and wheel, then a check that both carry LICENSE and the metadata PyPI shows.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build -q . >/dev/null
	$(PY) .ci/check_dist.py dist

# -W --keep-going: every warning fails the build, all of them listed; nitpicky (docs/conf.py): every
# :ref: and :doc: must resolve. Nothing reaches the network (no intersphinx, no external link check).
docs: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	rm -rf $(BUILD)/docs
	$(PY) -m sphinx -W --keep-going -q -b html -d $(BUILD)/docs/doctrees docs $(BUILD)/docs/html
	@echo "docs: $(BUILD)/docs/html/index.html"

bench: $(STAMP)
	$(PY) benchmarks/import_time.py

clean:
	rm -rf $(BUILD) $(VENV) .venv-3.* dist
