"""
The client's request rules (``models``) and the simulator's own (``testing.rules``) over the same cases.

Both are written from Kling's pages, independently. For each case: when the client accepts, the
simulator must accept the body the client would send (``to_json()``); when the client refuses, the
simulator must refuse the body as given. Where they differ on purpose, ``KNOWN_DIFFERENCES`` says
why; any other difference fails, listing every disagreeing case at once.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.testing import rules as sim_rules

URL = "https://example.com/cat.png"


def _png(width: int, height: int) -> str:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    head = b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + b"\x00\x00\x00\x00"
    return base64.b64encode(head).decode()


PNG = _png(400, 300)


def _body(**fields: Any) -> dict[str, Any]:
    return {"model_name": "kling-v2", "prompt": "a red fox in snow", "n": 1, **fields}


def _without(*names: str) -> dict[str, Any]:
    return {key: value for key, value in _body().items() if key not in names}


CASES: dict[str, dict[str, Any]] = {
    # every model, as simply as it can be used
    **{f"text only, {name}": _body(model_name=name) for name in ("kling-v1", "kling-v1-5", "kling-v2")},
    **{f"text only, {name}": _body(model_name=name) for name in ("kling-v2-new", "kling-v2-1", "kling-v3")},
    **{
        f"url image, {name}": _body(model_name=name, image=URL)
        for name in ("kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3")
    },
    "unknown model": _body(model_name="kling-v9"),
    "missing model_name": _without("model_name"),
    "missing n": _without("n"),
    "missing prompt": _without("prompt"),
    # the fields Kling's own clients send
    "reseller example with blanks and human_fidelity": _body(
        model_name="kling-v1",
        negative_prompt="",
        image="",
        image_reference="",
        human_fidelity=0.45,
        resolution="1k",
        n=2,
        aspect_ratio="16:9",
        callback_url="",
    ),
    "human_fidelity with face": _body(
        model_name="kling-v1-5", image=URL, image_reference="face", human_fidelity=0.5
    ),
    "watermark on": _body(watermark_info={"enabled": True}),
    "watermark off": _body(watermark_info={"enabled": False}),
    "watermark without enabled": _body(watermark_info={}),
    "watermark enabled as text": _body(watermark_info={"enabled": "yes"}),
    "watermark extra key": _body(watermark_info={"enabled": True, "position": "corner"}),
    # references
    "subject reference v1-5": _body(model_name="kling-v1-5", image=URL, image_reference="subject"),
    "face reference v3": _body(model_name="kling-v3", image=URL, image_reference="face"),
    "reference on kling-v2": _body(image=URL, image_reference="subject"),
    "reference on kling-v1": _body(model_name="kling-v1", image=URL, image_reference="face"),
    "reference without image": _body(model_name="kling-v1-5", image_reference="face"),
    "unknown reference type": _body(model_name="kling-v1-5", image=URL, image_reference="style"),
    "negative prompt with image": _body(image=URL, negative_prompt="blurry"),
    "negative prompt alone": _body(negative_prompt="blurry"),
    "fidelity 1.5": _body(model_name="kling-v1-5", image=URL, image_reference="subject", image_fidelity=1.5),
    # the image itself
    "base64 png": _body(image=PNG),
    "data uri png": _body(image="data:image/png;base64," + PNG),
    "empty data uri": _body(model_name="kling-v1-5", image="data:image/png;base64,", image_reference="face"),
    "base64 gif": _body(image=base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode()),
    "not base64": _body(image="not base64!"),
    "ftp url": _body(image="ftp://example.com/cat.png"),
    "url without host": _body(image="https://"),
    "png 100x100": _body(image=_png(100, 100)),
    "png 1000x300": _body(image=_png(1000, 300)),
    # per-model resolutions and aspect ratios
    **{f"2k text, {name}": _body(model_name=name, resolution="2k") for name in ("kling-v1", "kling-v1-5")},
    **{
        f"2k text, {name}": _body(model_name=name, resolution="2k")
        for name in ("kling-v2", "kling-v2-1", "kling-v3")
    },
    **{
        f"2k with image, {name}": _body(model_name=name, image=URL, resolution="2k")
        for name in ("kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3")
    },
    "4k": _body(resolution="4k"),
    "21:9 on kling-v1": _body(model_name="kling-v1", aspect_ratio="21:9"),
    "21:9 on kling-v2": _body(aspect_ratio="21:9"),
    "5:4": _body(aspect_ratio="5:4"),
    # counts and lengths
    "n 0": _body(n=0),
    "n 9": _body(n=9),
    "n 10": _body(n=10),
    "prompt 2500": _body(prompt="x" * 2500),
    "prompt 2501": _body(prompt="x" * 2501),
    "blank prompt": _body(prompt="   "),
    "negative prompt 2501": _body(negative_prompt="y" * 2501),
    # elements
    "elements on kling-v3": _body(model_name="kling-v3", element_list=[{"element_id": 7}]),
    "elements on kling-v2": _body(element_list=[{"element_id": 7}]),
    "ten elements and an image": _body(
        model_name="kling-v3", image=URL, element_list=[{"element_id": i} for i in range(1, 11)]
    ),
    "element id as text": _body(model_name="kling-v3", element_list=[{"element_id": "7"}]),
    "element id zero": _body(model_name="kling-v3", element_list=[{"element_id": 0}]),
    # the rest
    "ftp callback": _body(callback_url="ftp://example.com/cb"),
    "https callback": _body(callback_url="https://hooks.example.com/kling"),
    "external id with slash": _body(external_task_id="a/b"),
    "external id with space": _body(external_task_id="has space"),
    "external id 257": _body(external_task_id="a" * 257),
    "unknown field": _body(seed=42),
}

#: Cases where the two rule sets differ on purpose or pending a fix, and why. The client side
#: is stricter in every one: a request it refuses costs a user nothing, one Kling refuses costs a
#: round trip, and one it refuses that Kling would accept is a bug (none is listed).
KNOWN_DIFFERENCES: dict[str, str] = {
    # on purpose
    "external id with slash": "the id goes into the query path .../generations/{id}: the client refuses '/'",
    "external id with space": "the client refuses whitespace and control characters in ids it puts in a path",
    "element id zero": "element ids are Kling's positive longs; the simulator takes any integer",
    # the simulator's rules lack these (it neither fetches nor decodes images, and keeps one
    # resolution list and every aspect ratio per model); Kling's pages state them
    "url without host": "an image URL without a host cannot be fetched; the simulator does not fetch images",
    "png 100x100": "Kling's page: a reference image is at least 300 pixels on each side",
    "png 1000x300": "Kling's page: a reference image's aspect ratio is from 1:2.5 to 2.5:1",
    "2k with image, kling-v2": "Kling's capability map: kling-v2 image to image is 1K only",
    "2k with image, kling-v2-new": "Kling's capability map: kling-v2-new restyles at 1K (the input's size)",
    "21:9 on kling-v1": "Kling's capability map: kling-v1 has no 21:9",
}


def _client_verdict(body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    try:
        return True, ImageGenerationRequest.build(**body).to_json()
    except KlingRequestValidationError:
        return False, body


def _simulator_accepts(body: dict[str, Any]) -> bool:
    try:
        sim_rules.validate(body)
    except sim_rules.RuleViolation:
        return False
    return True


def _differences() -> dict[str, str]:
    found = {}
    for name, body in CASES.items():
        client_accepts, sent = _client_verdict(body)
        simulator_accepts = _simulator_accepts(sent)
        if client_accepts != simulator_accepts:
            found[name] = (
                "client accepts, simulator refuses" if client_accepts else "client refuses, simulator accepts"
            )
    return found


def test_client_and_simulator_rules_agree_except_where_documented() -> None:
    unexpected = {name: how for name, how in _differences().items() if name not in KNOWN_DIFFERENCES}
    assert not unexpected, "the rule sets differ:\n" + "\n".join(f"  {n}: {h}" for n, h in unexpected.items())


def test_every_documented_difference_still_exists() -> None:
    # An allow-list entry that no longer differs is stale: drop it so it cannot hide a later change.
    stale = sorted(set(KNOWN_DIFFERENCES) - set(_differences()))
    assert not stale, f"these cases now agree; remove them from KNOWN_DIFFERENCES: {stale}"


@pytest.mark.parametrize("name", sorted(KNOWN_DIFFERENCES))
def test_every_documented_difference_is_a_case(name: str) -> None:
    assert name in CASES
