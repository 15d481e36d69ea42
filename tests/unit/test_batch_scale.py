"""A batch at scale (issue 35): items streamed from a file, nothing per item in the trigger's
arguments, its event or the task log, the contact sheet capped, and a resume that pages the
account's task list (``POST /tasks``) instead of asking for each item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.batch import manifest as batch_manifest
from tests.unit.task_context import run_trigger
from tests.unit.test_batch_kill import start_batch
from tests.unit.test_batch_operator import context, make_batch, manifest, stored_images


def write_jsonl(path: Path, count: int) -> ObjectStoragePath:
    path.write_text(
        "".join(
            json.dumps({"prompt": f"a catalogue item {i}", "key": f"sku-{i}"}) + "\n" for i in range(count)
        )
    )
    return ObjectStoragePath(f"file://{path}")


def test_a_deferred_batch_streams_its_file_and_hands_the_trigger_a_reference_not_its_items(
    kling_connection, tmp_path, monkeypatch
):
    kling_connection.set_latency(0.2)
    kling_connection.set_slots(4)
    monkeypatch.setattr(batch_manifest, "CONTACT_SHEET_CARDS", 3)
    requests = write_jsonl(tmp_path / "catalogue.jsonl", 12)
    operator = make_batch(tmp_path / "out", requests=requests, slots=4, deferrable=True)
    ctx = context()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    _, arguments = deferred.value.trigger.serialize()
    assert isinstance(arguments["items"], str) and arguments["items"].endswith("_items.jsonl")
    assert "catalogue item" not in json.dumps(arguments)  # a reference to the staged file, not the items
    event = run_trigger(deferred.value.trigger)
    assert isinstance(event["items"], str) and "catalogue item" not in json.dumps(event)
    summary = operator.execute_complete(ctx, event)

    assert summary["counts"] == {"succeeded": 12}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 12
    assert len(stored_images(tmp_path / "out")) == 12
    rows = manifest(summary)["items"]
    assert [row["key"] for row in rows] == [f"sku-{i}" for i in range(12)]
    assert manifest(summary)["counts"] == {"succeeded": 12}
    sheet = Path(summary["contact_sheet"].removeprefix("file://")).read_text()
    assert sheet.count("<figure") == 3 and "The first 3 of 12 items" in sheet and "_manifest.json" in sheet
    assert len(json.dumps(ctx["ti"].xcom)) < 2000


def test_the_task_log_has_progress_lines_not_a_line_per_item(kling_connection, tmp_path, caplog):
    kling_connection.set_latency(0.1)
    kling_connection.set_slots(10)
    requests = write_jsonl(tmp_path / "catalogue.jsonl", 30)
    with caplog.at_level("INFO"):
        summary = make_batch(tmp_path / "out", requests=requests, slots=10, progress_interval=60).execute(
            context()
        )

    assert summary["counts"] == {"succeeded": 30}
    lines = [record.getMessage() for record in caplog.records if record.levelname == "INFO"]
    assert not [line for line in lines if "sku-" in line or "Created Kling task" in line or "Stored " in line]


def test_a_resume_pages_the_account_task_list_and_creates_nothing_twice(kling_connection, tmp_path):
    """Killed after its first creates; 1,200 tasks of other pipelines arrive meanwhile: the next try
    finds its tasks in 3 pages of ``POST /tasks`` (500 a page), not one request per item."""
    kling_connection.set_progress("manual")
    kling_connection.set_slots(3)
    key = kling_connection.api_key
    first = start_batch(tmp_path, kling_connection.airflow_conn_json())
    while kling_connection.counters(key)["creates"] < 2:
        assert first.poll() is None, first.communicate()[0]
    first.kill()
    first.wait(30)
    kling_connection.advance(to="succeed")
    kling_connection.set_progress("timed")
    kling_connection.seed_tasks(1200)  # newer than the batch's: the first pages of any listing
    before = kling_connection.counters(key)

    output, _ = start_batch(tmp_path, kling_connection.airflow_conn_json()).communicate(timeout=120)

    after = kling_connection.counters(key)
    assert "{'succeeded': 8}" in output, output
    assert after["creates"] == 8
    assert "2 found in 3 requests" in output
    assert after["lists"] == before["lists"]  # no list rounds: POST /tasks pages
