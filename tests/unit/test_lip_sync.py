"""Lip sync: the face scan (``/v1/videos/identify-face``, answered at once through ``KlingHook.answer``)
and the sync task (``/v1/videos/advanced-lip-sync``), in one operator task or in two steps; the
rules refused before any HTTP call, worker, deferred (the scan carried, not repeated), batch and a
lost create answer, against the simulator's own rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError
from airflow_provider_kling.estimates import purchase_of
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import LipSyncRequest
from airflow_provider_kling.models.requests.lip_sync import FaceScanRequest
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.lip_sync import KlingLipSyncOperator
from airflow_provider_kling.testing import lip_sync as simulated
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

CLIP, VOICE = "https://example.com/talk.mp4", "https://example.com/voice.mp3"
SYNC = {"face_id": "0", "audio_id": "tts-1", "sound_end_time": 4000, "sound_insert_time": 0}


def make(**kwargs: Any) -> KlingLipSyncOperator:
    kwargs.setdefault("task_id", "lip_sync")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_lip_sync_dag", schedule=None):
        return KlingLipSyncOperator(**kwargs)


def sent_bodies(sim: Any) -> list[dict[str, Any]]:
    return [task["request"] for task in sorted(sim.tasks(), key=lambda task: task["created_at"])]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"audio_id": None}, "audio_id: give exactly one of audio_id or sound_file"),
        ({"sound_file": VOICE}, "audio_id: give exactly one of audio_id or sound_file"),
        ({"sound_end_time": 1500}, "sound_end_time: the crop sound_start_time to sound_end_time runs 1.5 s"),
        ({"sound_end_time": 61000}, "Kling syncs 2 to 60 s"),
        ({"audio_id": {"id": "a", "duration": "61"}}, "audio_id: the audio runs 61 s; Kling takes 2 to 60 s"),
        ({"sound_volume": 2.5}, "sound_volume: Input should be less than or equal to 2"),
        ({"sound_insert_time": -1}, "sound_insert_time: Input should be greater than or equal to 0"),
        ({"session_id": ""}, "session_id: String should have at least 1 character"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields, message):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling lip-sync request") as caught:
        LipSyncRequest.build(**{"session_id": "s1", **SYNC, **fields})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "video_id: give exactly one of video_id or video_url"),
        ({"video_id": "v", "video_url": CLIP}, "video_id: give exactly one"),
        ({"video_url": "ftp://x/a.mp4"}, "video_url: must be an http:// or https:// URL"),
        ({"video_id": {"id": "v", "duration": "61"}}, "video_id: the video runs 61 s; Kling takes 2 to 60 s"),
    ],
)
def test_a_bad_face_scan_is_refused_before_any_http_call(fields, message, kling_connection):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling face scan request") as caught:
        KlingHook().answer(FaceScanRequest.build(**fields))
    assert message in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_the_body_holds_one_face_and_an_audio_result_sets_the_crop():
    request = LipSyncRequest.build(
        session_id="s1",
        face_id="0",
        sound_file={"audios": [{"url": VOICE, "duration": "7.5"}]},
        sound_insert_time=0,
    )
    assert request.to_json() == {
        "session_id": "s1",
        "face_choose": [
            {
                "face_id": "0",
                "sound_file": VOICE,
                "sound_start_time": 0,
                "sound_end_time": 7500,
                "sound_insert_time": 0,
            }
        ],
    }
    assert purchase_of(request).quantity == 2  # 7.5 s: two started 5 s blocks


def test_one_task_scans_then_syncs_the_chosen_face_on_the_worker(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    sessions = set(simulated.SESSIONS)

    result = make(video_url=CLIP, audio_id="tts-1", sound_end_time=3000, output_path=str(tmp_path)).execute(
        make_context()
    )

    (session,) = simulated.SESSIONS - sessions
    (body,) = sent_bodies(kling_connection)
    assert body["session_id"] == session
    assert body["face_choose"] == [
        {
            "face_id": "0",
            "audio_id": "tts-1",
            "sound_start_time": 0,
            "sound_end_time": 3000,
            "sound_insert_time": 0,
        }
    ]
    assert (
        result["request_kind"] == "lip-sync"
        and Path(result["videos"][0]["path"].removeprefix("file://")).is_file()
    )


def test_a_face_not_in_the_scan_fails_naming_the_faces_found(kling_connection):
    with pytest.raises(AirflowFailException, match=r"face 'nobody': not in the scan's faces \(0\)"):
        make(video_url=CLIP, face="nobody", audio_id="tts-1", sound_end_time=3000).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_deferred_the_scan_is_carried_to_the_resume_not_made_again(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    sessions = set(simulated.SESSIONS)
    operator = make(
        video_url=CLIP, sound_file=VOICE, sound_end_time=3000, deferrable=True, output_path=str(tmp_path)
    )
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["endpoint"] == "/v1/videos/advanced-lip-sync"

    event = asyncio.run(first_trigger_event(trigger))
    resumed = make(
        video_url=CLIP, sound_file=VOICE, sound_end_time=3000, deferrable=True, output_path=str(tmp_path)
    )
    result = resumed.execute_complete(context, event.payload, **deferred.value.kwargs)

    assert len(simulated.SESSIONS - sessions) == 1
    assert Path(result["videos"][0]["path"].removeprefix("file://")).is_file()


def test_a_retry_after_a_new_scan_resumes_the_same_sync(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    arguments = {"video_url": CLIP, "audio_id": "tts-1", "sound_end_time": 3000, "output_path": str(tmp_path)}
    make(**arguments).execute(make_context())
    make(**arguments).execute(make_context())  # a second try: a new session, the same request

    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_refused_request_fails_before_any_http_call(kling_connection):
    with pytest.raises(AirflowFailException, match="audio_id: give exactly one"):
        make(session_id="s1", face_id="0", sound_end_time=3000, sound_insert_time=0).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_a_lost_create_answer_holds_one_paid_task(kling_connection):
    kling_connection.set_progress("immediate")
    scan = KlingHook().answer(FaceScanRequest.build(video_url=CLIP))
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = LipSyncRequest.build(session_id=scan.session_id, **SYNC, external_task_id="lips-1")

    task = KlingHook().create_task(request)

    assert task.external_task_id == "lips-1"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_of_syncs_in_one_scans_session_stores_each_video(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    scan = KlingHook().answer(FaceScanRequest.build(video_id={"videos": [{"id": "v1", "duration": "5"}]}))
    face = scan.face(0)
    common = {"session_id": scan.session_id, "face_id": face.face_id, "sound_insert_time": face.start_time}
    with DAG("kling_lip_sync_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="lip-sync",
            requests=[
                {**common, "audio_id": "tts-1", "sound_end_time": 3000},
                {**common, "sound_file": VOICE, "sound_end_time": 9000},
            ],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(
        make_context(RecordingTaskInstance(dag_id="kling_lip_sync_batch", task_id="batch"))
    )

    assert summary["counts"] == {"succeeded": 2} and summary["videos_stored"] == 2
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert all(row["files"] for row in manifest["items"])


def test_the_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    hook = KlingHook()
    body = {"session_id": "never-scanned", "face_choose": [{"face_id": "0"}, {"face_id": "1"}]}
    with pytest.raises(KlingInvalidRequestError) as refused:
        hook._run(hook.call("POST", "/v1/videos/advanced-lip-sync", body=body))
    assert "session_id: is not a session of a face scan" in str(refused.value)
    assert "face_choose: must list exactly one face" in str(refused.value)


def test_a_scan_answer_with_a_numeric_face_id_reads_as_text():
    scan = FaceScanRequest.read({"session_id": "s", "face_data": [{"face_id": 7, "start_time": 1200}]})
    assert scan.face("7").start_time == 1200 and scan.face(0).face_id == "7"
