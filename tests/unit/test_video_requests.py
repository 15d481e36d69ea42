"""Video request kinds (models/requests/video_*.py): every documented rule refused before any HTTP
call with the field, the rule and the value named; the per-model rules come from one table."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import (
    REQUEST_KINDS,
    ImageToVideoRequest,
    KlingVideoRequest,
    MultiImageToVideoRequest,
    OmniVideoRequest,
    TextToVideoRequest,
    VideoExtendRequest,
    endpoint_path,
    request_class,
)
from airflow_provider_kling.models.requests.video_extend import extend_source_problems
from airflow_provider_kling.testing import make_png

PHOTO = base64.b64encode(make_png("photo", 0, 400, 400)).decode()
SMALL = base64.b64encode(make_png("small", 0, 200, 200)).decode()
URL = "https://example.com/first.png"
VIDEO_URL = "https://example.com/clip.mp4"


def refused(cls: type, **fields: object) -> str:
    with pytest.raises(KlingRequestValidationError) as caught:
        cls.build(**fields)
    return str(caught.value)


def test_video_kinds_are_registered_at_their_paths():
    paths = {
        "text2video": "/v1/videos/text2video",
        "image2video": "/v1/videos/image2video",
        "omni-video": "/v1/videos/omni-video",
        "video-extend": "/v1/videos/video-extend",
        "multi-image2video": "/v1/videos/multi-image2video",
    }
    for kind, path in paths.items():
        cls = request_class(kind)
        assert issubclass(cls, KlingVideoRequest)
        assert cls.path == cls.paths[ApiStyle.V1] == path == endpoint_path(kind)
        assert cls.output == "video" and cls.task_slots == 1
    assert set(paths) <= set(REQUEST_KINDS)


def test_text2video_v1_body_sends_durations_as_strings_resolution_as_mode_and_audio_as_sound():
    request = TextToVideoRequest.build(prompt="a red fox", duration=10, audio=True, resolution="1080p")

    assert request.to_json() == {
        "model_name": "kling-v2-6",
        "prompt": "a red fox",
        "mode": "pro",
        "duration": "10",
        "sound": "on",
    }


def test_units_basis_gives_what_an_estimate_needs_with_klings_defaults():
    assert TextToVideoRequest.build(prompt="p").units_basis == {
        "model_name": "kling-v2-6",
        "tier": "std",
        "duration": 5,
        "sound": False,
    }
    master = TextToVideoRequest.build(prompt="p", model_name="kling-v2-master", duration="10")
    assert master.units_basis == {
        "model_name": "kling-v2-master",
        "tier": None,
        "duration": 10,
        "sound": False,
    }
    assert OmniVideoRequest.build(prompt="p", aspect_ratio="1:1").effective_mode == "pro"
    assert VideoExtendRequest.build(video_id="v1").units_basis["duration"] is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": "p", "model_name": "kling-v1"}, "model_name: Kling discontinued kling-v1"),
        ({"prompt": "p", "model_name": "kling-v2-1"}, "model_name: must be one of kling-v1, kling-v1-6"),
        (
            {"prompt": "p", "resolution": "4k"},
            "resolution: kling-v2-6 supports resolution 720p, 1080p (got '4k')",
        ),
        (
            {"prompt": "p", "model_name": "kling-v2-master", "mode": "std"},
            "mode: Extra inputs are not permitted",
        ),
        (
            {"prompt": "p", "model_name": "kling-v2-master", "resolution": "std"},
            "kling-v2-master takes no resolution (mode)",
        ),
        ({"prompt": "p", "duration": 7}, "duration: kling-v2-6 makes videos of 5 or 10 seconds (got 7)"),
        ({"prompt": "p", "model_name": "kling-v3", "duration": 16}, "makes videos of 3-15 seconds"),
        (
            {"prompt": "p", "duration": "five"},
            "duration: must be a whole number of seconds, like 5 or '5' (got 'five')",
        ),
        ({"prompt": "p", "cfg_scale": 0.5}, "cfg_scale: kling-v2-6 rejects cfg_scale (kling-v2.x models do)"),
        (
            {"prompt": "p", "model_name": "kling-v1-6", "cfg_scale": 1.5},
            "cfg_scale: Input should be less than",
        ),
        (
            {"prompt": "p", "model_name": "kling-v2-5-turbo", "audio": "native"},
            "audio: kling-v2-5-turbo takes no audio setting; models that do: kling-v2-6, kling-v3",
        ),
        ({"prompt": "p", "aspect_ratio": "4:3"}, "aspect_ratio: Input should be '16:9', '9:16' or '1:1'"),
        ({"prompt": "x" * 2501}, "prompt: kling-v2-6 takes at most 2500 characters (got 2501)"),
        ({"prompt": "  "}, "prompt: must not be blank"),
        ({"prompt": "p", "camera_control": {"type": "simple"}}, "type 'simple' needs a config"),
        (
            {"prompt": "p", "camera_control": {"type": "simple", "config": {"pan": 3, "zoom": -2}}},
            "exactly one of horizontal, vertical, pan, tilt, roll, zoom must be non-zero "
            "(got pan=3, zoom=-2)",
        ),
        (
            {"prompt": "p", "camera_control": {"type": "simple", "config": {"tilt": 11}}},
            "camera_control.config.tilt: Input should be less than or equal to 10",
        ),
        (
            {"prompt": "p", "camera_control": {"type": "down_back", "config": {"pan": 1}}},
            "type 'down_back' is a preset and takes no config",
        ),
        ({"prompt": "p", "element_ids": [3]}, "element_ids: kling-v2-6 takes no elements"),
        (
            {"prompt": "p", "multi_shot": True},
            "multi_shot: kling-v2-6 has no multi-shot; models that do: kling-v3",
        ),
    ],
)
def test_text2video_refuses_each_rule_naming_field_rule_and_value(fields, expected):
    message = refused(TextToVideoRequest, **fields)

    assert message.startswith("Invalid Kling text2video request: ")
    assert expected in message


def test_camera_control_with_one_movement_is_sent_as_given():
    request = TextToVideoRequest.build(
        prompt="p", model_name="kling-v1-6", camera_control={"type": "simple", "config": {"zoom": -10}}
    )
    assert request.to_json()["camera_control"] == {
        "type": "simple",
        "config": {"horizontal": 0.0, "vertical": 0.0, "pan": 0.0, "tilt": 0.0, "roll": 0.0, "zoom": -10.0},
    }


def test_v3_takes_4k_fifteen_seconds_and_flags_its_unconfirmed_multi_shot_fields():
    request = TextToVideoRequest.build(
        prompt="a story",
        model_name="kling-v3",
        resolution="4k",
        duration=15,
        multi_shot=True,
        shot_type="customize",
        multi_prompt=[
            {"index": 1, "prompt": "wide shot", "duration": 5},
            {"index": 2, "prompt": "close-up", "duration": "10"},
        ],
    )

    assert request.to_json()["multi_prompt"][1] == {"index": 2, "prompt": "close-up", "duration": "10"}
    assert set(request.unconfirmed_fields()) == {"multi_shot", "shot_type", "multi_prompt"}
    assert TextToVideoRequest.build(prompt="p").unconfirmed_fields() == {}
    elements = TextToVideoRequest.build(prompt="p", model_name="kling-v3", element_ids=[7])
    assert set(elements.unconfirmed_fields()) == {"element_ids"}
    omni = OmniVideoRequest.build(prompt="<<<element_1>>>", element_ids=[7], aspect_ratio="16:9")
    assert omni.unconfirmed_fields() == {}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"shot_type": "intelligence"}, "shot_type: only with multi_shot=True"),
        ({"multi_shot": True, "shot_type": "customize"}, "multi_prompt: required with shot_type 'customize'"),
        (
            {"multi_shot": True, "multi_prompt": [{"index": 1, "prompt": "a", "duration": 3}]},
            "the shots' durations add up to 3 s, but duration is 5 s",
        ),
        (
            {"multi_shot": True, "multi_prompt": [{"index": 2, "prompt": "a", "duration": 5}]},
            "numbered 1, 2, ... in order (got indices [2])",
        ),
        (
            {
                "multi_shot": True,
                "multi_prompt": [{"index": i, "prompt": "a", "duration": 1} for i in range(1, 8)],
            },
            "multi_prompt: List should have at most 6 items",
        ),
        (
            {"multi_shot": True, "multi_prompt": [{"index": 1, "prompt": "a" * 513, "duration": 5}]},
            "multi_prompt.0.prompt: String should have at most 512 characters",
        ),
    ],
)
def test_multi_shot_rules(fields, expected):
    assert expected in refused(TextToVideoRequest, prompt="p", model_name="kling-v3", **fields)


def test_blank_template_renders_leave_optional_fields_unset():
    request = TextToVideoRequest.build(
        prompt="p", negative_prompt="", resolution="", duration="", element_ids=[]
    )
    assert request.to_json() == {"model_name": "kling-v2-6", "prompt": "p"}
    # every optional field is, whatever its type (a template renders an unset number as "" too)
    request = TextToVideoRequest.build(prompt="p", cfg_scale=" ", multi_shot="", watermark_info="")
    assert request.to_json() == {"model_name": "kling-v2-6", "prompt": "p"}


def test_image2video_accepts_url_base64_and_a_last_frame_in_pro():
    request = ImageToVideoRequest.build(first_frame=PHOTO, last_frame=URL, resolution="pro", duration=5)

    assert request.to_json()["image"] == PHOTO and request.to_json()["image_tail"] == URL
    assert ImageToVideoRequest.image_fields == (
        "first_frame",
        "last_frame",
        "static_mask",
        "dynamic_masks.mask",
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "first_frame: required"),
        ({"first_frame": SMALL}, "first_frame: the image is 200x200 pixels; Kling needs at least 300"),
        (
            {"first_frame": "not base64!"},
            "first_frame: must be an http(s) URL or base64-encoded image data (got 'not base64!')",
        ),
        ({"first_frame": PHOTO, "aspect_ratio": "16:9"}, "aspect_ratio: Extra inputs are not permitted"),
        (
            {"first_frame": PHOTO, "last_frame": URL},
            "last_frame: kling-v2-6 takes a last frame only in resolution 1080p (mode is 'std' by default)",
        ),
        (
            {"first_frame": PHOTO, "last_frame": URL, "resolution": "pro", "model_name": "kling-v2-master"},
            "resolution: kling-v2-master takes no resolution (mode)",
        ),
        (
            {"last_frame": URL, "resolution": "pro"},
            "first_frame: kling-v2-6 needs a first frame with last_frame",
        ),
        (
            {
                "first_frame": PHOTO,
                "last_frame": URL,
                "resolution": "pro",
                "camera_control": {"type": "forward_up"},
            },
            "last_frame: excludes camera_control",
        ),
        (
            {"first_frame": PHOTO, "static_mask": URL, "camera_control": {"type": "forward_up"}},
            "static_mask/dynamic_masks: excludes camera_control",
        ),
        (
            {"first_frame": PHOTO, "dynamic_masks": [{"mask": URL, "trajectories": [{"x": 1, "y": 1}]}]},
            "dynamic_masks.0.trajectories: List should have at least 2 items",
        ),
        (
            {
                "first_frame": PHOTO,
                "dynamic_masks": [{"mask": URL, "trajectories": [{"x": 1, "y": 1}] * 2}] * 7,
            },
            "dynamic_masks: List should have at most 6 items",
        ),
        ({"first_frame": PHOTO, "voice_ids": ["v1"]}, "voice_ids: needs audio='native' (got audio=None)"),
        (
            {"first_frame": PHOTO, "voice_ids": ["a", "b", "c"], "audio": "on"},
            "voice_ids: List should have at most 2",
        ),
        (
            {"first_frame": PHOTO, "voice_ids": ["a"], "audio": "on", "prompt": "<<<voice_2>>> says hi"},
            "prompt: cites <<<voice_2>>> but voice_ids has 1 item(s)",
        ),
        (
            {"first_frame": PHOTO, "model_name": "kling-v2-5-turbo", "voice_ids": ["a"]},
            "voice_ids: kling-v2-5-turbo takes no voices",
        ),
    ],
)
def test_image2video_refuses_each_rule(fields, expected):
    message = refused(ImageToVideoRequest, **fields)
    assert message.startswith("Invalid Kling image2video request: ")
    assert expected in message


def test_image2video_tail_alone_where_a_model_allows_it_and_voices_with_sound():
    tail_only = ImageToVideoRequest.build(model_name="kling-v1-6", last_frame=URL, resolution="pro")
    assert "image" not in tail_only.to_json()
    voiced = ImageToVideoRequest.build(
        first_frame=URL, audio="on", voice_ids=[{"voice_id": "warm"}], prompt="<<<voice_1>>> hello"
    )
    assert voiced.to_json()["voice_list"] == [{"voice_id": "warm"}]


def test_omni_video_references_frames_and_a_feature_video():
    request = OmniVideoRequest.build(
        prompt="<<<image_1>>> walks like <<<video_1>>>",
        reference_images=[URL],
        feature_video=VIDEO_URL,
        aspect_ratio="16:9",
        duration=7,
    )

    assert request.to_json()["video_list"] == [{"video_url": VIDEO_URL, "refer_type": "feature"}]
    assert request.to_json()["image_list"] == [{"image_url": URL}]
    framed = OmniVideoRequest.build(prompt="<<<image_1>>>", reference_images=[URL], first_frame=PHOTO)
    assert framed.to_json()["image_list"] == [{"image_url": URL}, {"image_url": PHOTO, "type": "first_frame"}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": "p"}, "aspect_ratio: required without a first frame or a base video"),
        (
            {"prompt": "p", "aspect_ratio": "1:1", "duration": 7},
            "from text or a first frame alone Kling makes 5",
        ),
        (
            {"prompt": "p", "base_video": VIDEO_URL, "duration": 5},
            "duration: a base video sets the length itself",
        ),
        (
            {"prompt": "p", "aspect_ratio": "1:1", "feature_video": "/tmp/clip.mp4"},
            "must be an http:// or https:// URL with a host name",
        ),
        (
            {"prompt": "p", "aspect_ratio": "1:1", "feature_video": VIDEO_URL, "base_video": VIDEO_URL},
            "base_video: one video at most",
        ),
        (
            {
                "prompt": "p",
                "aspect_ratio": "1:1",
                "reference_images": [URL] * 3,
                "element_ids": [1] * 2,
                "feature_video": VIDEO_URL,
            },
            "reference_images: at most 4 images, frames and elements together with a video "
            "(got 3 images and 2 elements)",
        ),
        (
            {
                "prompt": "p",
                "aspect_ratio": "1:1",
                "reference_images": [URL] * 5,
                "element_ids": [{"element_id": 1}] * 3,
            },
            "at most 7 images, frames and elements together (got 5 images and 3 elements)",
        ),
        (
            {"prompt": "p", "last_frame": URL, "aspect_ratio": "1:1"},
            "last_frame: needs a first_frame",
        ),
        (
            {"prompt": "<<<image_2>>>", "aspect_ratio": "1:1", "reference_images": [URL]},
            "cites <<<image_2>>>",
        ),
        (
            {"prompt": "p", "aspect_ratio": "1:1", "resolution": "4k"},
            "resolution: kling-video-o1 supports resolution 720p, 1080p",
        ),
        ({"prompt": "p", "aspect_ratio": "1:1", "duration": 11}, "makes videos of 3-10 seconds"),
        ({"prompt": "p", "aspect_ratio": "1:1", "model_name": "kling-v3"}, "model_name: must be one of"),
    ],
)
def test_omni_video_refuses_each_rule(fields, expected):
    message = refused(OmniVideoRequest, **fields)
    assert message.startswith("Invalid Kling omni-video request: ")
    assert expected in message


def test_v3_omni_takes_4k():
    request = OmniVideoRequest.build(
        model_name="kling-v3-omni", prompt="p", aspect_ratio="9:16", resolution="4k"
    )
    assert request.units_basis["tier"] == "4k" and request.to_json()["mode"] == "4k"


def test_video_extend_takes_a_video_id_and_nothing_of_a_model():
    request = VideoExtendRequest.build(video_id=828006748715380777, prompt="the camera pulls back")

    assert request.to_json() == {"video_id": "828006748715380777", "prompt": "the camera pulls back"}
    assert "video_id: must not be blank" in refused(VideoExtendRequest, video_id=" ")
    assert "model_name: Extra inputs are not permitted" in refused(
        VideoExtendRequest, video_id="v", model_name="kling-v1-6"
    )
    assert "video_id: Field required" in refused(VideoExtendRequest, prompt="p")


def test_extend_source_over_age_or_length_is_named_with_the_limit():
    now = datetime(2026, 12, 3, tzinfo=UTC)

    old = extend_source_problems(video_id="v1", duration="5", created_at=now - timedelta(days=31), now=now)
    long = extend_source_problems(video_id="v2", duration="178", created_at=now, now=now)

    assert old == [
        "video_id: video v1 was made 31 days ago; Kling extends only videos under 30 days old "
        "(it purges them then)"
    ]
    assert "video v2 is 178 s long" in long[0] and "at most 180 s (3 minutes)" in long[0]
    assert (
        extend_source_problems(video_id="v", duration="170", created_at=now - timedelta(days=29), now=now)
        == []
    )
    assert extend_source_problems(video_id="v", duration=None, created_at=None, now=now) == []


def test_multi_image2video_is_kling_v1_6_with_one_to_four_images():
    request = MultiImageToVideoRequest.build(image_list=[URL, PHOTO], prompt="they dance", duration=10)

    assert request.to_json()["image_list"] == [{"image": URL}, {"image": PHOTO}]
    assert MultiImageToVideoRequest.image_fields == ("image_list.image",)
    assert "image_list: List should have at most 4 items" in refused(
        MultiImageToVideoRequest, image_list=[URL] * 5, prompt="p"
    )
    assert "prompt: Field required" in refused(MultiImageToVideoRequest, image_list=[URL])
    assert "model_name: must be one of kling-v1-6" in refused(
        MultiImageToVideoRequest, image_list=[URL], prompt="p", model_name="kling-v2-6"
    )


def test_extend_source_reads_an_id_a_video_or_a_video_tasks_result():
    from airflow_provider_kling.models.requests.video_extend import extend_source

    result = {
        "task_id": "T1",
        "created_at": "2026-12-01T10:00:00+00:00",
        "updated_at": "2026-12-01T10:01:00+00:00",
        "videos": [{"id": "v1", "url": "u", "duration": "5"}],
    }
    source = extend_source(result)

    assert (source.video_id, source.duration) == ("v1", "5")
    assert source.made_at == datetime(2026, 12, 1, 10, 1, tzinfo=UTC)
    assert extend_source({"id": "v2", "duration": "10"}).duration == "10"
    assert extend_source("v3").video_id == "v3" and extend_source("v3").made_at is None
    with pytest.raises(ValueError, match="Kling task T2's result lists no video"):
        extend_source({"task_id": "T2", "videos": []})
    with pytest.raises(ValueError, match="needs a video id"):
        extend_source({"task_id": "T3", "images": [{"url": "u"}]})
