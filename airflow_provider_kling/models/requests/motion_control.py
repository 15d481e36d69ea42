"""Motion control: a character image driven by the motion of a reference video, in both API styles.

``/v1``: ``POST /v1/videos/motion-control`` (``kling-v2-6``, Kling's default, or ``kling-v3``):
``image_url``, ``video_url``, ``character_orientation``, ``mode`` (std/pro), ``keep_original_sound``
(yes/no), ``prompt``. Model path: ``POST /motion-control/{kling-3.0|kling-2.6}`` with
``contents[]`` (prompt, image, video, element), ``settings`` (``character_orientation``, ``audio``
original/off, ``resolution`` 720p/1080p) and ``options``. One request class for both: each field's
:class:`~.base.Wire` says where it goes; ``keep_original_sound`` (``/v1``) and ``audio`` (model path)
are kept apart, as Kling documents them apart. Rules as data (:data:`MOTION_MODELS`): an element
only on kling-v3/kling-3.0, at most one, and it needs ``character_orientation="video"``; no 4k, no
duration, no aspect ratio. ``element_ids`` and ``watermark_info`` on ``/v1`` are UNCONFIRMED (one
third-party client sends them): sent, with a warning.

The output runs as long as the usable motion of the reference (at least 3 s; at most 10 s with
``character_orientation="image"``, 30 s with ``"video"``) and is billed per output second: an
estimate prices that maximum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.reference_image import check_model_path_image, checked_image
from airflow_provider_kling.models.requests.base import (
    OPTION,
    SETTING,
    SETTINGS,
    V1_ONLY,
    Contents,
    KlingTaskRequest,
    WatermarkInfo,
    Wire,
    check_http_url,
)
from airflow_provider_kling.models.video_capabilities import MODE_OF_RESOLUTION, RESOLUTION_OF_MODE
from airflow_provider_kling.unit_prices import Prices, Purchase, UnitRule

MAX_MOTION_PROMPT_LENGTH = 2500
#: The longest output per ``character_orientation`` (the reference video's limit), in seconds.
MAX_OUTPUT_SECONDS: Mapping[str, int] = {"image": 10, "video": 30}


@dataclass(frozen=True)
class MotionModel:
    """What one motion-control model takes, and its price per output second (std/720p, pro/1080p)."""

    elements: int
    units_per_second: tuple[float, float]


MOTION_MODELS: Mapping[str, MotionModel] = {
    "kling-v2-6": MotionModel(elements=0, units_per_second=(0.5, 0.8)),
    "kling-v3": MotionModel(elements=1, units_per_second=(0.9, 1.2)),
    "kling-2.6": MotionModel(elements=0, units_per_second=(0.5, 0.8)),
    "kling-3.0": MotionModel(elements=1, units_per_second=(0.9, 1.2)),
}
#: Kling's published prices per output second (CL 12/22/2025), by model and tier.
MOTION_PRICES: Prices = {
    name: {"std": low, "720p": low, "pro": high, "1080p": high}
    for name, (low, high) in ((n, m.units_per_second) for n, m in MOTION_MODELS.items())
}


def motion_rule(kind: str, fields: Mapping[str, Any]) -> Purchase:
    """The longest output the request can make, priced per second by model and tier."""
    seconds = MAX_OUTPUT_SECONDS.get(
        str(fields.get("character_orientation")), max(MAX_OUTPUT_SECONDS.values())
    )
    tier = str(fields.get("resolution") or "720p")
    return Purchase(kind, str(fields.get("model_name") or "kling-v2-6"), tier, seconds, "second")


def _element_for_v1(ids: list[str]) -> list[dict[str, int]]:
    return [{"element_id": int(item)} for item in ids]  # /v1 wants a number, the model path a string


class MotionControlRequest(KlingTaskRequest):
    """The body of a motion-control create, in the style of its model."""

    kind: ClassVar[str] = RequestKind.MOTION_CONTROL
    paths: ClassVar[Mapping[ApiStyle, str]] = {
        ApiStyle.V1: "/v1/videos/motion-control",
        ApiStyle.MODEL_PATH: "/motion-control",
    }
    output: ClassVar[str] = "video"
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = motion_rule
    stand_in_prices: ClassVar[Prices] = MOTION_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("image",)
    known_models: ClassVar[tuple[str, ...]] = tuple(MOTION_MODELS)
    model_path_models: ClassVar[tuple[str, ...]] = ("kling-3.0", "kling-2.6")
    unconfirmed: ClassVar[Mapping[str, str]] = {
        name: f"only vercel's client sends {name.replace('_ids', '_list')} to /v1/videos/motion-control"
        for name in ("element_ids", "watermark_info")
    }

    model_name: str = Field(
        default="kling-v2-6", description="kling-v2-6, kling-v3 (/v1); kling-3.0, kling-2.6."
    )
    image: Annotated[str, Wire(v1="image_url", model_path=Contents("image"))] = Field(
        description="The character (URL or base64; JPG/PNG, at least 300 px)."
    )
    video: Annotated[str, Wire(v1="video_url", model_path=Contents("video"))] = Field(
        description="The reference motion: an http(s) URL of an MP4/MOV, at least 3 s."
    )
    character_orientation: Annotated[Literal["image", "video"], SETTING] = Field(
        description="Face as in the image (reference up to 10 s) or as in the video (up to 30 s)."
    )
    prompt: Annotated[str | None, Wire(model_path=Contents("prompt", "text"))] = Field(
        default=None, max_length=MAX_MOTION_PROMPT_LENGTH, description="Optional."
    )
    resolution: Annotated[
        Literal["720p", "1080p"] | None,
        Wire(v1="mode", to_v1=MODE_OF_RESOLUTION.get, model_path=SETTINGS),
    ] = Field(default=None, description="720p (Kling's default) or 1080p (/v1: mode std or pro).")
    keep_original_sound: Annotated[Literal["yes", "no"] | None, V1_ONLY] = Field(
        default=None, description="/v1: keep the reference's sound (Kling's default yes)."
    )
    audio: Annotated[Literal["original", "off"] | None, Wire(v1=None, model_path=SETTINGS)] = Field(
        default=None, description="Model path: the reference's sound, original (default) or off."
    )
    element_ids: Annotated[
        list[str] | None,
        Wire(
            v1="element_list", to_v1=_element_for_v1, model_path=Contents("element", "element_id", "element")
        ),
    ] = Field(default=None, min_length=1, max_length=1, description="One element (kling-v3, kling-3.0).")
    watermark_info: Annotated[WatermarkInfo | None, OPTION] = None

    @field_validator("image")
    @classmethod
    def _image(cls, value: str, info: ValidationInfo) -> str:
        style = cls.style_of(info.data.get("model_name"))
        return checked_image(value) if style is ApiStyle.V1 else check_model_path_image(value)

    _video_url = field_validator("video")(classmethod(lambda cls, value: check_http_url(value)))

    @field_validator("resolution", mode="before")
    @classmethod
    def _mode_is_resolution(cls, value: Any) -> Any:
        return RESOLUTION_OF_MODE.get(value, value) if isinstance(value, str) else value

    @field_validator("element_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        # 64-bit ids kept exact: as strings, from ints, strings or [{"element_id": ...}].
        if not isinstance(value, list | tuple):
            return value
        items = [item.get("element_id") if isinstance(item, dict) else item for item in value]
        return [str(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in items]

    @model_validator(mode="after")
    def _motion_rules(self) -> MotionControlRequest:
        model = MOTION_MODELS[self.model_name]
        problems = []
        if self.element_ids and not model.elements:
            takers = ", ".join(name for name, row in MOTION_MODELS.items() if row.elements)
            problems.append(f"element_ids: {self.model_name} takes no element; models that do: {takers}")
        elif self.element_ids and self.character_orientation != "video":
            problems.append("character_orientation: an element needs 'video' (Kling forces it)")
        for item in self.element_ids or ():
            if not item.isdigit():
                problems.append(f"element_ids: an element id is a number (got {item!r})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            "api_style": self.api_style.value,
            "character_orientation": self.character_orientation,
            "tier": self.resolution or "720p",
        }
