"""Kling's rules for the image endpoints beyond generation, as data: the simulator's own.

Written from Kling's pages for Omni-Image, Multi-Image to Image, Extend Image (expand) and
Virtual Try-On, never imported from the client. Each endpoint is an :class:`Endpoint` row: its
path, its fields, a validator and a stand-in price; :func:`validate` returns the same
:class:`~airflow_provider_kling.testing.rules.ImageRequest` as image generation, so tasks,
slots (a task holds one slot per image it makes), deductions and callbacks work alike.

Every image field takes an http(s) URL or bare base64 of a JPG/PNG of at most 10 MB; a PNG's
size is read too (at least 300 px a side, 1:2.5 to 2.5:1), as Kling checks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_kling.testing.rules import (
    ASPECT_RATIOS,
    MAX_EXTERNAL_TASK_ID,
    MAX_PROMPT,
    ImageRequest,
    RuleViolation,
    _image_problem,
    _is_number,
    _shown,
)

MIN_SIDE = 300
MAX_SIDE_RATIO = 2.5
MAX_REFERENCES = 10
#: omni-image models: resolutions, and whether ``result_type="series"`` is accepted.
OMNI_MODELS: Mapping[str, tuple[tuple[str, ...], bool]] = {
    "kling-image-o1": (("1k", "2k"), False),
    "kling-v3-omni": (("1k", "2k", "4k"), True),
}
#: What the simulator makes for ``series_amount="auto"`` (Kling decides; no figure is published).
AUTO_SERIES_AMOUNT = 4
MULTI_IMAGE_MODELS = ("kling-v2", "kling-v2-1")
TRY_ON_MODELS = ("kolors-virtual-try-on-v1", "kolors-virtual-try-on-v1-5")
EXPAND_SIDES = ("up", "down", "left", "right")


class _Checker:
    """Collects problems in Kling's "field: rule (got value)" form."""

    def __init__(self, fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.fields = fields
        self.problems = [f"{name}: is not a field of this endpoint" for name in fields if name not in allowed]

    def bad(self, name: str, rule: str, value: Any = None) -> None:
        shown = self.fields.get(name) if value is None else value
        self.problems.append(f"{name}: {rule} (got {_shown(shown)})")

    def text(self, name: str, *, required: bool = False, choices: tuple[str, ...] | None = None) -> None:
        value = self.fields.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name}: is required")
            return
        if not isinstance(value, str) or (required and not value.strip()):
            self.bad(name, "must be a non-blank string" if required else "must be a string")
        elif name in ("prompt", "negative_prompt") and len(value) > MAX_PROMPT:
            self.problems.append(f"{name}: must be at most {MAX_PROMPT} characters (got {len(value)})")
        elif choices is not None and value not in choices:
            self.bad(name, f"must be one of {', '.join(choices)}")

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        value = self.fields.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.bad(name, f"must be an integer from {low} to {high}")
            return default
        return value

    def image(self, name: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            self.bad(name, "must be an image URL or base64 string", value)
        elif problem := _image_problem(value) or _size_problem(value):
            self.bad(name, problem, value)

    def common(self) -> None:
        self.text("callback_url")
        callback = self.fields.get("callback_url")
        if isinstance(callback, str) and not callback.startswith(("http://", "https://")):
            self.bad("callback_url", "must be an http:// or https:// URL")
        external = self.fields.get("external_task_id")
        self.text("external_task_id")
        if isinstance(external, str) and len(external) > MAX_EXTERNAL_TASK_ID:
            self.problems.append(f"external_task_id: must be at most {MAX_EXTERNAL_TASK_ID} characters")
        watermark = self.fields.get("watermark_info")
        if "watermark_info" in self.fields and not (
            isinstance(watermark, dict)
            and set(watermark) <= {"enabled"}
            and isinstance(watermark.get("enabled"), bool)
        ):
            self.bad("watermark_info", 'must be {"enabled": true|false}')

    def raise_if_any(self) -> None:
        if self.problems:
            raise RuleViolation(self.problems)


def png_size(image: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG, ``None`` for a URL, a JPEG or anything unreadable."""
    if image.startswith(("http://", "https://")):
        return None
    try:
        head = base64.b64decode(image[:48] + "=" * (-len(image[:48]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    if not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _size_problem(image: str) -> str | None:
    size = png_size(image)
    if size is None:
        return None
    width, height = size
    if min(width, height) < MIN_SIDE:
        return f"must be at least {MIN_SIDE} px on each side (a {width}x{height} PNG)"
    if max(width, height) > MAX_SIDE_RATIO * min(width, height):
        limits = f"1:{MAX_SIDE_RATIO} to {MAX_SIDE_RATIO}:1"
        return f"must have an aspect ratio from {limits} (a {width}x{height} PNG)"
    return None


def _content_seed(kind: str, fields: dict[str, Any]) -> str:
    """A stand-in "prompt" for endpoints without one: the pictures still differ per request."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{kind} {digest}"


def _request(kind: str, fields: dict[str, Any], n: int, units_each: float, **extra: Any) -> ImageRequest:
    prompt = fields.get("prompt") or _content_seed(kind, fields)
    watermark = fields.get("watermark_info") or {}
    return ImageRequest(
        model_name=str(fields.get("model_name", kind)),
        prompt=prompt,
        n=n,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        watermark=bool(watermark.get("enabled")),
        endpoint=kind,
        units_each=units_each,
        **extra,
    )


def _omni(fields: dict[str, Any]) -> ImageRequest:
    check = _Checker(fields, _OMNI_FIELDS)
    check.common()
    fields.setdefault("model_name", "kling-image-o1")
    check.text("model_name", choices=tuple(OMNI_MODELS))
    check.text("prompt", required=True)
    check.text("resolution", choices=("1k", "2k", "4k"))
    check.text("result_type", choices=("single", "series"))
    check.text("aspect_ratio", choices=(*ASPECT_RATIOS, "auto"))
    n = check.integer("n", 1, 9, 1)
    images = fields.get("image_list", [])
    elements = fields.get("element_list", [])
    if not isinstance(images, list) or not all(isinstance(i, dict) and set(i) == {"image"} for i in images):
        check.bad("image_list", 'must be a list of {"image": <URL or base64>}')
    else:
        for position, item in enumerate(images):
            check.image(f"image_list.{position}.image", item["image"])
    if not isinstance(elements, list) or not all(
        isinstance(e, dict) and set(e) == {"element_id"} and isinstance(e["element_id"], int)
        for e in elements
    ):
        check.bad("element_list", 'must be a list of {"element_id": <integer>}')
    elif isinstance(images, list) and len(images) + len(elements) > MAX_REFERENCES:
        check.problems.append(f"image_list: images plus elements must be at most {MAX_REFERENCES}")
    check.raise_if_any()
    resolutions, series = OMNI_MODELS[fields["model_name"]]
    resolution = fields.get("resolution", "1k")
    if resolution not in resolutions:
        check.problems.append(f"resolution: {fields['model_name']} does not support {resolution!r}")
    if fields.get("result_type") == "series":
        if not series:
            check.problems.append(f"result_type: {fields['model_name']} does not support series")
        amount = fields.get("series_amount", AUTO_SERIES_AMOUNT)
        if amount == "auto":
            amount = AUTO_SERIES_AMOUNT
        elif not isinstance(amount, int) or isinstance(amount, bool) or not 2 <= amount <= 9:
            check.bad("series_amount", "must be an integer from 2 to 9, or 'auto'")
            amount = AUTO_SERIES_AMOUNT
        n = amount
    check.raise_if_any()
    ratio = fields.get("aspect_ratio")
    units = {"1k": 2.0, "2k": 4.0, "4k": 8.0}[resolution]
    return _request(
        "omni-image",
        fields,
        n,
        units,
        resolution=resolution,
        aspect_ratio=None if ratio == "auto" else ratio,
        series=fields.get("result_type") == "series",
    )


def _multi_image(fields: dict[str, Any]) -> ImageRequest:
    check = _Checker(fields, _MULTI_FIELDS)
    check.common()
    fields.setdefault("model_name", "kling-v2")
    check.text("model_name", choices=MULTI_IMAGE_MODELS)
    check.text("prompt")
    check.text("aspect_ratio", choices=ASPECT_RATIOS)
    n = check.integer("n", 1, 9, 1)
    subjects = fields.get("subject_image_list")
    if subjects is None:
        check.problems.append("subject_image_list: is required")
    elif not (
        isinstance(subjects, list)
        and 1 <= len(subjects) <= 4
        and all(isinstance(s, dict) and set(s) == {"subject_image"} for s in subjects)
    ):
        check.bad("subject_image_list", 'must be 1 to 4 {"subject_image": <URL or base64>}')
    else:
        for position, item in enumerate(subjects):
            check.image(f"subject_image_list.{position}.subject_image", item["subject_image"])
    for name in ("scene_image", "style_image"):
        if name in fields:
            check.image(name, fields[name])
    check.raise_if_any()
    return _request("multi-image2image", fields, n, 2.0, aspect_ratio=fields.get("aspect_ratio"))


def _expand(fields: dict[str, Any]) -> ImageRequest:
    check = _Checker(fields, _EXPAND_FIELDS)
    check.common()
    check.text("prompt")
    n = check.integer("n", 1, 9, 1)
    if "image" not in fields:
        check.problems.append("image: is required")
    else:
        check.image("image", fields["image"])
    ratios = {}
    for side in EXPAND_SIDES:
        name = f"{side}_expansion_ratio"
        value = fields.get(name)
        if value is None:
            check.problems.append(f"{name}: is required (0 leaves that side as it is)")
        elif not (_is_number(value) and 0 <= value <= 2):
            check.bad(name, "must be a number from 0 to 2")
        else:
            ratios[side] = float(value)
    check.raise_if_any()
    grown_w = 1 + ratios["left"] + ratios["right"]
    grown_h = 1 + ratios["up"] + ratios["down"]
    if grown_w * grown_h > 3 + 1e-9:
        check.problems.append(
            "expansion ratios: the new image must be at most 3 times the original's area "
            f"(got {grown_w * grown_h:.2f})"
        )
    check.raise_if_any()
    size = png_size(fields["image"]) or (1, 1)
    aspect = f"{round(size[0] * grown_w * 100)}:{round(size[1] * grown_h * 100)}"
    return _request("expand", fields, n, 2.0, aspect_ratio=aspect)


def _virtual_try_on(fields: dict[str, Any]) -> ImageRequest:
    check = _Checker(fields, _TRY_ON_FIELDS)
    check.common()
    fields.setdefault("model_name", "kolors-virtual-try-on-v1")
    check.text("model_name", choices=TRY_ON_MODELS)
    for name in ("human_image", "cloth_image"):
        if name not in fields:
            check.problems.append(f"{name}: is required")
        else:
            check.image(name, fields[name])
    check.raise_if_any()
    size = png_size(fields["human_image"])
    aspect = f"{size[0]}:{size[1]}" if size else "3:4"
    return _request("virtual-try-on", fields, 1, 1.0, aspect_ratio=aspect, product_type="try_on")


_COMMON_FIELDS = ("callback_url", "external_task_id")
_OMNI_FIELDS = (
    *_COMMON_FIELDS,
    "model_name",
    "prompt",
    "image_list",
    "element_list",
    "resolution",
    "result_type",
    "n",
    "series_amount",
    "aspect_ratio",
    "watermark_info",
)
_MULTI_FIELDS = (
    *_COMMON_FIELDS,
    "model_name",
    "prompt",
    "subject_image_list",
    "scene_image",
    "style_image",
    "n",
    "aspect_ratio",
    "watermark_info",
)
_EXPAND_FIELDS = (
    *_COMMON_FIELDS,
    "image",
    *(f"{s}_expansion_ratio" for s in EXPAND_SIDES),
    "prompt",
    "n",
    "watermark_info",
)
_TRY_ON_FIELDS = (*_COMMON_FIELDS, "model_name", "human_image", "cloth_image")


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: its short name, its path under ``/v1``, and its validator."""

    kind: str
    path: str
    validator: Callable[[dict[str, Any]], ImageRequest]


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("omni-image", "/v1/images/omni-image", _omni),
    Endpoint("multi-image2image", "/v1/images/multi-image2image", _multi_image),
    Endpoint("expand", "/v1/images/editing/expand", _expand),
    Endpoint("virtual-try-on", "/v1/images/kolors-virtual-try-on", _virtual_try_on),
)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> ImageRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    fields = {
        key: value
        for key, value in body.items()
        if value is not None and not (isinstance(value, str) and not value.strip() and key != "prompt")
    }
    request = BY_KIND[kind].validator(fields)
    return request


def validate_at(by_kind: Mapping[str, Endpoint], kind: str, body: Any) -> Any:
    """The request ``by_kind[kind]`` accepts from the body's set fields, or :class:`RuleViolation`
    naming every broken rule (what the simulator's endpoint modules without special cases share)."""
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    return by_kind[kind].validator({key: value for key, value in body.items() if value is not None})
