"""Requests in the model-path style (the video kinds with a 2026 model) and its task records."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.hooks.wire import MODEL_PATH
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from airflow_provider_kling.models.task import task_from_data
from airflow_provider_kling.models.video_capabilities import VIDEO_MODELS
from airflow_provider_kling.spend import units_of

FRAME = "https://example.com/first.png"
LAST = "https://example.com/last.png"


def refused(cls: Any, **fields: Any) -> str:
    with pytest.raises(KlingRequestValidationError) as caught:
        cls.build(**fields)
    return str(caught.value)


# --- requests in the model-path style ---------------------------------------------------------


def test_text_to_video_names_the_model_in_the_path_and_sends_prompt_settings_options() -> None:
    request = TextToVideoRequest.build(
        model_name="kling-3.0",
        prompt="a fox in snow",
        duration=8,
        resolution="4k",
        audio="native",
        aspect_ratio="9:16",
        multi_shot=True,
        external_task_id="run-1",
        callback_url="https://hooks.example.com/kling",
        watermark_info={"enabled": True},
    )
    assert MODEL_PATH.create_path(request) == "/text-to-video/kling-3.0"
    assert request.to_json() == {
        "prompt": "a fox in snow",
        "settings": {
            "resolution": "4k",
            "duration": 8,
            "aspect_ratio": "9:16",
            "audio": "native",
            "multi_shot": True,
        },
        "options": {
            "callback_url": "https://hooks.example.com/kling",
            "external_task_id": "run-1",
            "watermark_info": {"enabled": True},
        },
    }


def test_unset_settings_and_options_are_left_out() -> None:
    assert TextToVideoRequest.build(model_name="kling-3.0-turbo", prompt="a kite").to_json() == {
        "prompt": "a kite"
    }


def test_image_to_video_sends_contents_entries() -> None:
    request = ImageToVideoRequest.build(
        model_name="kling-3.0", prompt="she smiles", first_frame=FRAME, last_frame=LAST, element_ids=[7]
    )
    assert MODEL_PATH.create_path(request) == "/image-to-video/kling-3.0"
    assert request.to_json()["contents"] == [
        {"type": "prompt", "text": "she smiles"},
        {"type": "first_frame", "url": FRAME},
        {"type": "last_frame", "url": LAST},
        {"type": "element", "element_id": 7, "id": "element_1"},
    ]


def test_omni_video_sends_reference_images_and_a_video() -> None:
    body = OmniVideoRequest.build(
        model_name="kling-3.0-omni",
        prompt="<<<image_1>>> walks in",
        reference_images=["https://example.com/a.png"],
        feature_video="https://example.com/ref.mp4",
        audio="off",
    ).to_json()
    assert body["contents"] == [
        {"type": "prompt", "text": "<<<image_1>>> walks in"},
        {"type": "refer_image", "url": "https://example.com/a.png", "id": "image_1"},
        {"type": "feature_video", "url": "https://example.com/ref.mp4", "id": "video_1"},
    ]
    assert body["settings"] == {"audio": "off"}


@pytest.mark.parametrize(
    ("cls", "fields", "rule"),
    [
        (
            TextToVideoRequest,
            {"model_name": "kling-3.0-omni"},
            "model_name: must be one of kling-v1, kling-v1-6",
        ),
        (
            OmniVideoRequest,
            {"model_name": "kling-3.0"},
            "model_name: must be one of kling-video-o1, kling-v3-omni, kling-3.0-omni, kling-o1",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-3.0-turbo", "audio": "native"},
            "kling-3.0-turbo takes no audio",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-2.6", "duration": 7},
            "duration: kling-2.6 makes videos of 5 or 10 seconds",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-3.0", "duration": 16},
            "duration: kling-3.0 makes videos of 3-15 seconds",
        ),
        (
            OmniVideoRequest,
            {"model_name": "kling-o1", "duration": 12},
            "duration: kling-o1 makes videos of 3-10 seconds",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-2.6", "resolution": "4k"},
            "resolution: kling-2.6 supports resolution 720p, 1080p",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-2.6", "multi_shot": True},
            "multi_shot: kling-2.6 has no multi-shot; models that do: kling-3.0",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-2.6", "audio": "native", "resolution": "720p"},
            "with audio makes 1080p only",
        ),
        (
            OmniVideoRequest,
            {"model_name": "kling-o1", "audio": "native"},
            "audio: kling-o1 takes original, off",
        ),
        (
            TextToVideoRequest,
            {"model_name": "kling-2.5-turbo", "prompt": "x" * 2501},
            "at most 2500 characters",
        ),
        (TextToVideoRequest, {"model_name": "kling-3.0", "aspect_ratio": "4:3"}, "aspect_ratio"),
    ],
)
def test_a_request_breaking_its_models_row_is_refused_naming_the_field(
    cls: Any, fields: dict[str, Any], rule: str
) -> None:
    assert rule in refused(cls, **{"prompt": "a fox", **fields})


def test_turbo_takes_a_3072_character_prompt_on_text_to_video_only() -> None:
    assert TextToVideoRequest.build(model_name="kling-3.0-turbo", prompt="x" * 3072).prompt
    message = refused(ImageToVideoRequest, model_name="kling-3.0-turbo", prompt="x" * 3072, first_frame=FRAME)
    assert "prompt: kling-3.0-turbo takes at most 2500 characters" in message


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        (
            {"model_name": "kling-3.0-turbo", "last_frame": LAST},
            "last_frame: kling-3.0-turbo takes a first frame only",
        ),
        ({"model_name": "kling-3.0", "element_ids": [1, 2, 3, 4]}, "element_ids: kling-3.0 takes at most 3"),
        (
            {"model_name": "kling-2.6", "voice_ids": ["a", "b", "c"]},
            "voice_ids: List should have at most 2 items",
        ),
        (
            {"model_name": "kling-3.0", "voice_ids": ["a"]},
            "voice_ids: kling-3.0 takes no voices; models that do: kling-2.6",
        ),
        (
            {"model_name": "kling-2.5-turbo", "last_frame": LAST, "resolution": "720p"},
            "with a first and a last frame makes 1080p only",
        ),
        ({"model_name": "kling-3.0", "aspect_ratio": "16:9"}, "aspect_ratio: Extra inputs are not permitted"),
        ({"model_name": "kling-3.0", "first_frame": "data:image/png;base64,AAAA"}, "first_frame: "),
    ],
)
def test_image_to_video_rules(fields: dict[str, Any], rule: str) -> None:
    assert rule in refused(ImageToVideoRequest, **{"first_frame": FRAME, **fields})


def test_image_to_video_needs_a_first_frame() -> None:
    assert "first_frame: required" in refused(ImageToVideoRequest, model_name="kling-3.0")


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"feature_video": "https://e.com/v.mp4", "audio": "native"}, "a feature_video turns audio off"),
        ({"base_video": "https://e.com/v.mp4", "audio": "native"}, "a base_video allows no native audio"),
        (
            {"base_video": "https://e.com/v.mp4", "first_frame": FRAME},
            "a base_video takes no first or last frame",
        ),
        ({"base_video": "ftp://e.com/v.mp4"}, "must be an http:// or https:// URL"),
        ({"feature_video": "https://e.com/a.mp4", "base_video": "https://e.com/b.mp4"}, "one video at most"),
    ],
)
def test_omni_video_rules(fields: dict[str, Any], rule: str) -> None:
    assert rule in refused(OmniVideoRequest, **{"model_name": "kling-3.0-omni", "prompt": "a fox", **fields})


def test_every_model_row_is_reachable_through_a_request_kind() -> None:
    reachable = set(TextToVideoRequest.model_path_models) | set(OmniVideoRequest.model_path_models)
    assert reachable == {name for name, row in VIDEO_MODELS.items() if row.style is ApiStyle.MODEL_PATH}


# --- task records -------------------------------------------------------------------------------

RECORD: dict[str, Any] = {
    "id": "867283741759111202",
    "status": "succeeded",
    "message": "",
    "create_time": 1781080778802,
    "update_time": 1781080794151,
    "external_id": "run-1",
    "outputs": [
        {
            "video": {
                "id": "v1",
                "url": "https://cdn.example.com/v.mp4",
                "watermark_url": "https://cdn.example.com/w.mp4",
                "duration": "5",
            }
        }
    ],
    "billing": [
        {"charge_type": "unit", "amount": "4.5", "currency": "", "package_type": "video"},
        {"charge_type": "cash", "amount": "0.80", "currency": "USD", "package_type": ""},
    ],
}


def test_a_succeeded_record_reads_as_the_same_task_model_as_a_v1_task() -> None:
    task = task_from_data(RECORD, "a task")
    assert (task.task_id, task.task_status, task.external_task_id) == (
        "867283741759111202",
        "succeed",
        "run-1",
    )
    assert task.task_status.is_final
    assert [video.url for video in task.videos] == ["https://cdn.example.com/v.mp4"]
    assert units_of(task.final_unit_deduction) == 4.5
    assert task.final_balance_deduction is not None and task.final_balance_deduction.quota == "0.80"
    assert task.to_xcom()["videos"] == [
        {
            "id": "v1",
            "url": "https://cdn.example.com/v.mp4",
            "duration": "5",
            "watermark_url": "https://cdn.example.com/w.mp4",
        }
    ]
    assert task.to_xcom()["created_at"] == "2026-06-10T08:39:38.802000+00:00"


def test_image_outputs_are_numbered_by_position() -> None:
    record = {
        **RECORD,
        "outputs": [
            {"image": {"url": "https://e.com/0.png"}},
            {"type": "image", "url": "https://e.com/1.png"},
        ],
    }
    task = task_from_data(record, "a task")
    assert [(image.index, image.url) for image in task.images] == [
        (0, "https://e.com/0.png"),
        (1, "https://e.com/1.png"),
    ]
    assert "videos" not in task.to_xcom()


def test_a_failed_record_keeps_its_message_and_a_running_one_has_no_deduction() -> None:
    failed = task_from_data(
        {"id": "1", "status": "failed", "message": "risk control", "billing": []}, "a task"
    )
    assert (failed.task_status, failed.task_status_msg) == ("failed", "risk control")
    running = task_from_data({"id": "2", "status": "processing", "create_time": 1, "update_time": 2}, "t")
    assert running.final_unit_deduction is None and running.task_status == "processing"


def test_unreadable_billing_amounts_are_skipped_not_fatal() -> None:
    record = {
        **RECORD,
        "billing": [{"charge_type": "unit", "amount": "n/a"}, {"charge_type": "unit", "amount": 2}],
    }
    assert task_from_data(record, "a task").final_unit_deduction == "2"


def test_a_v1_task_is_still_read_as_before() -> None:
    task = task_from_data(
        {"task_id": "9", "task_status": "succeed", "task_result": {"images": [{"url": "u"}]}}, "t"
    )
    assert task.images[0].index == 0 and task.videos == []
