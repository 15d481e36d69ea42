"""Video to audio (``/v1/audio/video-to-audio``): sound made for a video Kling made (chained through
plain XCom) or a video URL; the sound stored as audio, the video with its sound listed; worker,
deferred, batch and a lost create answer, against the simulator's own rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import VideoToAudioRequest
from airflow_provider_kling.operators.audio import KlingVideoToAudioOperator
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.video import KlingTextToVideoOperator
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

CLIP = "https://example.com/clip.mp4"


def make(operator_class: type = KlingVideoToAudioOperator, **kwargs: Any) -> Any:
    kwargs.setdefault("task_id", "sound")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_v2a_dag", schedule=None):
        return operator_class(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "video_id: give exactly one of video_id or video_url"),
        ({"video_id": "v1", "video_url": CLIP}, "video_id: give exactly one of video_id or video_url"),
        (
            {"video_id": {"id": "v1", "duration": "25"}},
            "video_id: the video runs 25 s; Kling adds sound to videos of 3 to 20 s",
        ),
        ({"video_id": {"task_id": "T", "videos": []}}, "video_id: Kling task T's result lists no video"),
        (
            {"video_url": "ftp://example.com/a.mp4"},
            "video_url: must be an http:// or https:// URL with a host name",
        ),
        (
            {"video_url": CLIP, "bgm_prompt": "b" * 201},
            "bgm_prompt: String should have at most 200 characters",
        ),
        ({"video_url": CLIP, "asmr_mode": "yes"}, "asmr_mode: Input should be a valid boolean"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields, message):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling video-to-audio request") as caught:
        VideoToAudioRequest.build(**fields)
    assert message in str(caught.value)


def test_a_video_task_result_chains_into_its_sound_and_only_the_sound_is_stored(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    clip = make(
        KlingTextToVideoOperator, task_id="clip", prompt="a kettle", output_path=str(tmp_path)
    ).execute(make_context())

    result = make(
        video_id=clip, sound_effect_prompt="a kettle whistles", asmr_mode=True, output_path=str(tmp_path)
    ).execute(make_context())

    _, sent = sorted(kling_connection.tasks(), key=lambda task: task["created_at"])
    assert sent["request"]["video_id"] == clip["videos"][0]["id"] and sent["request"]["asmr_mode"] is True
    (sound,) = result["audios"]
    assert local(sound["path"]).name == "sound_0.mp3" and local(sound["path"]).read_bytes()[:3] == b"ID3"
    assert result["videos"] and "path" not in result["videos"][0]  # Kling's copy with sound: listed only
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["clip_0.mp4", "sound_0.mp3"]


def test_a_video_outside_three_to_twenty_seconds_is_refused_before_any_http_call(kling_connection):
    long_clip = {"task_id": "T", "videos": [{"id": "v1", "url": CLIP, "duration": "30"}]}

    with pytest.raises(AirflowFailException, match="video_id: the video runs 30 s"):
        make(video_id=long_clip).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_deferred_the_sound_is_polled_at_its_endpoint_and_stored_on_resume(kling_connection, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(video_url=CLIP, bgm_prompt="slow jazz", deferrable=True, output_path=str(tmp_path))
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.serialize()[1]["endpoint"] == "/v1/audio/video-to-audio"

    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload)

    assert local(result["audios"][0]["path"]).is_file()
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_lost_create_answer_holds_one_paid_task(kling_connection):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = VideoToAudioRequest.build(video_url=CLIP, external_task_id="v2a-1")

    task = KlingHook().create_task(request)

    assert task.external_task_id == "v2a-1"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_of_videos_gets_its_sounds_stored_and_listed(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    with DAG("kling_v2a_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="video-to-audio",
            requests=[
                {"video_url": CLIP, "bgm_prompt": "jazz"},
                {"video_url": CLIP, "sound_effect_prompt": "rain"},
            ],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(make_context(RecordingTaskInstance(dag_id="kling_v2a_batch", task_id="batch")))

    assert summary["counts"] == {"succeeded": 2} and summary["audios_stored"] == 2
    assert summary["units"] == pytest.approx(0.5) and summary["videos_stored"] == 0
    manifest = json.loads(local(summary["manifest"]).read_text())
    assert [local(path).name for item in manifest["items"] for path in item["files"]] == [
        "batch_0_0.mp3",
        "batch_1_0.mp3",
    ]


def test_the_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match="video_id: exactly one of video_id or video_url"):
        hook._run(hook.call("POST", "/v1/audio/video-to-audio", body={"video_id": "v1", "video_url": CLIP}))
