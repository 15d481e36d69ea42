"""Shared test set-up.

Airflow reads ``AIRFLOW_HOME`` when it is first imported (and creates ``~/airflow`` without it), so
both variables are set here, at import time, before any test module imports Airflow.

Under pytest-xdist (``make test`` runs ``-n``) each worker gets its own ``AIRFLOW_HOME`` (its config
file and SQLite database), the simulator fixture its own free port, and ``tmp_path`` is per worker
already. A module-scoped fixture that a module's tests share (a running ``airflow
standalone``, a DAG run, the provider CLI's answers) is built once: its module's tests are one
``xdist_group`` and run on one worker (``--dist loadgroup``).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path

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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the unit tests that share a module-scoped fixture of their own module on one xdist worker.

    There such a fixture is a server or a subprocess that the module's short tests share: spread over
    workers, each would start it again. An end-to-end module's tests are long (each runs Airflow), so
    they spread, each worker migrating its own database; a module whose tests read one shared run
    (``airflow standalone``, a DAG run) says so itself with ``pytestmark = pytest.mark.xdist_group``.
    """
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if not module.startswith("tests/unit/"):
            continue
        for definitions in item._fixtureinfo.name2fixturedefs.values():
            if any(d.scope == "module" and d.baseid.split("::", 1)[0] == module for d in definitions):
                item.add_marker(pytest.mark.xdist_group(module))
                break
