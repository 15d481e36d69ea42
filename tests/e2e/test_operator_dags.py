"""The operator in real Airflow: ``airflow dags test`` against the simulator, both wait modes, and a
worker killed with SIGKILL mid-wait that resumes the same Kling task when the task runs again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_kling.testing import KlingSimulator

DAGS = Path(__file__).resolve().parent.parent / "dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XCOM_KEYS = {"task_id", "task_status", "external_task_id", "model_name", "created_at", "updated_at", "images"}


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


def polled(simulator: KlingSimulator) -> bool:
    """The simulator has a task that was created, and asked about since."""
    counters = simulator.counters(simulator.api_key)
    return counters["creates"] >= 1 and counters["queries"] + counters["lists"] >= 1


def test_dags_test_runs_operator_on_worker_and_deferred(kling_simulator, airflow_env, tmp_path):
    kling_simulator.set_latency(1)
    run = subprocess.run(
        [AIRFLOW, "dags", "test", "kling_operator_modes", "2026-11-25"],
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = json.loads((tmp_path / "images" / "xcom.json").read_text())
    for name, expected_images in (("on_worker", 2), ("deferred", 1)):
        result = results[name]
        assert XCOM_KEYS <= set(result)
        assert result["task_status"] == "succeed"
        assert len(result["images"]) == expected_images
        for image in result["images"]:
            stored = Path(image["path"].removeprefix("file://"))
            assert stored.is_relative_to(tmp_path / "images" / "kling_operator_modes")
            assert stored.read_bytes().startswith(PNG_SIGNATURE)
    assert "running trigger in line" in run.stdout + run.stderr
    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 2
    assert kling_simulator.api_key not in run.stdout + run.stderr


def test_sigkill_mid_wait_then_rerun_resumes_the_same_kling_task(kling_simulator, airflow_env, tmp_path):
    kling_simulator.set_progress("manual")  # the task runs until the test ends it, however slow the machine
    first_log = tmp_path / "first.log"
    with first_log.open("w") as out:
        first = subprocess.Popen(
            [AIRFLOW, "dags", "test", "kling_resume_after_kill", "2026-11-25"],
            env=airflow_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        # mid-wait: the task has been created and polled
        while not polled(kling_simulator):
            assert first.poll() is None, first_log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the task never created and polled its Kling task"
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    created = kling_simulator.tasks(kling_simulator.api_key)
    assert len(created) == 1 and created[0]["task_status"] != "succeed"
    kling_simulator.advance(to="succeed")  # it ends while no worker watches
    run_id = re.search(r"(manual__\d{4}-\d\d-\d\dT[0-9:.+-]+)", first_log.read_text()).group(1)  # any 3.x log

    again = subprocess.run(
        [AIRFLOW, "tasks", "test", "kling_resume_after_kill", "generate", run_id],
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = again.stdout + again.stderr
    assert f"Resuming Kling task {created[0]['task_id']}" in output, output[-3000:]
    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 1
    stored = list((tmp_path / "images" / "kling_resume_after_kill").rglob("generate_0.png"))
    assert len(stored) == 1 and stored[0].read_bytes().startswith(PNG_SIGNATURE)
