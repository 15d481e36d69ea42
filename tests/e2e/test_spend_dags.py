"""Spend in real Airflow: ``airflow dags test`` of a DAG whose account cannot pay for its batch
stops at the resource-pack check, before any Kling task is created; with enough units it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return home


@pytest.fixture
def airflow_env(airflow_home, kling_simulator, tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW_CONN_KLING_DEFAULT": kling_simulator.airflow_conn_json(),
        "KLING_TEST_OUTPUT": str(tmp_path / "images"),
        "KLING_TEST_POLL_INTERVAL": "0.2",
        "PYTHONWARNINGS": "ignore",
    }


def _dags_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, "dags", "test", "kling_spend_check", "2026-11-25"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_dag_whose_account_lacks_the_units_for_its_batch_stops_before_creating_anything(
    kling_simulator, airflow_env
) -> None:
    kling_simulator.set_resource_packs([{"total_quantity": 100, "remaining_quantity": 10}])  # 12 needed

    run = _dags_test(airflow_env)

    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "has 10 units left in the online resource packs, and this run needs 12" in output
    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 0
    assert kling_simulator.resource_packs()[0]["remaining_quantity"] == 10
    assert kling_simulator.api_key not in output


def test_the_same_dag_with_enough_units_generates_and_logs_what_each_task_deducted(
    kling_simulator, airflow_env
) -> None:
    kling_simulator.set_resource_packs([{"total_quantity": 12}])
    kling_simulator.set_latency(0.2)

    run = _dags_test(airflow_env)

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 3
    assert output.count("deducted 4 units") == 3, output[-3000:]
    pack = kling_simulator.resource_packs()[0]
    assert (pack["remaining_quantity"], pack["status"]) == (0.0, "runOut")
    assert json.dumps(kling_simulator.api_key) not in output
