"""Motion control in both API styles from one request module: the body each style takes, Kling's
rules as data (refused before any HTTP call), the operator on the worker and deferred, a batch of
both styles, and a lost create answer, against the simulator's own rules."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError
from airflow_provider_kling.estimates import purchase_of
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import MotionControlRequest
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.motion import KlingMotionControlOperator
from airflow_provider_kling.testing import make_png, mp4
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

CHARACTER, MOTION = "https://example.com/dancer.png", "https://example.com/dance.mp4"
ELEMENT = 829836802793406551  # needs 64 bits: kept exact as a string
BASE = {"image": CHARACTER, "video": MOTION, "character_orientation": "image"}


def make(**kwargs: Any) -> KlingMotionControlOperator:
    kwargs.setdefault("task_id", "motion")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_motion_dag", schedule=None):
        return KlingMotionControlOperator(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_each_style_gets_its_own_body_from_the_same_fields():
    v1 = MotionControlRequest.build(**BASE, resolution="1080p", keep_original_sound="no", prompt="dance")
    new = MotionControlRequest.build(
        **{**BASE, "character_orientation": "video"},
        model_name="kling-3.0",
        audio="off",
        element_ids=[ELEMENT],
        prompt="<<<element_1>>> dances",
        external_task_id="m-1",
    )

    assert v1.endpoint == "/v1/videos/motion-control"
    assert v1.to_json() == {
        "model_name": "kling-v2-6",
        "image_url": CHARACTER,
        "video_url": MOTION,
        "character_orientation": "image",
        "prompt": "dance",
        "mode": "pro",
        "keep_original_sound": "no",
    }
    assert new.endpoint == "/motion-control"
    assert new.to_json() == {
        "contents": [
            {"type": "image", "url": CHARACTER},
            {"type": "video", "url": MOTION},
            {"type": "prompt", "text": "<<<element_1>>> dances"},
            {"type": "element", "element_id": str(ELEMENT), "id": "element_1"},
        ],
        "settings": {"character_orientation": "video", "audio": "off"},
        "options": {"external_task_id": "m-1"},
    }
    v3 = MotionControlRequest.build(
        **{**BASE, "character_orientation": "video"}, model_name="kling-v3", element_ids=[str(ELEMENT)]
    )
    assert v3.to_json()["element_list"] == [{"element_id": ELEMENT}]  # /v1 wants the number, exact


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"model_name": "kling-2.6", "keep_original_sound": "yes"},
            "keep_original_sound: kling-2.6 (model-path API) takes no keep_original_sound; "
            "models that do: kling-v2-6, kling-v3",
        ),
        ({"audio": "off"}, "audio: kling-v2-6 (v1 API) takes no audio; models that do: kling-2.6, kling-3.0"),
        (
            {"model_name": "kling-2.6", "element_ids": ["1"], "character_orientation": "video"},
            "element_ids: kling-2.6 takes no element; models that do: kling-v3, kling-3.0",
        ),
        (
            {"model_name": "kling-3.0", "element_ids": ["1"]},
            "character_orientation: an element needs 'video'",
        ),
        (
            {"model_name": "kling-3.0", "element_ids": ["1", "2"], "character_orientation": "video"},
            "element_ids: List should have at most 1 item",
        ),
        ({"resolution": "4k"}, "resolution: Input should be '720p' or '1080p'"),
        ({"video": "file:///tmp/dance.mp4"}, "video: must be an http:// or https:// URL with a host name"),
        ({"character_orientation": "side"}, "character_orientation: Input should be 'image' or 'video'"),
        ({"duration": 5}, "duration: Extra inputs are not permitted"),
        (
            {"model_name": "kling-v2-5-turbo"},
            "model_name: must be one of kling-v2-6, kling-v3, kling-2.6, kling-3.0",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields, message):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling motion-control request") as caught:
        MotionControlRequest.build(**{**BASE, **fields})
    assert message in str(caught.value)


def test_an_estimate_prices_the_longest_output_the_reference_allows():
    short = purchase_of(MotionControlRequest.build(**BASE, resolution="1080p"))
    long = purchase_of(
        MotionControlRequest.build(**{**BASE, "character_orientation": "video"}, model_name="kling-3.0")
    )

    assert (short.model, short.tier, short.quantity, short.per) == ("kling-v2-6", "1080p", 10, "second")
    assert (long.model, long.tier, long.quantity) == ("kling-3.0", "720p", 30)


def test_v1_on_the_worker_sends_the_stored_image_and_warns_once_for_an_unconfirmed_field(
    kling_connection, tmp_path, capsys
):
    kling_connection.set_progress("immediate")
    photo = tmp_path / "dancer.png"
    photo.write_bytes(make_png("a dancer", 0, 400, 400))

    result = make(
        image=f"file://{photo}",
        video=MOTION,
        character_orientation="video",
        model_name="kling-v3",
        element_ids=[ELEMENT],
        output_path=str(tmp_path / "out"),
    ).execute(make_context())

    logged = capsys.readouterr().out
    assert logged.count("UNCONFIRMED") == 1 and "element_ids is UNCONFIRMED" in logged
    (sent,) = kling_connection.tasks()
    assert base64.b64decode(sent["request"]["image_url"]) == photo.read_bytes()
    assert sent["request"]["element_list"] == [{"element_id": ELEMENT}]
    (video,) = result["videos"]
    assert [box for box, _, _ in mp4.read_boxes(local(video["path"]).read_bytes())] == [
        b"ftyp",
        b"moov",
        b"mdat",
    ]
    assert result["request_kind"] == "motion-control" and result["api_style"] == "v1"
    assert float(result["final_unit_deduction"]) == pytest.approx(0.9 * 5)


def test_the_model_path_style_on_the_worker(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")

    result = make(
        image=CHARACTER,
        video=MOTION,
        character_orientation="video",
        model_name="kling-3.0",
        resolution="1080p",
        element_ids=[str(ELEMENT)],
        prompt="<<<element_1>>> dances",
        output_path=str(tmp_path),
    ).execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"]["settings"] == {"character_orientation": "video", "resolution": "1080p"}
    assert {"type": "element", "element_id": str(ELEMENT), "id": "element_1"} in sent["request"]["contents"]
    assert result["api_style"] == "model-path" and local(result["videos"][0]["path"]).is_file()
    assert float(result["final_unit_deduction"]) == pytest.approx(1.2 * 5)


def test_a_refused_request_fails_before_any_http_call(kling_connection):
    with pytest.raises(AirflowFailException, match="audio: kling-v2-6 \\(v1 API\\) takes no audio"):
        make(**BASE, audio="off").execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


@pytest.mark.parametrize(
    ("model", "endpoint"), [("kling-v2-6", "/v1/videos/motion-control"), ("kling-2.6", "/motion-control")]
)
def test_deferred_the_video_is_polled_in_its_style_and_stored_on_resume(
    kling_connection, tmp_path, model, endpoint
):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(**BASE, model_name=model, deferrable=True, output_path=str(tmp_path))
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.serialize()[1]["endpoint"] == endpoint

    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    result = operator.execute_complete(context, event.payload)

    assert local(result["videos"][0]["path"]).is_file()
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


@pytest.mark.parametrize("model", ["kling-v2-6", "kling-3.0"])
def test_a_lost_create_answer_holds_one_paid_task(kling_connection, model):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = MotionControlRequest.build(**BASE, model_name=model, external_task_id=f"motion-{model}")

    task = KlingHook().create_task(request)

    assert task.external_task_id == f"motion-{model}"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_of_both_styles_stores_each_video(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    with DAG("kling_motion_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="motion-control",
            requests=[{**BASE}, {**BASE, "model_name": "kling-3.0", "audio": "off"}],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(make_context(RecordingTaskInstance(dag_id="kling_motion_batch", task_id="batch")))

    assert summary["counts"] == {"succeeded": 2} and summary["videos_stored"] == 2
    assert summary["units"] == pytest.approx(0.5 * 5 + 0.9 * 5)
    manifest = json.loads(local(summary["manifest"]).read_text())
    assert [local(item["videos"][0]["path"]).name for item in manifest["items"]] == [
        "batch_0_0.mp4",
        "batch_1_0.mp4",
    ]


def test_the_simulator_refuses_what_kling_refuses_in_each_style(kling_connection):
    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match="character_orientation: is required"):
        hook._run(
            hook.call("POST", "/v1/videos/motion-control", body={"image_url": CHARACTER, "video_url": MOTION})
        )
    body = {"contents": [{"type": "image", "url": CHARACTER}], "settings": {"character_orientation": "image"}}
    with pytest.raises(KlingInvalidRequestError, match="contents: needs exactly one video"):
        hook._run(hook.call("POST", "/motion-control/kling-3.0", body=body))


def test_taskflow_runs_motion_control_through_the_video_decorators_kind(kling_connection, tmp_path):
    from airflow.sdk import task

    kling_connection.set_progress("immediate")

    def dance() -> dict[str, Any]:
        return {**BASE, "model_name": "kling-2.6", "prompt": "the dancer spins"}

    with DAG("kling_motion_taskflow", schedule=None) as dag:
        task.kling_video(kind="motion-control", poll_interval=0.02, output_path=str(tmp_path))(dance)()
    (operator,) = dag.tasks
    assert isinstance(operator, KlingMotionControlOperator)

    result = operator.execute(make_context())

    assert result["request_kind"] == "motion-control" and result["api_style"] == "model-path"
    assert local(result["videos"][0]["path"]).is_file()
