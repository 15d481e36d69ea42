"""Shared test set-up.

Airflow reads ``AIRFLOW_HOME`` when it is first imported (and creates ``~/airflow`` without it), so
both variables are set here, at import time, before any test module imports Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parent.parent

if not os.environ.get("AIRFLOW_HOME"):
    os.environ["AIRFLOW_HOME"] = str(_REPO_ROOT / "build" / "airflow-home")
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(autouse=True)
def _fresh_async_connection_settings() -> Iterator[None]:
    """Triggers cache connection settings per id for a minute; each test sets its own connection."""
    from airflow_provider_kling.hooks.async_client import forget_settings

    forget_settings()
    yield
    forget_settings()
