"""One video operator per kind, the model choosing the API style, against the simulator: a model-path
model's create at its model's path, waiting on the worker and deferred (the trigger reads the task
through /tasks), resume without a second create, the XCom result with its videos, and a batch of a
model-path model (bug 1: the request model's defaults, not the operator's)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_kling.batch.items import build_items
from airflow_provider_kling.hooks.wire import wire_for
from airflow_provider_kling.models.requests import REQUEST_KINDS, kind_defaults
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.video import (
    KlingImageToVideoOperator,
    KlingOmniVideoOperator,
    KlingTextToVideoOperator,
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
        (
            KlingTextToVideoOperator,
            {"prompt": "a fox in snow", "duration": 5, "model_name": "kling-3.0"},
            "/text-to-video/kling-3.0",
        ),
        (
            KlingImageToVideoOperator,
            {"first_frame": FRAME, "model_name": "kling-2.6"},
            "/image-to-video/kling-2.6",
        ),
        (
            KlingOmniVideoOperator,
            {"prompt": "<<<image_1>>> waves", "reference_images": [FRAME], "model_name": "kling-3.0-omni"},
            "/omni-video/kling-3.0-omni",
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
    assert result["api_style"] == "model-path" and float(result["final_unit_deduction"]) > 0
    request = operator.build_request(make_context())
    assert wire_for(request.api_style).create_path(request) == path
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_retry_resumes_the_same_video_task_without_a_second_create(kling_connection):
    kling_connection.set_progress("immediate")
    ti, store = RecordingTaskInstance(), DictTaskStateStore()
    first = make(KlingTextToVideoOperator, model_name="kling-3.0", prompt="a kite").execute(
        make_context(ti, task_state_store=store)
    )
    second = make(KlingTextToVideoOperator, model_name="kling-3.0", prompt="a kite").execute(
        make_context(ti, task_state_store=store)
    )

    assert first["task_id"] == second["task_id"]
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_deferred_video_is_read_through_tasks_by_the_trigger(kling_connection):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.3)
    operator = make(KlingTextToVideoOperator, model_name="kling-3.0", prompt="a lighthouse", deferrable=True)
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

    operator = make(KlingTextToVideoOperator, prompt="a fox", model_name="kling-2.6", duration=7)
    with pytest.raises(
        AirflowFailException, match=r"duration: kling-2\.6 makes videos of 5 or 10 seconds \(got 7\)"
    ):
        operator.execute(make_context())
    assert kling_connection.counters() == {}


def test_a_model_refuses_a_field_its_style_does_not_take_naming_model_and_field(kling_connection):
    from airflow.providers.common.compat.sdk import AirflowFailException

    operator = make(KlingTextToVideoOperator, prompt="a fox", model_name="kling-3.0", cfg_scale=0.5)
    with pytest.raises(
        AirflowFailException, match=r"cfg_scale: kling-3\.0 \(model-path API\) takes no cfg_scale"
    ):
        operator.execute(make_context())
    assert kling_connection.counters() == {}


def test_every_kind_builds_from_its_required_fields_alone_with_its_models_defaults():
    # Bug 1: a batch item got only the defaults of a kind's *direct* operator subclass, so every
    # video kind (and the model-path ones) failed "model_name: Field required". The request model
    # holds its defaults now; nobody restates them.
    minimal = {
        "generations": {"prompt": "a fox"},
        "omni-image": {"prompt": "a fox"},
        "multi-image2image": {"subject_image_list": [FRAME]},
        "expand": {"image": FRAME, "up_expansion_ratio": 0.5},
        "virtual-try-on": {"human_image": FRAME, "cloth_image": FRAME},
        "text2video": {"prompt": "a fox"},
        "image2video": {"first_frame": FRAME},
        "omni-video": {"prompt": "a fox", "aspect_ratio": "1:1"},
        "video-extend": {"video_id": "v1"},
        "multi-image2video": {"image_list": [FRAME], "prompt": "a fox"},
        "video-effects": {"effect_scene": "bloombloom", "image": FRAME},
        "text-to-audio": {"prompt": "rain", "duration": 3},
        "video-to-audio": {"video_id": "v1"},
        "motion-control": {
            "image": FRAME,
            "video": "https://example.com/a.mp4",
            "character_orientation": "image",
        },
        "avatar": {"image": FRAME, "sound_file": "https://example.com/a.mp3"},
        "lip-sync": {
            "session_id": "s",
            "face_id": "0",
            "audio_id": "a",
            "sound_end_time": 2000,
            "sound_insert_time": 0,
        },
        "text-to-speech": {"text": "hi", "voice_id": "oversea_male1"},
        "subject-completion": {"element_frontal_image": FRAME},
    }
    assert set(minimal) == set(REQUEST_KINDS)
    for kind, fields in minimal.items():
        (item,) = build_items([fields], {}, slots=1, request_kind=kind)
        for name, default in kind_defaults(kind).items():
            assert getattr(item.request, name) == fields.get(name, default)


def test_a_batch_of_a_model_path_model_runs_without_restating_any_default(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    with DAG("kling_model_path_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="text2video",
            model_name="kling-3.0",
            requests=["a fox", "a kite"],
            slots=2,
            poll_interval=0.02,
            timeout=30,
            output_path=str(tmp_path),
        )

    summary = batch.execute(
        make_context(RecordingTaskInstance(dag_id="kling_model_path_batch", task_id="batch"))
    )

    assert summary["counts"] == {"succeeded": 2}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 2
