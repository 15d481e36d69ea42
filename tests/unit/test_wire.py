"""One wire format per API style (``hooks/wire.py``): create path, credentials, decoding."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_kling.errors import KlingAuthError
from airflow_provider_kling.hooks.connection import KlingConnectionSettings
from airflow_provider_kling.hooks.core import KlingCore
from airflow_provider_kling.hooks.wire import MODEL_PATH, V1, Route, wire_for
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import ImageGenerationRequest, TextToVideoRequest


def core_with(**settings: Any) -> KlingCore:
    core = KlingCore("kling_jwt" if settings.get("access_key") else "kling_default")
    core.log = logging.getLogger("test")
    core._use_settings(KlingConnectionSettings(**settings))
    return core


def test_a_request_names_its_route_by_the_style_its_model_takes() -> None:
    new = TextToVideoRequest(model_name="kling-3.0", prompt="a fox")
    old = TextToVideoRequest(model_name="kling-v2-6", prompt="a fox")
    assert Route.of(new) == Route("/text-to-video", ApiStyle.MODEL_PATH)
    assert Route.of(old) == Route("/v1/videos/text2video", ApiStyle.V1)
    assert Route.of(ImageGenerationRequest(prompt="a kite")).wire is V1
    assert Route("/x", "model-path").wire is MODEL_PATH  # a serialized style value reads back


def test_the_model_path_style_puts_the_model_in_the_create_path() -> None:
    new = TextToVideoRequest(model_name="kling-3.0", prompt="a fox")
    old = TextToVideoRequest(model_name="kling-v2-6", prompt="a fox")
    assert wire_for(new.api_style).create_path(new) == "/text-to-video/kling-3.0"
    assert V1.create_path(old) == "/v1/videos/text2video"


def test_a_jwt_connection_is_refused_before_sending_on_the_model_path_style_only() -> None:
    jwt = core_with(access_key="ak", secret_key="sk")
    with pytest.raises(KlingAuthError) as caught:
        MODEL_PATH.check_credentials(jwt)
    message = str(caught.value)
    assert "needs an API key" in message and "kling_jwt" in message
    assert caught.value.http_status is None  # refused here, not by Kling
    V1.check_credentials(jwt)
    MODEL_PATH.check_credentials(core_with(api_key="key"))


def test_each_style_decodes_its_own_records_into_one_task() -> None:
    v1 = V1.decode(
        {
            "task_id": "7",
            "task_status": "succeed",
            "final_unit_deduction": "4",
            "task_result": {"videos": [{"id": "v", "url": "https://e/v.mp4", "duration": "5"}]},
        },
        "a task",
    )
    record = MODEL_PATH.decode(
        {
            "id": "7",
            "status": "succeeded",
            "outputs": [{"video": {"id": "v", "url": "https://e/v.mp4", "duration": "5"}}],
            "billing": [{"charge_type": "unit", "amount": "4"}],
        },
        "a task",
    )
    assert v1.to_xcom() == record.to_xcom()


def test_an_endpoint_given_by_kind_or_path_names_its_route() -> None:
    assert Route.of_endpoint("/text-to-video") == Route("/text-to-video", ApiStyle.MODEL_PATH)
    assert Route.of_endpoint("text2video") == Route("/v1/videos/text2video", ApiStyle.V1)
    assert Route.of_endpoint("/v1/images/generations") == Route("/v1/images/generations", ApiStyle.V1)
    with pytest.raises(ValueError, match="unknown Kling endpoint"):
        Route.of_endpoint("/no/such/path")
    # A hook call given only a declared path: the style that path is declared in.
    assert Route.at("/omni-video") == Route("/omni-video", ApiStyle.MODEL_PATH)
    assert Route.at("/v1/custom") == Route("/v1/custom", ApiStyle.V1)


def test_a_sensor_on_a_model_path_kind_reads_its_task_through_tasks(kling_connection) -> None:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.sensors.kling import KlingTaskSensor

    kling_connection.set_progress("immediate")
    request = TextToVideoRequest(model_name="kling-3.0", prompt="a fox", duration=5)
    created = KlingHook().create_task(request)
    sensor = KlingTaskSensor(task_id="wait", kling_task_id=created.task_id, endpoint="/text-to-video")

    done = sensor.poke({})  # type: ignore[arg-type]

    assert done.is_done and done.xcom_value["videos"][0]["duration"] == "5"
    assert kling_connection.counters(kling_connection.api_key)["queries"] == 0  # GET /tasks, not a route
