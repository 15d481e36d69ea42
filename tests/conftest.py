"""Shared test set-up.

Airflow reads ``AIRFLOW_HOME`` when it is first imported (and creates ``~/airflow`` without it), so
both variables are set here, at import time, before any test module imports Airflow.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent

if not os.environ.get("AIRFLOW_HOME"):
    os.environ["AIRFLOW_HOME"] = str(_REPO_ROOT / "build" / "airflow-home")
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
