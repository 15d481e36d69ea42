"""The video operators (operators/video.py) on the one operator base, against the simulator: each
endpoint's request, videos stored with their watermarked copies, chaining image -> image2video ->
extend through plain XCom, refusals before any HTTP call, resume without a second create, deferral."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.operators.video import (
    KlingImageToVideoOperator,
    KlingMultiImageToVideoOperator,
    KlingOmniVideoOperator,
    KlingTextToVideoOperator,
    KlingVideoExtendOperator,
)
from airflow_provider_kling.testing import make_png, mp4
from tests.unit.task_context import (
    DictTaskStateStore,
    RecordingTaskInstance,
    first_trigger_event,
    make_context,
)
from tests.unit.test_operator_storage import BUCKET, moto_endpoint, s3  # noqa: F401  (fixtures)

PHOTO = make_png("a linen shirt on white", 0, 400, 400)


def make(operator_class: type, **kwargs: Any) -> Any:
    kwargs.setdefault("task_id", "video")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_video_dag", schedule=None):
        return operator_class(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_text_to_video_stores_the_mp4_and_its_watermarked_copy(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    operator = make(
        KlingTextToVideoOperator,
        prompt="a linen shirt turning slowly",
        duration=10,
        resolution="pro",
        watermark_info={"enabled": True},
        output_path=str(tmp_path / "out"),
    )

    result = operator.execute(make_context())

    (video,) = result["videos"]
    assert video["duration"] == "10" and video["id"]
    assert local(video["path"]).name == "video_0.mp4"
    assert local(video["watermark_path"]).name == "video_0_watermarked.mp4"
    boxes = [kind for kind, _, _ in mp4.read_boxes(local(video["path"]).read_bytes())]
    assert boxes == [b"ftyp", b"moov", b"mdat"]
    assert result["request_kind"] == "text2video" and result["duration"] == 10 and result["tier"] == "pro"
    assert float(result["final_unit_deduction"]) > 0
    (sent,) = kling_connection.tasks()
    assert sent["request"]["duration"] == "10"


def test_a_refused_request_fails_before_any_http_call(kling_connection):
    operator = make(KlingTextToVideoOperator, prompt="p", model_name="kling-v2-6", cfg_scale=0.5)

    with pytest.raises(AirflowFailException, match="cfg_scale: kling-v2-6 rejects cfg_scale"):
        operator.execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_an_argument_the_endpoint_lacks_is_refused_at_parse_time():
    with pytest.raises(TypeError, match="aspect_ratio"):
        make(KlingImageToVideoOperator, first_frame="https://example.com/a.png", aspect_ratio="16:9")


def test_image_result_to_image_to_video_to_extend_through_plain_xcom(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    out = str(tmp_path / "out")
    image_result = make(
        KlingImageGenerationOperator,
        task_id="image",
        prompt="a shirt",
        model_name="kling-v2-1",
        resolution="2k",  # the simulator's 2k square is 512 px: Kling wants 300 px a side
        aspect_ratio="1:1",
        n=1,
        output_path=out,
    ).execute(make_context())

    clip = make(KlingImageToVideoOperator, task_id="clip", first_frame=image_result, output_path=out).execute(
        make_context()
    )
    longer = make(KlingVideoExtendOperator, task_id="longer", video_id=clip, prompt="zoom out").execute(
        make_context()
    )

    _image_task, clip_task, extend_task = sorted(
        kling_connection.tasks(), key=lambda task: task["created_at"]
    )
    stored_image = local(image_result["images"][0]["path"]).read_bytes()
    assert base64.b64decode(clip_task["request"]["image"]) == stored_image  # the stored file, not Kling's URL
    assert extend_task["request"]["video_id"] == clip["videos"][0]["id"]
    assert longer["parent_video"]["id"] == clip["videos"][0]["id"]
    assert longer["videos"][0]["duration"] == "10"


def test_extend_refuses_a_source_over_kling_limits_before_sending(kling_connection):
    old = {
        "task_id": "T1",
        "updated_at": (datetime.now(UTC) - timedelta(days=31)).isoformat(),
        "videos": [{"id": "v1", "url": "u", "duration": "5"}],
    }
    long = {"task_id": "T2", "videos": [{"id": "v2", "url": "u", "duration": "178"}]}

    with pytest.raises(AirflowFailException, match="made 31 days ago; Kling extends only videos under 30"):
        make(KlingVideoExtendOperator, video_id=old).execute(make_context())
    with pytest.raises(AirflowFailException, match=r"is 178 s long.*at most 180 s"):
        make(KlingVideoExtendOperator, video_id=long).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_omni_and_multi_image_videos(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    image = tmp_path / "shirt.png"
    image.write_bytes(PHOTO)

    omni = make(
        KlingOmniVideoOperator,
        task_id="omni",
        prompt="<<<image_1>>> on a runway",
        reference_images=[f"file://{image}"],
        aspect_ratio="9:16",
        output_path=str(tmp_path / "out"),
    ).execute(make_context())
    multi = make(
        KlingMultiImageToVideoOperator,
        task_id="multi",
        image_list=[f"file://{image}", "https://example.com/b.png"],
        prompt="they dance",
        output_path=str(tmp_path / "out"),
    ).execute(make_context())

    assert omni["request_kind"] == "omni-video" and local(omni["videos"][0]["path"]).is_file()
    assert multi["request_kind"] == "multi-image2video" and local(multi["videos"][0]["path"]).is_file()


def test_a_retry_resumes_the_video_task_without_a_second_create(kling_connection, tmp_path):
    kling_connection.set_progress("manual")
    store = DictTaskStateStore()
    ti = RecordingTaskInstance(task_id="video")
    operator = make(KlingTextToVideoOperator, prompt="p", output_path=str(tmp_path / "out"), timeout=0.3)

    with pytest.raises(Exception):  # noqa: B017 - the first try times out waiting
        operator.execute(make_context(ti, task_state_store=store))
    kling_connection.advance(to="succeed")
    retry = make(KlingTextToVideoOperator, prompt="p", output_path=str(tmp_path / "out"))
    result = retry.execute(make_context(ti, task_state_store=store))

    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert local(result["videos"][0]["path"]).is_file()


def test_deferred_video_is_polled_at_its_endpoint_and_stored_on_resume(kling_connection, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(
        KlingImageToVideoOperator,
        first_frame="https://example.com/a.png",
        deferrable=True,
        output_path=str(tmp_path / "out"),
    )
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["endpoint"] == "/v1/videos/image2video"

    event = asyncio.run(first_trigger_event(trigger))
    result = operator.execute_complete(context, event.payload)

    assert local(result["videos"][0]["path"]).is_file()
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_video_over_the_cap_is_not_stored_and_fails_the_task(kling_simulator, monkeypatch, tmp_path):
    import json

    conn = {
        "conn_type": "kling",
        "host": kling_simulator.base_url,
        "password": kling_simulator.api_key,
        "extra": {"max_video_bytes": 1024 * 1024},
    }
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    kling_simulator.set_progress("immediate")
    kling_simulator.image_fault("huge", size=2 * 1024 * 1024)
    operator = make(KlingTextToVideoOperator, prompt="p", output_path=str(tmp_path / "out"))

    with pytest.raises(Exception, match="more than max_video_bytes"):
        operator.execute(make_context())
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_unconfirmed_multi_shot_fields_are_sent_with_a_warning(kling_connection, tmp_path, caplog):
    kling_connection.set_progress("immediate")
    operator = make(
        KlingTextToVideoOperator,
        prompt="a story",
        model_name="kling-v3",
        duration=8,
        multi_shot=True,
        shot_type="customize",
        multi_prompt=[{"index": 1, "prompt": "a", "duration": 3}, {"index": 2, "prompt": "b", "duration": 5}],
    )
    operator.execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"]["multi_prompt"][1]["duration"] == "5"


def test_the_asset_event_describes_the_stored_videos_and_their_units(kling_connection, tmp_path):
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    kling_connection.set_progress("immediate")
    operator = make(
        KlingTextToVideoOperator, prompt="p", watermark_info={"enabled": True}, output_path=str(tmp_path)
    )
    events = OutletEventAccessors()

    result = operator.execute(make_context(RecordingTaskInstance(task_id="video"), outlet_events=events))

    assert operator.outlets == [Asset(f"file://{tmp_path}")]
    extra = events[operator.outlets[0]].extra
    (video,) = result["videos"]
    assert (extra["video_count"], extra["image_count"]) == (1, 0)
    assert extra["paths"] == [video["path"]]
    assert extra["units"] == float(result["final_unit_deduction"]) > 0


def test_videos_and_watermarked_copies_go_to_an_object_store_and_a_retry_downloads_nothing(
    kling_connection, request
):
    client = request.getfixturevalue("s3")
    kling_connection.set_progress("immediate")
    kwargs = {
        "prompt": "p",
        "watermark_info": {"enabled": True},
        "output_path": f"s3://{BUCKET}/videos",
        "output_conn_id": "aws_default",
    }
    store = DictTaskStateStore()
    ti = RecordingTaskInstance(task_id="video")

    result = make(KlingTextToVideoOperator, **kwargs).execute(make_context(ti, task_state_store=store))
    again = make(KlingTextToVideoOperator, **kwargs).execute(make_context(ti, task_state_store=store))

    (video,) = result["videos"]
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert [key.rsplit("/", 1)[-1] for key in keys] == ["video_0.mp4", "video_0_watermarked.mp4"]
    body = client.get_object(Bucket=BUCKET, Key=video["path"].removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    assert body[4:8] == b"ftyp"
    assert again["videos"][0]["path"] == video["path"]
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["creates"], counters["videos"]) == (1, 2)  # the retry resumed and downloaded nothing
