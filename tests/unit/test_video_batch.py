"""Video items in the batch operator: one slot per video task (Kling's concurrency rule), each item
created once, its units in the summary."""

from __future__ import annotations

import pytest
from airflow.sdk import DAG

from airflow_provider_kling.batch.items import slots_of
from airflow_provider_kling.models.requests import (
    ImageToVideoRequest,
    OmniVideoRequest,
    TextToVideoRequest,
    VideoExtendRequest,
)
from airflow_provider_kling.operators.batch import KlingBatchOperator
from tests.unit.task_context import RecordingTaskInstance, make_context


@pytest.mark.parametrize(
    "request_",
    [
        TextToVideoRequest.build(prompt="p", model_name="kling-v3", duration=15),
        ImageToVideoRequest.build(image="https://example.com/a.png", duration=10),
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
