"""Video effects (``/v1/videos/effects``), a kind declared in one request module: its rules as
data, its operator on the worker and deferred, as a batch kind, and under a lost create answer,
all against the simulator's own rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import VideoEffectsRequest, kind_defaults, media_of
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.effects import KlingVideoEffectsOperator
from airflow_provider_kling.testing import make_png, mp4
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

PHOTO = make_png("a dog on a skateboard", 0, 400, 400)
URL_A, URL_B = "https://example.com/a.png", "https://example.com/b.png"


def make(**kwargs: Any) -> KlingVideoEffectsOperator:
    kwargs.setdefault("task_id", "effect")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_effects_dag", schedule=None):
        return KlingVideoEffectsOperator(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_the_body_nests_one_image_or_two_under_input_by_the_scene():
    single = VideoEffectsRequest.build(effect_scene="bloombloom", image=URL_A, external_task_id="e-1")
    dual = VideoEffectsRequest.build(effect_scene="hug_pro", images=[URL_A, URL_B])

    assert single.to_json() == {
        "external_task_id": "e-1",
        "effect_scene": "bloombloom",
        "input": {"image": URL_A},
    }
    assert dual.to_json() == {"effect_scene": "hug_pro", "input": {"images": [URL_A, URL_B]}}
    assert media_of("video-effects").noun == "video" and kind_defaults("video-effects") == {}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"effect_scene": "hug_pro", "image": URL_A}, "image: scene 'hug_pro' takes two images (images)"),
        ({"effect_scene": "hug_pro", "images": [URL_A]}, "images: scene 'hug_pro' takes exactly 2 images"),
        (
            {"effect_scene": "bloombloom", "images": [URL_A, URL_B]},
            "images: scene 'bloombloom' takes one image",
        ),
        ({"effect_scene": "bloombloom"}, "image: scene 'bloombloom' needs image"),
        ({"effect_scene": "kiss", "image": URL_A}, "effect_scene: Kling retired scene 'kiss' on 2026-01-30"),
        ({"effect_scene": "bloombloom", "image": "data:text/plain;base64,aGk="}, "image: "),
        ({"effect_scene": "bloombloom", "image": URL_A, "duration": 5}, "duration: Extra inputs"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(fields, message):
    with pytest.raises(KlingRequestValidationError, match="Invalid Kling video-effects request") as caught:
        VideoEffectsRequest.build(**fields)
    assert message in str(caught.value)


def test_an_unlisted_scene_is_passed_through_and_the_simulator_takes_it(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    image = tmp_path / "dog.png"
    image.write_bytes(PHOTO)

    result = make(
        effect_scene="a_scene_kling_added_today", image=f"file://{image}", output_path=str(tmp_path / "out")
    ).execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"]["effect_scene"] == "a_scene_kling_added_today"
    assert set(sent["request"]["input"]) == {"image"} and not sent["request"]["input"]["image"].startswith(
        "file:"
    )
    (video,) = result["videos"]
    assert [kind for kind, _, _ in mp4.read_boxes(local(video["path"]).read_bytes())] == [
        b"ftyp",
        b"moov",
        b"mdat",
    ]
    assert result["request_kind"] == "video-effects" and result["effect_scene"] == "a_scene_kling_added_today"
    assert float(result["final_unit_deduction"]) == 2.0


def test_a_dual_image_scene_on_the_worker_stores_the_video_and_warns_once_for_watermark_info(
    kling_connection, tmp_path, capsys
):
    kling_connection.set_progress("immediate")
    operator = make(
        effect_scene="hug_pro",
        images=[URL_A, URL_B],
        watermark_info={"enabled": True},
        output_path=str(tmp_path),
    )

    result = operator.execute(make_context())

    logged = capsys.readouterr().out  # the task logger writes to stdout
    assert logged.count("UNCONFIRMED") == 1 and "watermark_info is UNCONFIRMED" in logged
    (video,) = result["videos"]
    assert local(video["path"]).name == "effect_0.mp4"
    assert local(video["watermark_path"]).name == "effect_0_watermarked.mp4"
    (sent,) = kling_connection.tasks()
    assert sent["request"]["input"] == {"images": [URL_A, URL_B]}


def test_a_refused_request_fails_before_any_http_call(kling_connection):
    with pytest.raises(AirflowFailException, match="images: scene 'fight_pro' takes exactly 2 images"):
        make(effect_scene="fight_pro", images=[URL_A]).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_deferred_the_effect_is_polled_at_its_endpoint_and_stored_on_resume(kling_connection, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(effect_scene="bloombloom", image=URL_A, deferrable=True, output_path=str(tmp_path))
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["endpoint"] == "/v1/videos/effects"

    event = asyncio.run(first_trigger_event(trigger))
    result = operator.execute_complete(context, event.payload)

    assert local(result["videos"][0]["path"]).is_file()
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_lost_create_answer_holds_one_paid_task(kling_connection):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = VideoEffectsRequest.build(effect_scene="bloombloom", image=URL_A, external_task_id="effect-1")

    task = KlingHook().create_task(request)

    assert task.external_task_id == "effect-1"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_of_effects_stores_each_video_in_the_manifest_and_the_asset_event(kling_connection, tmp_path):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    kling_connection.set_progress("immediate")
    with DAG("kling_effects_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="video-effects",
            requests=[
                {"effect_scene": "bloombloom", "image": URL_A},
                {"effect_scene": "hug_pro", "images": [URL_A, URL_B]},
            ],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )
    (outlet,) = batch.outlets
    events = OutletEventAccessors()

    summary = batch.execute(
        make_context(
            RecordingTaskInstance(dag_id="kling_effects_batch", task_id="batch"), outlet_events=events
        )
    )

    assert summary["counts"] == {"succeeded": 2} and summary["videos_stored"] == 2
    assert summary["units"] == pytest.approx(4.0)  # the stand-in 2 units an effect, the simulator's too
    manifest = json.loads(local(summary["manifest"]).read_text())
    assert [item["media"] for item in manifest["items"]] == ["video", "video"]
    assert [local(item["videos"][0]["path"]).name for item in manifest["items"]] == [
        "batch_0_0.mp4",
        "batch_1_0.mp4",
    ]
    assert events[outlet].extra["video_count"] == 2


def test_the_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    from airflow_provider_kling.errors import KlingInvalidRequestError

    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match=r"input\.images: a dual-image scene takes exactly 2"):
        hook._run(
            hook.call(
                "POST", "/v1/videos/effects", body={"effect_scene": "hug_pro", "input": {"image": URL_A}}
            )
        )


def test_taskflow_runs_an_effect_through_the_video_decorators_kind(kling_connection, tmp_path):
    from airflow.sdk import task

    kling_connection.set_progress("immediate")

    def hug() -> dict[str, Any]:
        return {"effect_scene": "hug_pro", "images": [URL_A, URL_B]}

    with DAG("kling_effects_taskflow", schedule=None) as dag:
        task.kling_video(kind="video-effects", poll_interval=0.02, output_path=str(tmp_path))(hug)()
    (operator,) = dag.tasks
    assert isinstance(operator, KlingVideoEffectsOperator)

    result = operator.execute(make_context())

    assert result["effect_scene"] == "hug_pro" and local(result["videos"][0]["path"]).is_file()
