"""The new-style video operators on the one operator base, against the simulator: the create at the
model's path, waiting on the worker and deferred (the trigger reads the task through /tasks), resume
without a second create, and the XCom result with its videos."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_kling.operators.new_style import (
    KlingNewStyleImageToVideoOperator,
    KlingNewStyleOmniVideoOperator,
    KlingNewStyleTextToVideoOperator,
)
from tests.unit.task_context import (
    DictTaskStateStore,
    RecordingTaskInstance,
    first_trigger_event,
    make_context,
)

FRAME = "https://example.com/first.png"


def make(operator_class: type, **kwargs: Any) -> Any:
    kwargs.setdefault("task_id", "video")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_new_style_dag", schedule=None):
        return operator_class(**kwargs)


@pytest.mark.parametrize(
    ("operator_class", "kwargs", "path"),
    [
        (KlingNewStyleTextToVideoOperator, {"prompt": "a fox in snow", "duration": 5}, "new-text-to-video"),
        (
            KlingNewStyleImageToVideoOperator,
            {"first_frame": FRAME, "model_name": "kling-2.6"},
            "new-image-to-video",
        ),
        (
            KlingNewStyleOmniVideoOperator,
            {"prompt": "<<<image_1>>> waves", "reference_images": [FRAME]},
            "new-omni-video",
        ),
    ],
)
def test_each_operator_creates_at_its_models_path_and_returns_the_video(
    kling_connection, operator_class, kwargs, path
):
    kling_connection.set_progress("immediate")
    operator = make(operator_class, **kwargs)

    result = operator.execute(make_context())

    assert result["task_status"] == "succeed"
    (video,) = result["videos"]
    assert video["url"].endswith(".mp4") and video["duration"] == "5"
    assert result["request_kind"] == path and float(result["final_unit_deduction"]) > 0
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_retry_resumes_the_same_video_task_without_a_second_create(kling_connection):
    kling_connection.set_progress("immediate")
    ti, store = RecordingTaskInstance(), DictTaskStateStore()
    first = make(KlingNewStyleTextToVideoOperator, prompt="a kite").execute(
        make_context(ti, task_state_store=store)
    )
    second = make(KlingNewStyleTextToVideoOperator, prompt="a kite").execute(
        make_context(ti, task_state_store=store)
    )

    assert first["task_id"] == second["task_id"]
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_deferred_video_is_read_through_tasks_by_the_trigger(kling_connection):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.3)
    operator = make(KlingNewStyleTextToVideoOperator, prompt="a lighthouse", deferrable=True)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    kling_connection.reset_counters()

    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload)

    assert result["task_status"] == "succeed" and result["videos"]
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["tasks"] >= 1 and counters["queries"] == 0


def test_a_bad_setting_fails_before_any_call_naming_the_rule(kling_connection):
    from airflow.providers.common.compat.sdk import AirflowFailException

    operator = make(KlingNewStyleTextToVideoOperator, prompt="a fox", model_name="kling-2.6", duration=7)
    with pytest.raises(AirflowFailException, match=r"duration: kling-2\.6 makes 5 s or 10 s"):
        operator.execute(make_context())
    assert kling_connection.counters() == {}
