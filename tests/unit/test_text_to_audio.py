"""Text to audio (``/v1/audio/text-to-audio``): a kind whose output is an audio file, stored like
images and videos (verified as MP3/WAV, streamed, never half-written), in XCom, the manifest and
the asset event; its operator on the worker and deferred, as a batch kind, and under a lost create
answer, against the simulator's own rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingDownloadRejectedError, KlingRequestValidationError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import TextToAudioRequest, media_of
from airflow_provider_kling.operators.audio import KlingTextToAudioOperator
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.storage import AUDIO, audio_extension, store_file, to_storage_path
from airflow_provider_kling.testing import make_png
from airflow_provider_kling.testing.audio import make_mp3, make_wav
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context


def make(**kwargs: Any) -> KlingTextToAudioOperator:
    kwargs.setdefault("task_id", "sound")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_audio_dag", schedule=None):
        return KlingTextToAudioOperator(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_the_audio_media_kind_knows_mp3_and_wav_by_their_first_bytes():
    assert media_of("text-to-audio") is AUDIO
    assert audio_extension(make_mp3("a", 3)[:12]) == ".mp3"
    assert audio_extension(b"\xff\xfb\x90\x64" + b"\x00" * 8) == ".mp3"  # a frame without an ID3 tag
    assert audio_extension(make_wav("a", 3)[:12]) == ".wav"
    assert audio_extension(make_png("a", 0, 8, 8)[:12]) is None
    assert audio_extension(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None  # RIFF, but an image


def test_bytes_that_are_not_audio_are_not_stored(tmp_path):
    with pytest.raises(KlingDownloadRejectedError, match="not an MP3 or WAV audio file"):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", iter([make_png("a", 0, 8, 8)]), AUDIO)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prompt": "rain", "duration": 2.9}, "duration: Input should be greater than or equal to 3"),
        ({"prompt": "rain", "duration": 10.5}, "duration: Input should be less than or equal to 10"),
        ({"prompt": "rain", "duration": 3.25}, "duration: must have at most one decimal"),
        ({"prompt": "r" * 201, "duration": 5}, "prompt: String should have at most 200 characters"),
        ({"prompt": "  ", "duration": 5}, "prompt: must not be blank"),
        ({"prompt": "rain"}, "duration: Field required"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields, message):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling text-to-audio request") as caught:
        TextToAudioRequest.build(**fields)
    assert message in str(caught.value)


def test_on_the_worker_the_mp3_is_stored_and_listed_in_xcom_and_the_asset_event(kling_connection, tmp_path):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    kling_connection.set_progress("immediate")
    operator = make(prompt="rain on a tin roof", duration="4.5", output_path=str(tmp_path))
    (outlet,) = operator.outlets
    events = OutletEventAccessors()

    result = operator.execute(make_context(outlet_events=events))

    (sound,) = result["audios"]
    assert sound["id"] and sound["duration"] == "4.5" and sound["wav_url"].endswith("0.wav")
    stored = local(sound["path"])
    assert stored.name == "sound_0.mp3" and stored.read_bytes()[:3] == b"ID3"
    assert result["request_kind"] == "text-to-audio" and result["duration"] == 4.5
    assert float(result["final_unit_deduction"]) == 0.25
    (sent,) = kling_connection.tasks()
    assert (sent["request"]["prompt"], sent["request"]["duration"]) == ("rain on a tin roof", 4.5)
    extra = events[outlet].extra
    assert (extra["audio_count"], extra["video_count"], extra["image_count"]) == (1, 0, 0)
    assert extra["paths"] == [sound["path"]]


def test_a_refused_request_fails_before_any_http_call(kling_connection):
    with pytest.raises(AirflowFailException, match="duration: must have at most one decimal"):
        make(prompt="rain", duration=3.33).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_deferred_the_sound_is_polled_at_its_endpoint_and_stored_on_resume(kling_connection, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(prompt="thunder", duration=3, deferrable=True, output_path=str(tmp_path))
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.serialize()[1]["endpoint"] == "/v1/audio/text-to-audio"

    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload)

    assert local(result["audios"][0]["path"]).read_bytes()[:3] == b"ID3"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_download_that_is_not_audio_fails_the_task_and_stores_nothing(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    kling_connection.image_fault("not_image", k=5)

    with pytest.raises(Exception, match="not an MP3 or WAV audio file"):
        make(prompt="rain", duration=3, output_path=str(tmp_path), retries=0).execute(make_context())
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_lost_create_answer_holds_one_paid_task(kling_connection):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = TextToAudioRequest.build(prompt="rain", duration=3, external_task_id="sound-1")

    task = KlingHook().create_task(request)

    assert task.external_task_id == "sound-1"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_of_sounds_stores_each_in_the_manifest_and_the_contact_sheet(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    with DAG("kling_audio_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="text-to-audio",
            requests=[{"prompt": "rain", "duration": 3}, {"prompt": "wind", "duration": 7.5}],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(make_context(RecordingTaskInstance(dag_id="kling_audio_batch", task_id="batch")))

    assert summary["counts"] == {"succeeded": 2} and summary["audios_stored"] == 2
    assert summary["units"] == pytest.approx(0.5)
    manifest = json.loads(local(summary["manifest"]).read_text())
    assert [item["media"] for item in manifest["items"]] == ["audio", "audio"]
    assert [local(path).name for item in manifest["items"] for path in item["files"]] == [
        "batch_0_0.mp3",
        "batch_1_0.mp3",
    ]
    assert manifest["items"][1]["audios"][0]["duration"] == "7.5"
    assert local(summary["contact_sheet"]).read_text().count("<audio controls") == 2
