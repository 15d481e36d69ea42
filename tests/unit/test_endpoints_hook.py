"""The neighbouring endpoints (omni-image, multi-image2image, expand, virtual try-on) on the one
task lifecycle, through the hook against the simulator: create at the request's path, query,
list and wait there, download the images, and pay once when a create's answer is lost."""

from __future__ import annotations

import base64
import struct

import pytest

from airflow_provider_kling.batch.items import slots_of
from airflow_provider_kling.errors import KlingInvalidRequestError
from airflow_provider_kling.hooks.kling import GENERATIONS_PATH, KlingHook
from airflow_provider_kling.models.requests import (
    ExpandImageRequest,
    MultiImageRequest,
    OmniImageRequest,
    VirtualTryOnRequest,
)
from airflow_provider_kling.testing import make_png

PHOTO = base64.b64encode(make_png("a studio photo", 0, 400, 400)).decode()
PORTRAIT = base64.b64encode(make_png("a model standing", 0, 360, 480)).decode()


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return width, height


REQUESTS = {
    "omni-image": lambda: OmniImageRequest.build(
        prompt="the bottle of <<<image_1>>> on a beach", image_list=[PHOTO], n=2
    ),
    "multi-image2image": lambda: MultiImageRequest.build(
        subject_image_list=[PHOTO, PORTRAIT], scene_image=PHOTO, prompt="together in a garden"
    ),
    "expand": lambda: ExpandImageRequest.build(
        image=PHOTO, left_expansion_ratio=0.5, right_expansion_ratio=0.5
    ),
    "virtual-try-on": lambda: VirtualTryOnRequest.build(human_image=PORTRAIT, cloth_image=PHOTO),
}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_each_endpoint_creates_waits_lists_and_downloads_at_its_own_path(kling_connection, kind):
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    request = REQUESTS[kind]()

    created = hook.create_task(request)
    endpoint = type(request).path
    task = hook.wait_for_task(created.task_id, poll_interval=0.01, timeout=5, endpoint=endpoint)

    assert task.task_status == "succeed"
    assert len(task.images) == slots_of(request)  # an image task holds a slot per image it makes
    assert [listed.task_id for listed in hook.list_tasks(endpoint=endpoint)] == [created.task_id]
    # A task lives at the path it was made at: not found, and not listed, at image generation's.
    assert hook.find_task(created.task_id) is None
    assert hook.list_tasks(endpoint=GENERATIONS_PATH) == []
    data = b"".join(hook.iter_image_bytes(str(task.images[0].url)))
    assert data.startswith(b"\x89PNG")
    (sent,) = kling_connection.tasks()
    assert sent["request"]["external_task_id"].startswith("kling-")  # every create carries one
    assert {k: v for k, v in sent["request"].items() if k != "external_task_id"} == request.to_json()


def test_expand_result_has_the_grown_canvas(kling_connection):
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    request = ExpandImageRequest.build(image=PHOTO, left_expansion_ratio=0.5, right_expansion_ratio=0.5)

    created = hook.create_task(request)
    task = hook.wait_for_task(created.task_id, poll_interval=0.01, timeout=5, endpoint=request.path)

    width, height = png_size(b"".join(hook.iter_image_bytes(str(task.images[0].url))))
    assert width == 2 * height  # a square grown by half its width on both sides


def test_omni_series_images_are_read_as_the_tasks_images(kling_connection):
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    request = OmniImageRequest.build(
        model_name="kling-v3-omni", prompt="a storyboard", result_type="series", series_amount=3
    )

    created = hook.create_task(request)
    task = hook.wait_for_task(created.task_id, poll_interval=0.01, timeout=5, endpoint=request.path)

    assert task.task_result.series_images and not task.task_result.images
    assert [image.index for image in task.images] == [0, 1, 2]


def test_lost_create_answer_resumes_the_task_at_the_requests_endpoint(kling_connection):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")
    hook = KlingHook()
    request = VirtualTryOnRequest.build(human_image=PORTRAIT, cloth_image=PHOTO, external_task_id="try-on-1")

    task = hook.create_task(request)

    assert task.external_task_id == "try-on-1"
    assert (
        kling_connection.counters(kling_connection.api_key)["creates"] == 1
    )  # found by its id at the try-on path, not sent again
    assert len(kling_connection.tasks()) == 1


def test_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    hook = KlingHook()
    body = {"image": PHOTO, "up_expansion_ratio": 2, "down_expansion_ratio": 2, "left_expansion_ratio": 0}

    with pytest.raises(KlingInvalidRequestError) as caught:
        hook._run(hook.call("POST", ExpandImageRequest.path, body=body))

    message = str(caught.value)
    assert "right_expansion_ratio: is required" in message


async def test_triggers_of_two_endpoints_read_their_own_task_lists(kling_connection):
    import asyncio
    import time

    from airflow_provider_kling.triggers.kling import KlingTaskTrigger

    kling_connection.set_latency(0.3)
    hook = KlingHook()
    expand = ExpandImageRequest.build(image=PHOTO, up_expansion_ratio=0.5)
    generation_task = hook.create_task(prompt="a fox", model_name="kling-v1", n=1)
    expand_task = hook.create_task(expand)
    triggers = [
        KlingTaskTrigger(generation_task.task_id, poll_interval=0.05, deadline=time.time() + 300),
        KlingTaskTrigger(
            expand_task.task_id, poll_interval=0.05, deadline=time.time() + 300, endpoint=expand.path
        ),
    ]

    events = await asyncio.gather(*(trigger.run().__anext__() for trigger in triggers))

    assert [event.payload["status"] for event in events] == ["success", "success"]
    assert [event.payload["task"]["task_id"] for event in events] == [
        generation_task.task_id,
        expand_task.task_id,
    ]


def test_a_trigger_serialized_before_the_endpoints_polls_image_generation():
    from airflow_provider_kling.triggers.kling import KlingTaskTrigger

    old_kwargs = {
        "kling_task_id": "1",
        "kling_conn_id": "kling_default",
        "poll_interval": 1.0,
        "deadline": 5.0,
    }
    assert KlingTaskTrigger(**old_kwargs).endpoint == GENERATIONS_PATH


def test_sensor_waits_for_a_task_of_another_endpoint_by_kind(kling_connection):
    from airflow.sdk import DAG

    from airflow_provider_kling.sensors.kling import KlingTaskSensor
    from tests.unit.task_context import make_context

    kling_connection.set_progress("immediate")
    task = KlingHook().create_task(VirtualTryOnRequest.build(human_image=PORTRAIT, cloth_image=PHOTO))
    with DAG("kling_sensor_endpoints", schedule=None):
        sensor = KlingTaskSensor(task_id="wait", kling_task_id=task.task_id, endpoint="virtual-try-on")

    done = sensor.poke(make_context())

    assert done.is_done and done.xcom_value["task_id"] == task.task_id


def test_sensor_names_an_unknown_endpoint():
    from airflow.providers.common.compat.sdk import AirflowFailException
    from airflow.sdk import DAG

    from airflow_provider_kling.sensors.kling import KlingTaskSensor
    from tests.unit.task_context import make_context

    with DAG("kling_sensor_endpoints", schedule=None):
        sensor = KlingTaskSensor(task_id="wait", kling_task_id="1", endpoint="outpaint")

    with pytest.raises(AirflowFailException, match="endpoint: unknown Kling endpoint 'outpaint': a kind"):
        sensor.poke(make_context())
