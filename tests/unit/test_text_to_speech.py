"""Text-to-speech (``/v1/audio/tts``): Kling answers the create with the audio (no query path, no
external task id), so the audio is stored at once on the worker and deferred alike; a lost create
answer is never resent (nothing can find it); the audio chains into lip sync and avatar by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingCreateOutcomeUnknownError, KlingInvalidRequestError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import TextToSpeechRequest
from airflow_provider_kling.operators.avatar import KlingAvatarOperator
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.speech import KlingTextToSpeechOperator
from tests.unit.task_context import RecordingTaskInstance, make_context

VOICE = "oversea_male1"


def make(operator_class: type = KlingTextToSpeechOperator, **kwargs: Any) -> Any:
    kwargs.setdefault("task_id", "speak")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_tts_dag", schedule=None):
        return operator_class(**kwargs)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": ""}, "text: String should have at least 1 character"),
        ({"text": "t" * 1001}, "text: String should have at most 1000 characters"),
        ({"voice_id": ""}, "voice_id: String should have at least 1 character"),
        ({"voice_language": "fr"}, "voice_language: Input should be 'zh' or 'en'"),
        ({"voice_speed": 2.5}, "voice_speed: Input should be less than or equal to 2"),
        ({"voice_speed": 1.25}, "voice_speed: must have at most one decimal"),
        ({"callback_url": "https://example.com/cb"}, "callback_url: text-to-speech takes none"),
    ],
)
def test_bad_input_is_refused_before_any_http_call_naming_the_field_and_the_rule(
    fields, message, kling_connection
):
    with pytest.raises(AirflowFailException, match="Invalid Kling text-to-speech request") as caught:
        make(**{"text": "hello", "voice_id": VOICE, **fields}).execute(make_context())
    assert message in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_the_body_sends_no_external_task_id_kling_takes_none():
    request = TextToSpeechRequest.build(text="hi", voice_id=VOICE, voice_speed=1.5, external_task_id="x-1")
    assert request.to_json() == {"text": "hi", "voice_id": VOICE, "voice_speed": 1.5}


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_the_audio_is_stored_from_the_create_answer_without_a_query(deferrable, kling_connection, tmp_path):
    kling_connection.set_latency(5)  # would still be running, were it a task Kling works on

    result = make(text="hello", voice_id=VOICE, deferrable=deferrable, output_path=str(tmp_path)).execute(
        make_context()
    )

    (audio,) = result["audios"]
    stored = Path(audio["path"].removeprefix("file://"))
    assert stored.name == "speak_0.mp3" and stored.read_bytes().startswith(b"ID3")
    assert result["request_kind"] == "text-to-speech" and result["prompt"] == "hello"
    assert float(result["final_unit_deduction"]) == pytest.approx(0.05)
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_lost_create_answer_is_never_resent_even_where_external_ids_are_honoured(
    kling_connection, monkeypatch
):
    conn = json.loads(kling_connection.airflow_conn_json())
    conn["extra"] = {**conn.get("extra", {}), "external_task_id_support": "yes"}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    kling_connection.lose_next_create_answers(1, mode="reset")

    with pytest.raises(KlingCreateOutcomeUnknownError):
        KlingHook().create_task(TextToSpeechRequest.build(text="hello", voice_id=VOICE))

    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_the_speech_chains_into_an_avatar_by_its_audio_id(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    speech = make(text="hello", voice_id=VOICE, output_path=str(tmp_path)).execute(make_context())

    make(
        KlingAvatarOperator, task_id="avatar", image="https://example.com/face.png", audio_id=speech
    ).execute(make_context())

    avatar = next(task for task in kling_connection.tasks() if "audio_id" in task["request"])
    assert avatar["request"]["audio_id"] == speech["audios"][0]["id"]


def test_a_batch_of_speeches_stores_each_audio(kling_connection, tmp_path):
    with DAG("kling_tts_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="text-to-speech",
            requests=[
                {"text": "one", "voice_id": VOICE},
                {"text": "two", "voice_id": VOICE, "voice_language": "en"},
            ],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(make_context(RecordingTaskInstance(dag_id="kling_tts_batch", task_id="batch")))

    assert summary["counts"] == {"succeeded": 2}
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert all(row["files"][0].endswith(".mp3") for row in manifest["items"])


def test_the_simulator_refuses_what_kling_refuses_and_has_no_query_path(kling_connection):
    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match="external_task_id: is not a field of this endpoint"):
        hook._run(
            hook.call(
                "POST", "/v1/audio/tts", body={"text": "hi", "voice_id": VOICE, "external_task_id": "x"}
            )
        )
    assert hook.find_task("anything", endpoint="/v1/audio/tts") is None
