"""The avatar kind (``/v1/videos/avatar/image2video``): an image made to speak an audio given by id,
URL or an audio task's result (chained through plain XCom); its rules refused before any HTTP call,
the estimate from the audio's length, worker, deferred, batch and a lost create answer, against the
simulator's own rules."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError
from airflow_provider_kling.estimates import purchase_of
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import AvatarRequest
from airflow_provider_kling.operators.audio import KlingTextToAudioOperator
from airflow_provider_kling.operators.avatar import KlingAvatarOperator
from airflow_provider_kling.operators.batch import KlingBatchOperator
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

FACE, VOICE = "https://example.com/face.png", "https://example.com/voice.mp3"


def make(operator_class: type = KlingAvatarOperator, **kwargs: Any) -> Any:
    kwargs.setdefault("task_id", "avatar")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_avatar_dag", schedule=None):
        return operator_class(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "audio_id: give exactly one of audio_id or sound_file"),
        ({"audio_id": "a1", "sound_file": VOICE}, "audio_id: give exactly one of audio_id or sound_file"),
        (
            {"audio_id": {"id": "a1", "duration": "301"}},
            "audio_id: the audio runs 301 s; an avatar speaks 2 to 300 s",
        ),
        ({"sound_file": {"task_id": "T", "audios": []}}, "sound_file: Kling task T's result lists no audio"),
        ({"sound_file": "not base64!"}, "sound_file: must be an http(s) URL or base64"),
        (
            {"sound_file": base64.b64encode(b"\0" * (5 * 1024 * 1024 + 1)).decode()},
            "sound_file: must be at most 5 MB",
        ),
        ({"audio_id": "a1", "mode": "4k"}, "mode: Input should be 'std' or 'pro'"),
        ({"audio_id": "a1", "prompt": "p" * 2501}, "prompt: String should have at most 2500 characters"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields, message):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling avatar request") as caught:
        AvatarRequest.build(image=FACE, **fields)
    assert message in str(caught.value)


def test_an_estimate_prices_the_audios_length_when_known_else_the_longest_it_may_be():
    known = purchase_of(AvatarRequest.build(image=FACE, audio_id={"id": "a1", "duration": "12"}, mode="pro"))
    unknown = purchase_of(AvatarRequest.build(image=FACE, sound_file=VOICE))

    assert (known.tier, known.quantity, known.per) == ("pro", 12.0, "second")
    assert (unknown.tier, unknown.quantity) == ("std", 300.0)


def test_an_audio_task_result_chains_into_the_avatar_on_the_worker(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    sound = make(KlingTextToAudioOperator, task_id="sound", prompt="a hello", duration=3).execute(
        make_context()
    )

    result = make(image=FACE, sound_file=sound, mode="pro", output_path=str(tmp_path)).execute(make_context())

    _, sent = sorted(kling_connection.tasks(), key=lambda task: task["created_at"])
    assert sent["request"]["sound_file"] == sound["audios"][0]["url"]
    assert result["request_kind"] == "avatar" and result["tier"] == "pro" and result["duration"] == 3.0
    assert local(result["videos"][0]["path"]).name == "avatar_0.mp4"
    assert float(result["final_unit_deduction"]) == pytest.approx(0.8 * 5)


def test_a_refused_request_fails_before_any_http_call(kling_connection):
    with pytest.raises(AirflowFailException, match="audio_id: give exactly one"):
        make(image=FACE).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_deferred_the_avatar_is_polled_at_its_endpoint_and_stored_on_resume(kling_connection, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(image=FACE, audio_id="tts-1", deferrable=True, output_path=str(tmp_path))
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.serialize()[1]["endpoint"] == "/v1/videos/avatar/image2video"

    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload)

    assert local(result["videos"][0]["path"]).is_file()
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_lost_create_answer_holds_one_paid_task(kling_connection):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = AvatarRequest.build(image=FACE, audio_id="tts-1", external_task_id="avatar-1")

    task = KlingHook().create_task(request)

    assert task.external_task_id == "avatar-1"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_of_avatars_stores_each_video(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    with DAG("kling_avatar_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="avatar",
            requests=[
                {"image": FACE, "audio_id": "tts-1"},
                {"image": FACE, "sound_file": VOICE, "mode": "pro"},
            ],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(make_context(RecordingTaskInstance(dag_id="kling_avatar_batch", task_id="batch")))

    assert summary["counts"] == {"succeeded": 2} and summary["videos_stored"] == 2
    assert summary["units"] == pytest.approx(0.4 * 5 + 0.8 * 5)


def test_the_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match="audio_id: exactly one of audio_id or sound_file"):
        hook._run(hook.call("POST", "/v1/videos/avatar/image2video", body={"image": FACE}))


def test_taskflow_picks_the_avatar_operator_for_its_kind():
    from airflow.sdk import task

    def speak() -> dict[str, Any]:
        return {"image": FACE, "audio_id": "tts-1"}

    with DAG("kling_avatar_taskflow", schedule=None) as dag:
        task.kling_video(kind="avatar")(speak)()
    (operator,) = dag.tasks
    assert isinstance(operator, KlingAvatarOperator)
