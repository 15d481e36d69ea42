"""The receiver's recorder on a real Airflow database: one event per (connection, Kling task, status),
whatever the webhook id, the asset, the time between deliveries or the concurrency; none for an
undeclared asset.

Runs in a subprocess with its own migrated AIRFLOW_HOME (SQLite), as the api-server would: the
asset is made active as a DAG declaring it would make it, then callbacks are recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AIRFLOW = str(Path(sys.executable).parent / "airflow")

SCRIPT = r"""
import json
import threading
from datetime import timedelta
from sqlalchemy import select
from airflow.models.asset import AssetActive, AssetEvent, AssetModel
from airflow.utils.session import create_session
from airflow_provider_kling.callbacks.recorder import AirflowAssetEvents

URI = "kling://kling_default/tasks"
OTHER = "kling://kling_default/pipe1"
with create_session() as session:
    for uri in (URI, OTHER):
        asset = AssetModel(name=uri, uri=uri)
        session.add(asset)
        session.flush()
        session.add(AssetActive.for_asset(asset))

def extra(webhook_id, task_id="1", status="succeed"):
    return {
        "kling_task_id": task_id, "status": status, "webhook_id": webhook_id, "image_urls": ["u"],
        "conn_id": "kling_default",
    }

recorder = AirflowAssetEvents()
outcomes = [
    recorder.record(URI, extra("m1")).value,
    recorder.record(URI, extra("m1")).value,              # the same webhook (another worker's replay)
    recorder.record(URI, extra("m2")).value,              # the same task and status, a new webhook id
    recorder.record(URI, extra("m3", task_id="2")).value,
    recorder.record("kling://kling_default/undeclared", extra("m4", task_id="3")).value,
    recorder.record(OTHER, extra("m1")).value,              # a replay onto another asset
    recorder.record(URI, extra("m5", status="failed")).value,  # another terminal status: its own event
]
with create_session() as session:  # 11 minutes later, the same task again
    for event in session.scalars(select(AssetEvent)):
        event.timestamp -= timedelta(minutes=11)
outcomes.append(recorder.record(URI, extra("m6")).value)
with create_session() as session:  # pipe1 deleted while the recorder still has it read
    session.delete(session.scalars(select(AssetModel).where(AssetModel.uri == OTHER)).one())
outcomes.append(recorder.record(OTHER, extra("m7", task_id="4")).value)
outcomes.append(recorder.record(URI, extra("m8", task_id="4")).value)  # its key was not kept

# The same task body under 20 new webhook ids at once, each its own recorder (an api-server worker).
concurrent, start = [], threading.Barrier(20)
def deliver(n):
    start.wait()
    try:
        concurrent.append(AirflowAssetEvents().record(URI, extra(f"c{n}", task_id="9")).value)
    except Exception as exc:  # SQLite: "database is locked" (the receiver answers 500, Kling retries)
        concurrent.append(type(exc).__name__)
threads = [threading.Thread(target=deliver, args=(n,)) for n in range(20)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with create_session() as session:
    events = [event.extra for event in session.scalars(select(AssetEvent).order_by(AssetEvent.id))]
print(json.dumps({"outcomes": outcomes, "events": events, "concurrent": concurrent}))
"""


def test_callbacks_become_one_asset_event_each_on_a_declared_asset(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
        PYTHONWARNINGS="ignore",
    )
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=240)

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcomes"] == [
        "recorded",  # m1
        "duplicate",  # m1 again (another worker's replay)
        "duplicate",  # the same task and status under a new webhook id
        "recorded",  # another task
        "no_asset",
        "duplicate",  # m1 replayed onto another asset of the connection
        "recorded",  # the same task, failed
        "duplicate",  # the same task and status 11 minutes later
        "no_asset",  # an asset deleted since the recorder read it
        "recorded",  # the same task on a declared asset: the refused one left no key
    ]
    assert [(event["kling_task_id"], event["status"]) for event in result["events"]] == [
        ("1", "succeed"),
        ("2", "succeed"),
        ("1", "failed"),
        ("4", "succeed"),
        ("9", "succeed"),
    ]
    assert result["events"][0]["webhook_id"] == "m1"
    assert result["concurrent"].count("recorded") == 1, result["concurrent"]
