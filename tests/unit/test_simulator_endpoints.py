"""The simulator's own rules for omni-image, multi-image2image, expand and virtual try-on
(``testing.endpoints``), their results and slot accounting, and their agreement with the client's
request models over shared cases (the two are written independently from Kling's pages)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.requests import REQUEST_KINDS
from airflow_provider_kling.testing import endpoints, make_png
from airflow_provider_kling.testing.rules import RuleViolation

PHOTO = base64.b64encode(make_png("photo", 0, 400, 400)).decode()
SMALL = base64.b64encode(make_png("small", 0, 200, 200)).decode()
URL = "https://example.com/a.png"


def _expand(**fields: Any) -> dict[str, Any]:
    ratios = {f"{side}_expansion_ratio": 0.0 for side in ("up", "down", "left", "right")}
    return {"image": PHOTO, **ratios, "left_expansion_ratio": 0.5, **fields}


#: (kind, body) -> whether Kling accepts it, by its pages.
CASES: dict[str, tuple[str, dict[str, Any], bool]] = {
    "omni text": ("omni-image", {"prompt": "a fox"}, True),
    "omni images and elements": (
        "omni-image",
        {"prompt": "<<<image_1>>>", "image_list": [{"image": PHOTO}], "element_list": [{"element_id": 5}]},
        True,
    ),
    "omni 11 references": (
        "omni-image",
        {"prompt": "p", "image_list": [{"image": URL}] * 6, "element_list": [{"element_id": 1}] * 5},
        False,
    ),
    "omni o1 4k": ("omni-image", {"prompt": "p", "resolution": "4k"}, False),
    "omni v3 4k": ("omni-image", {"prompt": "p", "model_name": "kling-v3-omni", "resolution": "4k"}, True),
    "omni o1 series": ("omni-image", {"prompt": "p", "result_type": "series", "series_amount": 3}, False),
    "omni v3 series auto": (
        "omni-image",
        {"prompt": "p", "model_name": "kling-v3-omni", "result_type": "series", "series_amount": "auto"},
        True,
    ),
    "omni series of 10": (
        "omni-image",
        {"prompt": "p", "model_name": "kling-v3-omni", "result_type": "series", "series_amount": 10},
        False,
    ),
    "omni auto ratio": ("omni-image", {"prompt": "p", "aspect_ratio": "auto"}, True),
    "omni no prompt": ("omni-image", {"image_list": [{"image": URL}]}, False),
    "omni small image": ("omni-image", {"prompt": "p", "image_list": [{"image": SMALL}]}, False),
    "multi one subject": ("multi-image2image", {"subject_image_list": [{"subject_image": PHOTO}]}, True),
    "multi all images": (
        "multi-image2image",
        {
            "subject_image_list": [{"subject_image": URL}] * 4,
            "scene_image": URL,
            "style_image": PHOTO,
            "n": 9,
            "aspect_ratio": "21:9",
        },
        True,
    ),
    "multi five subjects": ("multi-image2image", {"subject_image_list": [{"subject_image": URL}] * 5}, False),
    "multi no subject": ("multi-image2image", {"prompt": "p"}, False),
    "multi v1 model": (
        "multi-image2image",
        {"model_name": "kling-v1", "subject_image_list": [{"subject_image": URL}]},
        False,
    ),
    "expand half a side": ("expand", _expand(), True),
    "expand area 3": ("expand", _expand(left_expansion_ratio=1.0, right_expansion_ratio=1.0), True),
    "expand area over 3": (
        "expand",
        _expand(left_expansion_ratio=1.0, right_expansion_ratio=1.0, up_expansion_ratio=0.1),
        False,
    ),
    "expand ratio over 2": ("expand", _expand(up_expansion_ratio=2.5), False),
    "expand negative ratio": ("expand", _expand(down_expansion_ratio=-0.1), False),
    "expand small image": ("expand", _expand(image=SMALL), False),
    "expand with prompt and n": ("expand", _expand(prompt="more sea", n=3), True),
    "try-on": ("virtual-try-on", {"human_image": PHOTO, "cloth_image": URL}, True),
    "try-on v1-5": (
        "virtual-try-on",
        {"model_name": "kolors-virtual-try-on-v1-5", "human_image": URL, "cloth_image": URL},
        True,
    ),
    "try-on no garment": ("virtual-try-on", {"human_image": URL}, False),
    "try-on with n": ("virtual-try-on", {"human_image": URL, "cloth_image": URL, "n": 2}, False),
}


def _client_accepts(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return REQUEST_KINDS[kind].build(**body).to_json()
    except KlingRequestValidationError:
        return None


def _simulator_accepts(kind: str, body: dict[str, Any]) -> bool:
    try:
        endpoints.validate(kind, dict(body))
    except RuleViolation:
        return False
    return True


@pytest.mark.parametrize("case", sorted(CASES))
def test_simulator_and_client_agree_with_klings_pages(case):
    kind, body, accepted = CASES[case]
    sent = _client_accepts(kind, body)
    assert (sent is not None) == accepted, f"client: {case}"
    assert _simulator_accepts(kind, sent if sent is not None else body) == accepted, f"simulator: {case}"


def test_a_broken_rule_names_field_rule_and_value():
    with pytest.raises(RuleViolation) as caught:
        endpoints.validate("expand", _expand(up_expansion_ratio="high", n=0))
    message = str(caught.value)
    assert "up_expansion_ratio: must be a number from 0 to 2 (got 'high')" in message
    assert "n: must be an integer from 1 to 9 (got 0)" in message


def test_each_endpoints_units_and_slots_follow_the_images_it_makes():
    omni = endpoints.validate(
        "omni-image",
        {
            "prompt": "p",
            "model_name": "kling-v3-omni",
            "resolution": "2k",
            "result_type": "series",
            "series_amount": "auto",
        },
    )
    try_on = endpoints.validate("virtual-try-on", {"human_image": URL, "cloth_image": URL})
    assert (omni.n, omni.units) == (endpoints.AUTO_SERIES_AMOUNT, 4.0 * endpoints.AUTO_SERIES_AMOUNT)
    assert (try_on.n, try_on.units) == (1, 1.0)


def test_an_endpoints_task_holds_its_slots_and_is_found_only_at_its_path(kling_simulator):
    kling_simulator.set_slots(3)
    kling_simulator.set_progress("manual")
    headers = {"Authorization": f"Bearer {kling_simulator.api_key}"}
    base = kling_simulator.base_url
    with httpx.Client(base_url=base, headers=headers) as client:
        first = client.post("/v1/images/editing/expand", json=_expand(n=3)).json()
        full = client.post("/v1/images/kolors-virtual-try-on", json={"human_image": URL, "cloth_image": URL})
        task_id = first["data"]["task_id"]
        elsewhere = client.get(f"/v1/images/omni-image/{task_id}")
        here = client.get(f"/v1/images/editing/expand/{task_id}")
        listed = client.get("/v1/images/editing/expand").json()["data"]
        listed_elsewhere = client.get("/v1/images/generations").json()["data"]

    assert first["code"] == 0
    assert (full.status_code, full.json()["code"]) == (429, 1303)  # 3 of 3 slots held by the expand task
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, 1203)
    assert here.json()["data"]["task_status"] == "submitted"
    assert [task["task_id"] for task in listed] == [task_id]
    assert listed_elsewhere == []
