"""``@task.kling_audio`` against the simulator: a prompt and duration make a sound effect, ``kind=`` speech or
sound for a video, stored and returned like the operators; a video kind is refused before the
function runs; lip sync runs through ``@task.kling_video(kind="lip-sync")`` with its scan carried
through a deferral."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.decorators.audio import kling_audio_task
from airflow_provider_kling.operators.lip_sync import KlingLipSyncOperator
from airflow_provider_kling.testing import lip_sync as simulated
from tests.unit.task_context import first_trigger_event, make_context


def decorated(function: Any, *call_args: Any, name: str = "kling_audio", **decorator_kwargs: Any) -> Any:
    decorator_kwargs.setdefault("poll_interval", 0.02)
    decorator_kwargs.setdefault("timeout", 30)
    with DAG("kling_audio_decorator_test", schedule=None) as dag:
        getattr(task, name)(**decorator_kwargs)(function)(*call_args)
    (operator,) = dag.tasks
    return operator


def test_task_kling_audio_is_registered_through_provider_info():
    assert task.kling_audio is kling_audio_task


def test_a_returned_prompt_makes_a_sound_effect_stored_as_mp3(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")

    def rain() -> dict[str, Any]:
        return {"prompt": "rain on a tin roof", "duration": 3.5}

    result = decorated(rain, output_path=str(tmp_path)).execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"]["prompt"] == "rain on a tin roof" and sent["request"]["duration"] == 3.5
    assert result["request_kind"] == "text-to-audio"
    assert Path(result["audios"][0]["path"].removeprefix("file://")).name == "rain_0.mp3"


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_kind_text_to_speech_says_the_returned_text(deferrable, kling_connection, tmp_path):
    def narration(line: str) -> dict[str, Any]:
        return {"text": line, "voice_id": "oversea_male1"}

    operator = decorated(
        narration, "hello there", kind="text-to-speech", voice_language="en", deferrable=deferrable,
        output_path=str(tmp_path),
    )  # fmt: skip
    result = operator.execute(make_context())

    assert result["request_kind"] == "text-to-speech" and result["prompt"] == "hello there"
    assert Path(result["audios"][0]["path"].removeprefix("file://")).read_bytes().startswith(b"ID3")


def test_kind_video_to_audio_runs_its_operator(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")

    def score() -> dict[str, Any]:
        return {"video_url": "https://example.com/a.mp4", "bgm_prompt": "jazz"}

    result = decorated(score, kind="video-to-audio", output_path=str(tmp_path)).execute(make_context())
    assert result["request_kind"] == "video-to-audio" and result["audios"][0]["path"]


def test_a_video_kind_fails_before_the_function_runs_and_before_any_call(kling_connection):
    called = []

    def face() -> dict[str, Any]:
        called.append(True)
        return {}

    with pytest.raises(AirflowFailException, match="makes audios, but kind 'lip-sync' makes videos"):
        decorated(face, kind="lip-sync").execute(make_context())
    assert not called and kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_lip_sync_through_kling_video_carries_its_scan_through_a_deferral(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    sessions = set(simulated.SESSIONS)

    def talk() -> dict[str, Any]:
        return {"video_url": "https://example.com/talk.mp4", "audio_id": "tts-1", "sound_end_time": 3000}

    operator = decorated(
        talk, name="kling_video", kind="lip-sync", deferrable=True, output_path=str(tmp_path)
    )
    assert isinstance(operator, KlingLipSyncOperator)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload, **deferred.value.kwargs)

    assert len(simulated.SESSIONS - sessions) == 1
    assert result["request_kind"] == "lip-sync" and result["videos"][0]["path"]
