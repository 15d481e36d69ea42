"""Kling's rules for ``POST /v1/images/generations``, as data: the simulator's own.

Written from Kling's published pages (image generation, the per-model capability map) and the
reseller's page, never imported from the client's request model: a test double that shares the
client's validator cannot catch the client's validation bugs. ``MODELS`` is one row per model; a
new model is one more row. Where no page states a cell, the row says so in a comment.

Models as served in 2026: Kling's own hosts (the simulator's ``/v1/...`` routes) list only
``kling-v2-1`` and ``kling-v3`` (default ``kling-v3``), but no live answer has refused the older
four, so they still serve all six, as the reseller (``/kling/v1/...``) does (:data:`SERVED_BY`).

A request breaking a rule answers ``400`` with code ``1201`` and a message naming the field, the
rule and the value. Blank optional strings (the reseller's own example sends ``""`` for unused
fields) count as absent; ``human_fidelity`` is accepted with any reference type (Kling ignores it
unless ``image_reference`` is ``subject``), and ``image_fidelity`` with any model (Kling's page says
only kling-v1 and kling-v1-5 use it, not that others refuse it).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
REFERENCE_TYPES = ("subject", "face")
RESOLUTIONS = ("1k", "2k")
#: Kling's defaults for the fields its own pages make optional (the reseller requires both); the
#: 2026 page's default model is kling-v3 (older pages said kling-v1).
DEFAULT_MODEL = "kling-v3"
DEFAULT_N = 1
MAX_PROMPT = 2500
N_RANGE = (1, 9)
#: Kling: "unique per account"; no length is published, 256 is the simulator's assumption.
MAX_EXTERNAL_TASK_ID = 256
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Reference elements plus reference images, at most.
MAX_REFERENCES = 10
#: Image formats Kling accepts for ``image`` (.jpg / .jpeg / .png), by their first bytes.
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}


@dataclass(frozen=True)
class ModelCapabilities:
    """What one image model accepts, and what an image costs (units per image, by resolution).

    ``units_per_image`` is a STAND-IN price table: Kling's pages give no unit price per image
    model, so these numbers only make deductions visible and proportional to resolution and ``n``.
    """

    text_to_image: bool
    #: ``image`` without ``image_reference``: the whole image as the reference.
    whole_image_reference: bool
    reference_types: tuple[str, ...]
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...] = ASPECT_RATIOS
    element_list: bool = False
    units_per_image: Mapping[str, float] = field(default_factory=lambda: {"1k": 1.0, "2k": 2.0})


MODELS: dict[str, ModelCapabilities] = {
    # 1K only; references are whole images (subject/face arrived with kling-v1-5).
    "kling-v1": ModelCapabilities(True, True, (), ("1k",), units_per_image={"1k": 1.0}),
    # Kling: image_reference is required when kling-v1-5 gets an image.
    "kling-v1-5": ModelCapabilities(True, False, REFERENCE_TYPES, ("1k",), units_per_image={"1k": 2.0}),
    "kling-v2": ModelCapabilities(True, True, (), RESOLUTIONS, units_per_image={"1k": 2.0, "2k": 4.0}),
    # Restyle: an image in, no text-to-image (inferred from Kling's capability map).
    "kling-v2-new": ModelCapabilities(False, True, (), RESOLUTIONS, units_per_image={"1k": 2.0, "2k": 4.0}),
    "kling-v2-1": ModelCapabilities(True, True, (), RESOLUTIONS, units_per_image={"1k": 2.0, "2k": 4.0}),
    # The kling-v3 page lists subject/face references and element_list.
    "kling-v3": ModelCapabilities(
        True, True, REFERENCE_TYPES, RESOLUTIONS, element_list=True, units_per_image={"1k": 2.0, "2k": 4.0}
    ),
}
#: Which image-generation models each kind of host serves today: Kling's 2026-09 page lists two, but
#: its retirement of the other four is UNCONFIRMED (no live answer refused them); the reseller's page
#: lists all six.
SERVED_BY: Mapping[str, tuple[str, ...]] = {
    "kling": ("kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3"),
    "reseller": ("kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3"),
}
HOSTS = tuple(SERVED_BY)

_OPTIONAL_TEXT = (
    "model_name",
    "negative_prompt",
    "image",
    "image_reference",
    "resolution",
    "aspect_ratio",
    "callback_url",
    "external_task_id",
)
FIELDS = (
    "model_name",
    "prompt",
    "negative_prompt",
    "image",
    "image_reference",
    "image_fidelity",
    "human_fidelity",
    "resolution",
    "n",
    "aspect_ratio",
    "callback_url",
    "external_task_id",
    "watermark_info",
    "element_list",
)


@dataclass(frozen=True)
class ImageRequest:
    """A create the simulator accepted: the fields with Kling's defaults filled in."""

    model_name: str
    prompt: str
    n: int
    body: Mapping[str, Any]
    resolution: str = "1k"
    aspect_ratio: str | None = None
    callback_url: str | None = None
    external_task_id: str | None = None
    watermark: bool = False
    #: The endpoint's short name (``testing.endpoints`` holds the other endpoints' rules).
    endpoint: str = "generations"
    #: Units per image when the endpoint prices it itself (image generation prices by model).
    units_each: float | None = None
    #: omni-image ``result_type="series"``: the images are answered as ``series_images``.
    series: bool = False
    #: What the task makes (its resource pack type): ``image``, ``video`` or ``try_on``.
    product_type: str = "image"

    @property
    def units_per_image(self) -> float:
        if self.units_each is not None:
            return self.units_each
        return MODELS[self.model_name].units_per_image[self.resolution]

    @property
    def units(self) -> float:
        """What the task deducts from the account's resource packs when it succeeds."""
        return self.units_per_image * self.n

    def to_json(self) -> dict[str, Any]:
        """The request as accepted (blank fields dropped, defaults filled in)."""
        return dict(self.body)

    def without_external_task_id(self) -> ImageRequest:
        body = {k: v for k, v in self.body.items() if k != "external_task_id"}
        return dataclasses.replace(self, body=body, external_task_id=None)


class RuleViolation(ValueError):
    """One or more broken rules; ``str()`` names each field, rule and value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid Kling image request: " + "; ".join(problems))
        self.problems = problems


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _image_problem(image: str) -> str | None:
    """Why ``image`` is not a reference image Kling takes (an http(s) URL, or bare base64 of a JPG/PNG)."""
    if image.startswith(("http://", "https://")):
        return None
    if image[:5].lower() == "data:":
        return "must be bare base64 without a 'data:' prefix, or an http(s) URL"
    if len(image) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        return f"must be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
    try:
        data = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        return "must be an http(s) URL or base64-encoded JPG/PNG data"
    if not any(data.startswith(signature) for signature in IMAGE_SIGNATURES):
        return "base64 data must be a JPG or PNG image"
    return None


def _field_problems(fields: dict[str, Any]) -> list[str]:
    problems = [f"{name}: is not a field of this endpoint" for name in fields if name not in FIELDS]

    def bad(name: str, rule: str) -> None:
        problems.append(f"{name}: {rule} (got {_shown(fields[name])})")

    for name in _OPTIONAL_TEXT:
        if name in fields and not isinstance(fields[name], str):
            bad(name, "must be a string")
    model = fields.get("model_name", DEFAULT_MODEL)
    if isinstance(model, str) and model not in MODELS:
        bad("model_name", f"must be one of {', '.join(MODELS)}")
    prompt = fields.get("prompt")
    if prompt is None:
        problems.append("prompt: is required")
    elif not isinstance(prompt, str) or not prompt.strip():
        bad("prompt", "must be a non-blank string")
    elif len(prompt) > MAX_PROMPT:
        problems.append(f"prompt: must be at most {MAX_PROMPT} characters (got {len(prompt)})")
    negative = fields.get("negative_prompt")
    if isinstance(negative, str) and len(negative) > MAX_PROMPT:
        problems.append(f"negative_prompt: must be at most {MAX_PROMPT} characters (got {len(negative)})")
    n = fields.get("n", DEFAULT_N)
    if not isinstance(n, int) or isinstance(n, bool) or not N_RANGE[0] <= n <= N_RANGE[1]:
        bad("n", f"must be an integer from {N_RANGE[0]} to {N_RANGE[1]}")
    for name in ("image_fidelity", "human_fidelity"):
        if name in fields and not (_is_number(fields[name]) and 0 <= fields[name] <= 1):
            bad(name, "must be a number from 0 to 1")
    if isinstance(fields.get("image"), str) and (problem := _image_problem(fields["image"])):
        bad("image", problem)
    if isinstance(fields.get("image_reference"), str) and fields["image_reference"] not in REFERENCE_TYPES:
        bad("image_reference", f"must be one of {', '.join(REFERENCE_TYPES)}")
    if isinstance(fields.get("resolution"), str) and fields["resolution"] not in RESOLUTIONS:
        bad("resolution", f"must be one of {', '.join(RESOLUTIONS)}")
    if isinstance(fields.get("aspect_ratio"), str) and fields["aspect_ratio"] not in ASPECT_RATIOS:
        bad("aspect_ratio", f"must be one of {', '.join(ASPECT_RATIOS)}")
    callback = fields.get("callback_url")
    if isinstance(callback, str) and not callback.startswith(("http://", "https://")):
        bad("callback_url", "must be an http:// or https:// URL")
    external = fields.get("external_task_id")
    if isinstance(external, str) and len(external) > MAX_EXTERNAL_TASK_ID:
        problems.append(
            f"external_task_id: must be at most {MAX_EXTERNAL_TASK_ID} characters (got {len(external)})"
        )
    watermark = fields.get("watermark_info")
    if "watermark_info" in fields and not (
        isinstance(watermark, dict)
        and set(watermark) <= {"enabled"}
        and isinstance(watermark.get("enabled"), bool)
    ):
        bad("watermark_info", 'must be {"enabled": true|false}')
    elements = fields.get("element_list")
    if "element_list" in fields and not (
        isinstance(elements, list)
        and all(
            isinstance(e, dict) and set(e) == {"element_id"} and isinstance(e["element_id"], int)
            for e in elements
        )
    ):
        bad("element_list", 'must be a list of {"element_id": <integer>}')
    return problems


def _capability_problems(fields: dict[str, Any]) -> list[str]:
    """Rules across fields, and what the chosen model supports (``MODELS``)."""
    model_name = fields.get("model_name", DEFAULT_MODEL)
    model = MODELS[model_name]
    image, reference = fields.get("image"), fields.get("image_reference")
    problems = []
    if reference and not image:
        problems.append(f"image_reference: needs an image (got {reference!r} and no image)")
    if fields.get("negative_prompt") and image:
        problems.append("negative_prompt: is not supported together with image (image-to-image)")
    if not image and not model.text_to_image:
        problems.append(f"image: is required by {model_name} (it has no text-to-image)")
    if image and not reference and not model.whole_image_reference:
        types = " or ".join(model.reference_types)
        problems.append(f"image_reference: is required by {model_name} when image is set ({types})")
    if reference and reference not in model.reference_types:
        supported = ", ".join(model.reference_types) or "none"
        problems.append(
            f"image_reference: {model_name} does not support {reference!r} (supported: {supported})"
        )
    resolution = fields.get("resolution")
    if resolution and resolution not in model.resolutions:
        supported = ", ".join(model.resolutions)
        problems.append(f"resolution: {model_name} does not support {resolution!r} (supported: {supported})")
    ratio = fields.get("aspect_ratio")
    if ratio and ratio not in model.aspect_ratios:
        problems.append(f"aspect_ratio: {model_name} does not support {ratio!r}")
    elements = fields.get("element_list")
    if elements and not model.element_list:
        problems.append(f"element_list: is not supported by {model_name}")
    elif elements and len(elements) + (1 if image else 0) > MAX_REFERENCES:
        problems.append(f"element_list: elements plus reference images must be at most {MAX_REFERENCES}")
    return problems


def validate(body: Any, host: str = "reseller") -> ImageRequest:
    """The accepted request, or :class:`RuleViolation` naming every broken rule.

    ``host`` is the kind of host the request came to (:data:`SERVED_BY`): a model it no longer
    serves is refused as discontinued.
    """
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    fields = {
        key: value
        for key, value in body.items()
        if not (key in _OPTIONAL_TEXT and isinstance(value, str) and not value.strip()) and value is not None
    }
    problems = _field_problems(fields)
    if problems:
        raise RuleViolation(problems)
    problems = _capability_problems(fields)
    if problems:
        raise RuleViolation(problems)
    model = fields.get("model_name", DEFAULT_MODEL)
    if model not in SERVED_BY[host]:
        raise RuleViolation(
            [f"model_name: {model} has been discontinued (served: {', '.join(SERVED_BY[host])})"]
        )
    accepted = {"model_name": DEFAULT_MODEL, "n": DEFAULT_N, **fields}
    return ImageRequest(
        model_name=accepted["model_name"],
        prompt=accepted["prompt"],
        n=accepted["n"],
        body=accepted,
        resolution=accepted.get("resolution", "1k"),
        aspect_ratio=accepted.get("aspect_ratio"),
        callback_url=accepted.get("callback_url"),
        external_task_id=accepted.get("external_task_id"),
        watermark=bool(accepted.get("watermark_info", {}).get("enabled")),
    )


def capability_table() -> str:
    """``MODELS`` as a Markdown table (the docs' simulator page shows it)."""
    rows = [
        "| model | text-to-image | image without `image_reference` | `image_reference` | resolutions "
        "| `element_list` | units per image (stand-in) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, model in MODELS.items():
        units = ", ".join(f"{res}: {units:g}" for res, units in model.units_per_image.items())
        rows.append(
            f"| `{name}` | {'yes' if model.text_to_image else 'no'} | "
            f"{'yes' if model.whole_image_reference else 'no'} | {', '.join(model.reference_types) or '-'} | "
            f"{', '.join(model.resolutions)} | {'yes' if model.element_list else 'no'} | {units} |"
        )
    return "\n".join(rows)
