"""A batch task killed mid-run (SIGKILL of the process running it) and run again pays once per item."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN_BATCH = """
import sys
from airflow.sdk import DAG
from airflow_provider_kling.operators.batch import KlingBatchOperator
from tests.unit.task_context import RecordingTaskInstance, make_context

with DAG("kling_batch_kill", schedule=None):
    operator = KlingBatchOperator(
        task_id="batch",
        requests=[{"prompt": f"prompt {i}", "n": 1 + i % 2} for i in range(8)],
        slots=3,
        poll_interval=0.05,
        output_path=sys.argv[1],
    )
ti = RecordingTaskInstance(dag_id="kling_batch_kill", task_id="batch")
print(operator.execute(make_context(ti))["counts"])
"""

REPO = Path(__file__).resolve().parents[2]


def start_batch(output: Path, conn: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AIRFLOW_CONN_KLING_DEFAULT": conn, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", RUN_BATCH, str(output)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_batch_killed_mid_run_and_run_again_creates_each_item_once_and_stores_each_image_once(
    kling_connection, tmp_path
):
    kling_connection.set_progress("manual")  # no item ends before the kill, however slow the machine
    kling_connection.set_slots(3)
    conn = kling_connection.airflow_conn_json()
    key = kling_connection.api_key

    first = start_batch(tmp_path, conn)
    deadline = time.monotonic() + 60
    # Items 0 and 1 (one image and two) fill the three slots; none ends, the rest wait for slots.
    while kling_connection.counters(key)["creates"] < 2:
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline, "the batch never created its first items"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    created_before_kill = kling_connection.counters(key)["creates"]
    assert created_before_kill == 2
    kling_connection.advance(to="succeed")  # the first items end while no worker watches
    kling_connection.set_progress("timed")

    second = start_batch(tmp_path, conn)
    output, _ = second.communicate(timeout=120)

    assert second.returncode == 0, output
    assert "{'succeeded': 8}" in output
    tasks = kling_connection.tasks(key)
    external_ids = [t["task_info"]["external_task_id"] for t in tasks]
    assert kling_connection.counters(key)["creates"] == 8
    assert len(tasks) == 8 and len(set(external_ids)) == 8
    images = sorted(p.name for p in tmp_path.rglob("*.png"))
    expected = sorted(f"batch_{i}_{j}.png" for i in range(8) for j in range(1 + i % 2))
    assert images == expected
    assert not list(tmp_path.rglob("*.part"))
