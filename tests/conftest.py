"""Shared test set-up.

Airflow reads ``AIRFLOW_HOME`` when it is first imported (and creates ``~/airflow`` without it), so
both variables are set here, at import time, before any test module imports Airflow.
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
