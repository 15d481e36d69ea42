"""Kling's rules for ``POST /v1/videos/effects``, as data: the simulator's own.

Written from Kling's video-effects page (2026-09), never imported from the client. ``effect_scene``
is required and any scene is accepted except the retired ones; a dual-image scene takes
``input.images`` (exactly 2), every other ``input.image``; images are a URL or bare base64 of a
JPG/PNG (300 px a side). ``input.model_name``, ``mode`` and ``duration`` (2025 clients sent them)
and ``watermark_info`` (the page shows it only in the result) are accepted. An accepted create is a
:class:`~airflow_provider_kling.testing.video_rules.VideoRequest` making one 5 s video, so its slot,
resource pack (``video``), record and MP4 file work as the other videos'; a STAND-IN flat price
per effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kling.testing.endpoints import Endpoint, _Checker, _content_seed, validate_at
from airflow_provider_kling.testing.video_rules import VideoRequest

DUAL_IMAGE_SCENES = frozenset(
    "pet_skateboard daily_ootd toss_run switch_to_silk studio_look french_elegance finger_swipe "
    "smooth_transition kiss_pro snow_night_kiss eternal_kiss cheers_2026 fight_pro hug_pro "
    "heart_gesture_pro".split()
)
RETIRED_SCENES = frozenset({"hug", "kiss", "fight"})
#: STAND-IN units per effect (Kling's effects price list is not published with the API pages).
UNITS_PER_EFFECT = 2.0
EFFECT_SECONDS = 5.0
_FIELDS = ("effect_scene", "input", "callback_url", "external_task_id", "watermark_info")
_INPUT_KEYS = {"image", "images", "model_name", "mode", "duration"}


def _effects(fields: dict[str, Any]) -> VideoRequest:
    check = _Checker(fields, _FIELDS)
    check.common()
    check.text("effect_scene", required=True)
    scene = fields.get("effect_scene")
    if scene in RETIRED_SCENES:
        check.bad("effect_scene", "this effect has been retired")
    given = fields.get("input")
    if not isinstance(given, dict) or set(given) - _INPUT_KEYS:
        check.bad("input", "must be an object of image or images")
        given = {}
    if scene in DUAL_IMAGE_SCENES:
        images = given.get("images")
        if "image" in given or not (isinstance(images, list) and len(images) == 2):
            check.bad("input.images", "a dual-image scene takes exactly 2 images", images)
        else:
            for position, item in enumerate(images):
                check.image(f"input.images.{position}", item)
    elif "images" in given or "image" not in given:
        check.bad("input.image", "a single-image scene takes one image", given.get("image"))
    else:
        check.image("input.image", given["image"])
    check.raise_if_any()
    watermark = fields.get("watermark_info") or {}
    return VideoRequest(
        model_name=str(scene),
        prompt=_content_seed("video-effects", fields),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        watermark=bool(watermark.get("enabled")),
        endpoint="video-effects",
        units_each=UNITS_PER_EFFECT,
        seconds=EFFECT_SECONDS,
    )


ENDPOINTS: tuple[Endpoint, ...] = (Endpoint("video-effects", "/v1/videos/effects", _effects),)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> VideoRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    request: VideoRequest = validate_at(BY_KIND, kind, body)
    return request
