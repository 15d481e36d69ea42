"""Video items in the batch operator: one slot per video task (Kling's concurrency rule), each item
created once, its units in the summary; each item's videos (and watermarked copies) stored as the
single video operators store them, in the manifest, on the contact sheet and in the asset event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.batch.items import slots_of
from airflow_provider_kling.models.requests import (
    ImageToVideoRequest,
    OmniVideoRequest,
    TextToVideoRequest,
    VideoExtendRequest,
)
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.storage import safe_name
from airflow_provider_kling.testing import mp4
from tests.unit.task_context import RecordingTaskInstance, make_context, run_trigger


@pytest.mark.parametrize(
    "request_",
    [
        TextToVideoRequest.build(prompt="p", model_name="kling-v3", duration=15),
        ImageToVideoRequest.build(first_frame="https://example.com/a.png", duration=10),
        OmniVideoRequest.build(prompt="p", aspect_ratio="1:1"),
        VideoExtendRequest.build(video_id="v1"),
    ],
    ids=lambda request: request.kind,
)
def test_a_video_task_holds_one_slot_at_any_length(request_):
    assert slots_of(request_) == 1


def test_a_batch_of_video_items_fills_the_slots_one_per_task_and_creates_each_once(
    kling_connection, tmp_path
):
    kling_connection.set_slots(2)
    kling_connection.set_latency(0.2)
    with DAG("kling_video_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="text2video",
            requests=[{"prompt": f"product {i}", "duration": 10} for i in range(4)],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(make_context(RecordingTaskInstance(dag_id="kling_video_batch", task_id="batch")))

    assert summary["counts"] == {"succeeded": 4}
    assert summary["rate_limited"] == 0
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 4
    assert summary["units"] == pytest.approx(4 * 3.0)  # kling-v2-6 std, 10 s at the stand-in 0.3/s


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def video_batch(tmp_path: Path, **kwargs: Any) -> KlingBatchOperator:
    kwargs.setdefault("requests", [{"prompt": "a linen shirt", "duration": 10}, {"prompt": "a wool coat"}])
    with DAG("kling_video_batch", schedule=None):
        return KlingBatchOperator(
            task_id="batch",
            request_kind="text2video",
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
            **kwargs,
        )


def test_a_video_batch_stores_each_items_videos_and_lists_them_in_manifest_sheet_and_asset_event(
    kling_connection, tmp_path
):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    kling_connection.set_progress("immediate")
    batch = video_batch(
        tmp_path,
        requests=[
            {"prompt": "a linen shirt", "duration": 10, "watermark_info": {"enabled": True}},
            {"prompt": "a wool coat"},
        ],
    )
    (outlet,) = batch.outlets
    events = OutletEventAccessors()
    ti = RecordingTaskInstance(dag_id="kling_video_batch", task_id="batch")

    summary = batch.execute(make_context(ti, outlet_events=events))

    folder = local(summary["manifest"]).parent
    names = sorted(path.name for path in folder.iterdir())
    assert [name for name in names if name.endswith(".mp4")] == [
        "batch_0_0.mp4",
        "batch_0_0_watermarked.mp4",
        "batch_1_0.mp4",
    ]
    for name in ("batch_0_0.mp4", "batch_0_0_watermarked.mp4", "batch_1_0.mp4"):
        boxes = [kind for kind, _, _ in mp4.read_boxes((folder / name).read_bytes())]
        assert boxes == [b"ftyp", b"moov", b"mdat"]
    assert summary["videos_stored"] == 3 and summary["images_stored"] == 0
    assert summary["units"] == pytest.approx(3.0 + 1.5)  # kling-v2-6 std at the stand-in 0.3/s

    manifest = json.loads(local(summary["manifest"]).read_text())
    first, second = manifest["items"]
    assert (first["media"], second["media"]) == ("video", "video")
    (video,) = first["videos"]
    assert video["duration"] == "10" and video["id"]
    assert local(video["path"]).name == "batch_0_0.mp4"
    assert local(video["watermark_path"]).name == "batch_0_0_watermarked.mp4"
    assert [local(path).name for path in first["files"]] == ["batch_0_0.mp4", "batch_0_0_watermarked.mp4"]
    assert float(first["units"]) == pytest.approx(3.0) and float(second["units"]) == pytest.approx(1.5)
    assert first["priced_as"]["quantity"] == 10 and second["videos"][0]["duration"] == "5"

    sheet = local(summary["contact_sheet"]).read_text()
    assert sheet.count("<video controls") == 3 and "<img" not in sheet
    assert '<video controls preload="metadata" src="batch_0_0.mp4"' in sheet

    extra = events[outlet].extra
    assert extra["video_count"] == 2 and extra["image_count"] == 0
    assert extra["units"] == summary["units"]
    # the videos themselves, as a single video operator's event lists them
    assert sorted(local(path).name for path in extra["paths"]) == ["batch_0_0.mp4", "batch_1_0.mp4"]


def test_a_retried_video_batch_keeps_the_stored_videos_and_stores_only_the_missing_one(
    kling_connection, tmp_path
):
    kling_connection.set_progress("immediate")
    kling_connection.image_fault("not_image", k=1)  # the first download is no video: not stored
    ti = RecordingTaskInstance(dag_id="kling_video_batch", task_id="batch")

    with pytest.raises(Exception, match="could not all be stored"):
        video_batch(tmp_path).execute(make_context(ti))
    folder = tmp_path / "kling_video_batch" / safe_name(ti.run_id)
    kept = {path.name: path.stat().st_mtime_ns for path in folder.glob("*.mp4")}
    assert len(kept) == 1 and not list(folder.glob("*.part"))

    summary = video_batch(tmp_path).execute(make_context(ti))

    assert summary["videos_stored"] == 2 and summary["storage_errors"] == []
    assert {name: (folder / name).stat().st_mtime_ns for name in kept} == kept  # not downloaded again
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 2
    assert kling_connection.counters(kling_connection.api_key)["videos"] == 3


MIXED_ROUTES = [
    {"key": "v1", "prompt": "a linen shirt", "model_name": "kling-v2-6"},
    {"key": "path", "prompt": "a wool coat", "model_name": "kling-3.0"},
    {"key": "v1-b", "prompt": "a silk scarf", "model_name": "kling-v2-6"},
]


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_a_batch_mixing_v1_and_model_path_models_polls_each_item_at_its_own_route(
    kling_connection, tmp_path, deferrable
):
    batch = video_batch(tmp_path, requests=MIXED_ROUTES, deferrable=deferrable)
    ctx = make_context(RecordingTaskInstance(dag_id="kling_video_batch", task_id="batch"))

    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            batch.execute(ctx)
        summary = batch.execute_complete(ctx, run_trigger(deferred.value.trigger))
    else:
        summary = batch.execute(ctx)

    assert summary["counts"] == {"succeeded": 3}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 3
    # A retry finds every item at its own route's task list: nothing is created again.
    again = video_batch(tmp_path, requests=MIXED_ROUTES).execute(ctx)
    assert again["counts"] == {"succeeded": 3}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 3
