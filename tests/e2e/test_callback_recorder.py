"""The receiver's recorder on a real Airflow database: one event per callback, none for an undeclared asset.

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
from sqlalchemy import select
from airflow.models.asset import AssetActive, AssetEvent, AssetModel
from airflow.utils.session import create_session
from airflow_provider_kling.callbacks.recorder import AirflowAssetEvents

URI = "kling://kling_default/tasks"
with create_session() as session:
    asset = AssetModel(name=URI, uri=URI)
    session.add(asset)
    session.flush()
    session.add(AssetActive.for_asset(asset))

def extra(webhook_id, task_id="1", status="succeed"):
    return {"kling_task_id": task_id, "status": status, "webhook_id": webhook_id, "image_urls": ["u"]}

recorder = AirflowAssetEvents()
outcomes = [
    recorder.record(URI, extra("m1")).value,
    recorder.record(URI, extra("m1")).value,              # the same webhook (another worker's replay)
    recorder.record(URI, extra("m2")).value,              # the same task and status, a new webhook id
    recorder.record(URI, extra("m3", task_id="2")).value,
    recorder.record("kling://kling_default/undeclared", extra("m4", task_id="3")).value,
]
with create_session() as session:
    events = [event.extra for event in session.scalars(select(AssetEvent).order_by(AssetEvent.id))]
print(json.dumps({"outcomes": outcomes, "events": events}))
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
    assert result["outcomes"] == ["recorded", "duplicate", "duplicate", "recorded", "no_asset"]
    assert [event["kling_task_id"] for event in result["events"]] == ["1", "2"]
    assert result["events"][0]["webhook_id"] == "m1"
