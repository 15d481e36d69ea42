"""Request models of the neighbouring endpoints: Kling's rules refused before any HTTP call with
the field and the rule named, the registry of kinds, and the public imports of before."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.idempotency import request_fingerprint
from airflow_provider_kling.models.requests import (
    ENDPOINT_PATHS,
    REQUEST_KINDS,
    ExpandImageRequest,
    ImageGenerationRequest,
    MultiImageRequest,
    OmniImageRequest,
    VirtualTryOnRequest,
    endpoint_path,
    expansion_for_aspect_ratio,
    request_class,
)
from airflow_provider_kling.testing import make_png

PHOTO = base64.b64encode(make_png("photo", 0, 400, 400)).decode()
SMALL = base64.b64encode(make_png("small", 0, 200, 200)).decode()


def refused(cls: type, **fields: object) -> str:
    with pytest.raises(KlingRequestValidationError) as caught:
        cls.build(**fields)
    return str(caught.value)


def test_every_kind_has_its_own_path_and_is_found_by_name():
    # 6 image kinds, 9 video kinds and 3 audio kinds; 4 video kinds also have a model-path endpoint
    assert len(REQUEST_KINDS) == 18 and len(set(ENDPOINT_PATHS)) == 22
    assert request_class("expand") is ExpandImageRequest
    assert endpoint_path("/v1/images/kolors-virtual-try-on") == VirtualTryOnRequest.path
    with pytest.raises(ValueError, match="unknown Kling request kind 'outpaint': one of generations"):
        request_class("outpaint")


@pytest.mark.parametrize(
    ("cls", "fields", "expected"),
    [
        (
            ExpandImageRequest,
            {"image": PHOTO, "left_expansion_ratio": 1.5, "right_expansion_ratio": 1},
            "3.50 times the original's area; Kling allows at most 3",
        ),
        (
            ExpandImageRequest,
            {"image": PHOTO, "up_expansion_ratio": 2.5},
            "up_expansion_ratio: Input should be less than or equal to 2",
        ),
        (ExpandImageRequest, {"image": PHOTO}, "all four are 0"),
        (
            ExpandImageRequest,
            {"image": SMALL, "up_expansion_ratio": 0.5},
            "image: the image is 200x200 pixels",
        ),
        (
            ExpandImageRequest,
            {"image": PHOTO, "up_expansion_ratio": 0.5, "n": 10},
            "n: Input should be less than or equal to 9",
        ),
        (
            OmniImageRequest,
            {"prompt": "p", "model_name": "kling-image-o1", "resolution": "4k"},
            "resolution: kling-image-o1 supports 1k, 2k (got '4k')",
        ),
        (
            OmniImageRequest,
            {"prompt": "p", "result_type": "series"},
            "result_type: kling-image-o1 makes no series",
        ),
        (
            OmniImageRequest,
            {"prompt": "p", "model_name": "kling-v3-omni", "series_amount": 3},
            "series_amount: only with result_type='series'",
        ),
        (
            OmniImageRequest,
            {"prompt": "p", "model_name": "kling-v3-omni", "result_type": "series", "series_amount": 10},
            "series_amount: must be an integer from 2 to 9",
        ),
        (
            OmniImageRequest,
            {"prompt": "p", "image_list": [PHOTO] * 6, "element_list": [{"element_id": 1}] * 5},
            "at most 10 reference images and elements together (got 11)",
        ),
        (OmniImageRequest, {"prompt": "  "}, "prompt: must not be blank"),
        (
            OmniImageRequest,
            {"prompt": "p", "model_name": "kling-v3"},
            "model_name: must be one of kling-image-o1, kling-v3-omni",
        ),
        (
            MultiImageRequest,
            {"subject_image_list": [PHOTO] * 5},
            "subject_image_list: List should have at most 4 items",
        ),
        (MultiImageRequest, {"subject_image_list": [PHOTO], "style_image": "ftp://x"}, "style_image:"),
        (MultiImageRequest, {"subject_image_list": [PHOTO], "aspect_ratio": "5:4"}, "aspect_ratio:"),
        (VirtualTryOnRequest, {"human_image": PHOTO}, "cloth_image: Field required"),
        (
            VirtualTryOnRequest,
            {"human_image": PHOTO, "cloth_image": PHOTO, "model_name": "kolors-v2"},
            "model_name: must be one of kolors-virtual-try-on-v1, kolors-virtual-try-on-v1-5",
        ),
        (
            VirtualTryOnRequest,
            {"human_image": PHOTO, "cloth_image": PHOTO, "n": 2},
            "n: Extra inputs are not permitted",
        ),
    ],
)
def test_rules_are_refused_naming_field_and_rule(cls, fields, expected):
    message = refused(cls, **fields)
    assert expected in message
    assert message.startswith(f"Invalid Kling {cls.kind} request")


def test_blank_templated_fields_are_left_out_of_the_body():
    request = MultiImageRequest.build(subject_image_list=[PHOTO], scene_image="", prompt="", aspect_ratio="")
    assert set(request.to_json()) == {"model_name", "subject_image_list", "n"}
    assert request.to_json()["subject_image_list"] == [{"subject_image": PHOTO}]


def test_expand_always_sends_all_four_ratios():
    body = ExpandImageRequest.build(image="https://cdn.example/a.png", up_expansion_ratio=0.25).to_json()
    assert {key: body[key] for key in body if key.endswith("_ratio")} == {
        "up_expansion_ratio": 0.25,
        "down_expansion_ratio": 0.0,
        "left_expansion_ratio": 0.0,
        "right_expansion_ratio": 0.0,
    }


@pytest.mark.parametrize(
    ("size", "ratio", "expected"),
    [
        ((400, 400), "21:9", {"left_expansion_ratio": 0.6667, "right_expansion_ratio": 0.6667}),
        ((900, 400), "1:1", {"up_expansion_ratio": 0.625, "down_expansion_ratio": 0.625}),
        ((400, 300), "4:3", {}),
    ],
)
def test_expansion_for_aspect_ratio_grows_only_the_sides_it_must(size, ratio, expected):
    ratios = expansion_for_aspect_ratio(*size, ratio)
    assert {key: value for key, value in ratios.items() if value} == expected
    ExpandImageRequest.build(image=PHOTO, **ratios) if expected else None


def _hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def test_fingerprints_include_the_kind_so_the_same_fields_at_two_endpoints_are_two_requests():
    omni = OmniImageRequest.build(prompt="a red fox", model_name="kling-image-o1", n=1)
    generation = ImageGenerationRequest.build(prompt="a red fox", model_name="kling-v1", n=1)

    for request, kind in ((omni, "omni-image"), (generation, "generations")):
        assert request_fingerprint(request) != _hash(request.to_json())
        assert request_fingerprint(request) == _hash({**request.to_json(), "\x00kind": kind})


def test_each_kind_lists_its_fields_defaults_descriptions_and_styles():
    from airflow_provider_kling.models.requests import kind_table

    rows = {row["name"]: row for row in kind_table("text2video")}
    assert rows["model_name"]["default"] == "kling-v2-6"
    assert rows["model_name"]["styles"] == ["v1", "model-path"]
    assert rows["prompt"]["required"] and rows["prompt"]["description"]
    assert rows["cfg_scale"]["styles"] == ["v1"]
    assert rows["audio"]["styles"] == ["v1", "model-path"]
    assert all(row["styles"] == ["v1"] for row in kind_table("expand"))
