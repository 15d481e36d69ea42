"""``@task.kling_video`` against the simulator: a prompt makes text-to-video, an image image-to-video,
stored and returned like the operators; the request is carried through a deferral."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.decorators.video import _KlingVideoDecoratedOperator, kling_video_task
from airflow_provider_kling.testing import make_png
from tests.unit.task_context import first_trigger_event, make_context

PHOTO = make_png("a linen shirt", 0, 400, 400)


def decorated(function: Any, *call_args: Any, **decorator_kwargs: Any) -> _KlingVideoDecoratedOperator:
    decorator_kwargs.setdefault("poll_interval", 0.02)
    decorator_kwargs.setdefault("timeout", 30)
    with DAG("kling_video_decorator_test", schedule=None) as dag:
        task.kling_video(**decorator_kwargs)(function)(*call_args)
    (operator,) = dag.tasks
    assert isinstance(operator, _KlingVideoDecoratedOperator)
    return operator


def test_task_kling_video_is_registered_through_provider_info():
    assert task.kling_video is kling_video_task


def test_a_returned_prompt_makes_a_text_to_video_task_stored_as_mp4(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")

    def teaser(ds: str | None = None) -> str:
        return f"a linen shirt in the wind, {ds}"

    result = decorated(teaser, output_path=str(tmp_path), duration=10).execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"] == {
        "model_name": "kling-v2-6",
        "prompt": "a linen shirt in the wind, 2026-11-25",
        "duration": "10",
        "external_task_id": sent["request"]["external_task_id"],
    }
    assert result["request_kind"] == "text2video"
    assert Path(result["videos"][0]["path"].removeprefix("file://")).name == "teaser_0.mp4"


def test_a_returned_image_makes_an_image_to_video_task(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    stored = tmp_path / "shirt.png"
    stored.write_bytes(PHOTO)

    def product(path: str) -> dict[str, Any]:
        return {"first_frame": path, "prompt": "it turns slowly"}

    result = decorated(product, f"file://{stored}", duration=5).execute(make_context())

    (sent,) = kling_connection.tasks()
    assert base64.b64decode(sent["request"]["image"]) == PHOTO
    assert result["request_kind"] == "image2video" and result["videos"][0]["duration"] == "5"


def test_an_image_with_an_aspect_ratio_is_refused_as_image_to_video_has_none(kling_connection):
    def product() -> dict[str, Any]:
        return {"first_frame": "https://example.com/a.png", "aspect_ratio": "16:9"}

    with pytest.raises(AirflowFailException, match="image2video request: aspect_ratio: Extra inputs"):
        decorated(product).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_an_argument_neither_video_endpoint_has_is_refused_at_parse_time():
    with pytest.raises(TypeError, match="image_fidelity"):
        decorated(lambda: "p", image_fidelity=0.5)


def test_deferred_the_function_runs_once_and_its_request_is_resumed(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    calls: list[str] = []

    def teaser() -> str:
        calls.append("called")
        return "a teaser"

    operator = decorated(teaser, output_path=str(tmp_path), deferrable=True)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload, **(deferred.value.kwargs or {}))

    assert calls == ["called"]
    assert result["videos"][0]["path"]
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_kind_runs_another_video_kinds_operator(kling_connection, tmp_path):
    from airflow_provider_kling.operators.video import KlingMultiImageToVideoOperator

    kling_connection.set_progress("immediate")

    def lookbook() -> dict[str, Any]:
        return {"image_list": [{"image": "https://example.com/a.png"}], "prompt": "the outfit, walking"}

    with DAG("kling_video_decorator_kind", schedule=None) as dag:
        task.kling_video(kind="multi-image2video", poll_interval=0.02, output_path=str(tmp_path))(lookbook)()
    (operator,) = dag.tasks
    assert isinstance(operator, KlingMultiImageToVideoOperator)

    result = operator.execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"]["image_list"] == [{"image": "https://example.com/a.png"}]
    assert result["request_kind"] == "multi-image2video" and result["videos"][0]["path"]


def test_a_kind_of_images_is_refused_by_the_video_decorator(kling_connection):
    with DAG("kling_video_decorator_image_kind", schedule=None) as dag:
        task.kling_video(kind="generations", task_id="poster")(lambda: "a poster")()
    (operator,) = dag.tasks

    with pytest.raises(AirflowFailException, match="makes videos, but kind 'generations' makes images"):
        operator.execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0
