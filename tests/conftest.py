"""Shared test set-up.

Airflow reads ``AIRFLOW_HOME`` when it is first imported (and creates ``~/airflow`` without it), so
both variables are set here, at import time, before any test module imports Airflow.

Under pytest-xdist (``make test`` runs ``-n``) each worker gets its own ``AIRFLOW_HOME`` (its config
file and SQLite database), the simulator fixture its own free port, and ``tmp_path`` is per worker
already. A unit module's tests run on one worker (``--dist loadscope``), so that its module
fixtures start once; end-to-end tests spread one by one, except where a module's tests read one shared
run (``SHARED_RUN_MODULES``: a running ``airflow standalone``, one DAG run).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

_REPO_ROOT = Path(__file__).resolve().parent.parent

if not os.environ.get("AIRFLOW_HOME"):
    os.environ["AIRFLOW_HOME"] = str(_REPO_ROOT / "build" / "airflow-home")
if os.environ.get("PYTEST_XDIST_WORKER"):  # gw0, gw1, ...: one home per worker, nothing shared
    os.environ["AIRFLOW_HOME"] = str(Path(os.environ["AIRFLOW_HOME"]) / os.environ["PYTEST_XDIST_WORKER"])
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

# The simulator's fixtures (kling_simulator, kling_connection) are opt-in: a project loads the plugin
# in its own conftest, as this one does (the provider registers no pytest11 entry point).
pytest_plugins = ("airflow_provider_kling.testing.pytest_plugin",)

# Tests import TaskDeferred from airflow.sdk.exceptions, where Airflow has it from 3.2 on. Airflow 3.1
# (the lowest supported line, `make lowest`) raises the same class from airflow.exceptions: name it
# there too, so that every test runs on 3.1 instead of failing to import.
if Version(importlib.metadata.version("apache-airflow")) < Version("3.2"):
    import airflow.exceptions
    import airflow.sdk.exceptions

    airflow.sdk.exceptions.TaskDeferred = airflow.exceptions.TaskDeferred  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fresh_async_connection_settings() -> Iterator[None]:
    """Triggers cache connection settings per id for a minute; each test sets its own connection."""
    from airflow_provider_kling.hooks.async_client import forget_settings

    forget_settings()
    yield
    forget_settings()


# End-to-end modules whose tests all read one shared run (a module fixture): run on one worker, so
# that it runs once. Every other end-to-end test is long (it runs Airflow) and goes to any worker.
SHARED_RUN_MODULES = (
    "tests/e2e/test_approval_dag.py",  # one `airflow standalone`
    "tests/e2e/test_endpoint_dags.py",  # one run of the product campaign DAG
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with end-to-end tests spread one by one (see :data:`SHARED_RUN_MODULES`).

    A unit module's tests stay together: its module fixtures (a server, the provider CLI's answers)
    start once, and they are short. pytest-xdist's own ``xdist_group`` mark needs ``--dist loadgroup``,
    which pytest 9.2 defeats (it renames no nodeid), so the grouping is decided here, by node id.
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesButLongTestsAlone(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if module.startswith("tests/e2e/") and module not in SHARED_RUN_MODULES:
                return nodeid
            return module

    return ModulesButLongTestsAlone(config, log)
