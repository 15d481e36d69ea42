"""Custom voices and elements against the simulator: create (a task, paid once), get, list, delete
on the hook; the operators return the id as a string, exact past 2**53, and the request kinds that
take elements send it as the exact integer; bad input refused before any HTTP call."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import ImageGenerationRequest, TextToVideoRequest
from airflow_provider_kling.models.resources import (
    CustomElementRequest,
    CustomVoiceRequest,
    resources_of,
)
from airflow_provider_kling.operators.resources import (
    XCOM_RESOURCE,
    KlingCustomElementOperator,
    KlingCustomVoiceOperator,
)
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.task_context import RecordingTaskInstance, make_context

ELEMENT = {
    "element_name": "Hero",
    "element_description": "The campaign's hero",
    "reference_type": "video_refer",
    "element_video_list": {"refer_videos": ["https://example.com/hero.mp4"]},
    "tag_list": ["o_101"],
}


def test_a_voice_is_a_task_whose_result_lists_it_and_it_can_be_listed_and_deleted(kling_connection) -> None:
    kling_connection.set_progress("immediate")
    hook = KlingHook()

    task = hook.create_resource(
        CustomVoiceRequest.build(voice_name="Narrator", voice_url="https://e.com/v.mp3")
    )
    [voice] = resources_of(hook.get_resource_task("voice", task.task_id), "voice")

    assert (voice.name, voice.owned_by, voice.kind) == ("Narrator", "user", "voice")
    assert [v.id for v in hook.list_resources("voice")] == [voice.id]
    assert [v.id for v in hook.list_resources("voice", presets=True)] == ["oversea_male1"]
    assert hook.delete_resource("voice", voice.id)["task_status"] == "succeed"
    assert hook.list_resources("voice") == []
    assert kling_connection.tasks(kling_connection.api_key)[0]["final_unit_deduction"] == "0.05"


def test_an_element_id_above_2_53_stays_exact_from_kling_to_xcom_to_a_request(kling_connection) -> None:
    kling_connection.set_progress("immediate")
    with DAG("kling_resources", schedule=None):
        make = KlingCustomElementOperator(task_id="hero", poll_interval=0.05, timeout=30, **ELEMENT)
    ti = RecordingTaskInstance(task_id="hero")

    element_id = make.execute(make_context(ti))

    assert isinstance(element_id, str) and int(element_id) > 2**53
    assert float(int(element_id)) != int(element_id)  # a float would have changed it
    record = ti.xcom[XCOM_RESOURCE]
    assert json.loads(json.dumps(record))["id"] == element_id  # XCom's JSON keeps the string
    created = [
        t for t in kling_connection.tasks(kling_connection.api_key) if t["request"].get("element_name")
    ]
    assert created[0]["task_info"]["external_task_id"]  # paid once: a stable external task id
    # The id goes to the kinds that take elements: the exact integer on the wire.
    hook = KlingHook()
    image = hook.create_task(
        ImageGenerationRequest.build(
            prompt="the hero", model_name="kling-v3", element_list=[{"element_id": element_id}]
        )
    )
    sent = next(t for t in kling_connection.tasks() if t["task_id"] == image.task_id)["request"]
    assert sent["element_list"] == [{"element_id": int(element_id)}]
    video = TextToVideoRequest.build(prompt="the hero runs", model_name="kling-v3", element_ids=[element_id])
    assert json.loads(json.dumps(video.to_json()))["element_list"] == [{"element_id": int(element_id)}]


def test_a_retried_operator_finds_its_element_instead_of_paying_twice(kling_connection) -> None:
    kling_connection.set_progress("immediate")
    with DAG("kling_resources", schedule=None):
        make = KlingCustomElementOperator(task_id="hero", poll_interval=0.05, timeout=30, **ELEMENT)

    first, second = (make.execute(make_context(RecordingTaskInstance(task_id="hero"))) for _ in range(2))

    assert first == second
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_deleted_element_is_listed_as_deleted(kling_connection) -> None:
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    task = hook.create_resource(CustomElementRequest.build(**ELEMENT))
    [element] = resources_of(hook.get_resource_task("element", task.task_id), "element")

    hook.delete_resource("element", element.id)

    assert [(e.id, e.status) for e in hook.list_resources("element")] == [(element.id, "deleted")]


def test_the_voice_operator_returns_the_voice_id(kling_connection) -> None:
    kling_connection.set_progress("immediate")
    with DAG("kling_resources", schedule=None):
        make = KlingCustomVoiceOperator(task_id="voice", voice_name="Narrator", video_id="vid-1", timeout=30)

    voice_id = make.execute(make_context(RecordingTaskInstance(task_id="voice")))

    assert [v.id for v in KlingHook().list_resources("voice")] == [voice_id]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: CustomVoiceRequest.build(voice_name="x" * 21, voice_url="https://e.com/v.mp3"),
            "voice_name:",
        ),
        (
            lambda: CustomVoiceRequest.build(voice_name="n"),
            "voice_url: one of voice_url or video_id is required",
        ),
        (lambda: CustomVoiceRequest.build(voice_name="n", voice_url="ftp://e"), "voice_url: must be an http"),
        (
            lambda: CustomElementRequest.build(**{**ELEMENT, "reference_type": "image_refer"}),
            "element_image_list: is",
        ),
        (lambda: CustomElementRequest.build(**{**ELEMENT, "tag_list": ["o_109"]}), "tag_list.0.tag_id"),
        (
            lambda: CustomElementRequest.build(**{**ELEMENT, "element_description": "d" * 101}),
            "element_description",
        ),
        (lambda: KlingHook().delete_resource("element", 8.3e17), "element_id: must be a positive integer id"),
        (lambda: KlingHook().delete_resource("element", "hero"), "element_id: must be a positive integer id"),
        (
            lambda: KlingHook().list_resources("element", page_size=501),
            "page_size must be an integer from 1 to 500",
        ),
        (
            lambda: TextToVideoRequest.build(
                prompt="p", model_name="kling-v3", element_ids=[8.29836802793406551e17]
            ),
            "element_ids.0: Input should be a valid integer",
        ),
        (
            lambda: ImageGenerationRequest.build(
                prompt="p", model_name="kling-v3", element_list=[{"element_id": 8.3e17}]
            ),
            "element_list.0.element_id: Input should be a valid integer",
        ),
    ],
)
def test_bad_input_is_refused_before_any_http_call_naming_the_field_and_rule(
    kling_connection: KlingSimulator, build: Any, message: str
) -> None:
    with pytest.raises((KlingRequestValidationError, ValueError), match=message):
        build()
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_the_simulator_refuses_an_element_id_sent_as_a_string_on_v1(kling_simulator) -> None:
    import requests

    answer = requests.post(
        f"{kling_simulator.base_url}/v1/general/delete-advanced-elements",
        json={"element_id": "829836802793406551"},
        headers={"Authorization": f"Bearer {kling_simulator.api_key}"},
        timeout=10,
    ).json()

    assert answer["code"] == 1201 and "element_id: is required, a number" in answer["message"]


def test_an_element_made_upstream_reaches_an_omni_image_request_through_its_templated_element_list(
    kling_connection,
) -> None:
    from airflow_provider_kling.operators.endpoints import KlingOmniImageOperator

    kling_connection.set_progress("immediate")
    with DAG("kling_resources", schedule=None):
        make = KlingCustomElementOperator(task_id="hero", poll_interval=0.05, timeout=30, **ELEMENT)
        poster = KlingOmniImageOperator(
            task_id="poster",
            prompt="the hero on a poster",
            model_name="kling-v3-omni",
            element_list=[{"element_id": "{{ hero_id }}"}],
            poll_interval=0.05,
            timeout=30,
        )
    element_id = make.execute(make_context(RecordingTaskInstance(task_id="hero")))
    context = make_context(RecordingTaskInstance(task_id="poster"), hero_id=element_id)

    poster.render_template_fields(context)
    result = poster.execute(context)

    sent = next(t for t in kling_connection.tasks() if t["task_id"] == result["task_id"])["request"]
    assert sent["element_list"] == [{"element_id": int(element_id)}]


def test_a_voice_from_both_a_url_and_a_video_is_sent_with_a_warning_that_it_is_unconfirmed(
    kling_connection, capsys
) -> None:
    kling_connection.set_progress("immediate")
    with DAG("kling_resources", schedule=None):
        make = KlingCustomVoiceOperator(
            task_id="voice",
            voice_name="Narrator",
            voice_url="https://e.com/v.mp3",
            video_id="vid-1",
            timeout=30,
        )

    make.execute(make_context(RecordingTaskInstance(task_id="voice")))

    printed = capsys.readouterr()
    assert "Sending video_id, which Kling's pages do not confirm" in printed.out + printed.err
    assert "UNCONFIRMED" in printed.out + printed.err


def test_a_deferred_element_is_waited_for_in_the_trigger_and_its_id_stays_exact(kling_connection) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from tests.unit.task_context import run_trigger

    kling_connection.set_latency(0.3)
    with DAG("kling_resources", schedule=None):
        make = KlingCustomElementOperator(
            task_id="hero", deferrable=True, poll_interval=0.05, timeout=30, **ELEMENT
        )
    context = make_context(RecordingTaskInstance(task_id="hero"))

    with pytest.raises(TaskDeferred) as deferred:
        make.execute(context)
    event = run_trigger(deferred.value.trigger)
    element_id = make.execute_complete(context, event)

    [listed] = KlingHook().list_resources("element")
    assert element_id == listed.id and int(element_id) > 2**53
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


@pytest.mark.parametrize("argument", ["poll_interval", "timeout"])
def test_a_resource_operator_refuses_a_wait_that_is_not_positive_at_parse_time(argument) -> None:
    with DAG("resources_wait"), pytest.raises(ValueError, match=f"{argument} must be a positive number"):
        KlingCustomVoiceOperator(task_id="voice", voice_name="Narrator", video_id="vid-1", **{argument: 0})
