"""``POST /v1/videos/effects``: one of Kling's video effects applied to one image (or two).

Rules from Kling's video-effects page (2026-09): ``effect_scene`` is required and passed through as
given (Kling lists about 219 scenes and retires some each month: no fixed list is enforced); a
dual-image scene (:data:`DUAL_IMAGE_SCENES`, data to refresh when Kling adds one) takes ``images``
(exactly 2, left then right), every other scene ``image``; images are a URL or bare base64 of a
JPEG/PNG (10 MB, 300 px). On the wire both go under ``input``. The page lists no model, mode or
duration; ``watermark_info`` is shown only in the result, so sending it is UNCONFIRMED (sent, with
a warning). A task makes one video and holds one slot; Kling prices each effect on its own list
(not in our sources): the stand-in is a flat price per task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest, WatermarkInfo, Wire, check_image
from airflow_provider_kling.unit_prices import ANY, Prices, UnitRule, task_rule

#: The scenes that take two images (``images``, left then right); every other scene takes ``image``.
DUAL_IMAGE_SCENES: frozenset[str] = frozenset(
    {
        "pet_skateboard",
        "daily_ootd",
        "toss_run",
        "switch_to_silk",
        "studio_look",
        "french_elegance",
        "finger_swipe",
        "smooth_transition",
        "kiss_pro",
        "snow_night_kiss",
        "eternal_kiss",
        "cheers_2026",
        "fight_pro",
        "hug_pro",
        "heart_gesture_pro",
    }
)
#: Scenes Kling retired (it answers an error): refused before the create, with the date.
RETIRED_SCENES: Mapping[str, str] = {"hug": "2026-01-30", "kiss": "2026-01-30", "fight": "2026-01-30"}
#: STAND-IN units per effect (Kling's effects price list is not in our sources).
EFFECT_PRICES: Prices = {ANY: {ANY: 2.0}}


def _under_input(key: str) -> Wire:
    """A field sent as ``input.<key>`` (the effects body nests its images)."""
    return Wire(v1="input", to_v1=lambda value: {key: value})


class VideoEffectsRequest(KlingTaskRequest):
    """The body of ``POST /v1/videos/effects``."""

    kind: ClassVar[str] = RequestKind.VIDEO_EFFECTS
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/videos/effects"}
    output: ClassVar[str] = "video"
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = EFFECT_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("image", "images")
    unconfirmed: ClassVar[Mapping[str, str]] = {
        "watermark_info": "Kling's effects page shows watermark_url in the result only, not the request",
    }

    effect_scene: str = Field(
        min_length=1, max_length=100, description="The effect, e.g. 'bloombloom' or a dual-image 'hug_pro'."
    )
    image: Annotated[str | None, _under_input("image")] = Field(
        default=None, description="The image of a single-image scene (URL or base64)."
    )
    images: Annotated[list[str] | None, _under_input("images")] = Field(
        default=None, description="The two images of a dual-image scene, left then right."
    )
    watermark_info: WatermarkInfo | None = Field(
        default=None, description='{"enabled": True} for a watermarked copy (UNCONFIRMED).'
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return check_image(value)

    @field_validator("effect_scene")
    @classmethod
    def _scene(cls, value: str) -> str:
        value = value.strip()
        if value in RETIRED_SCENES:
            raise ValueError(f"Kling retired scene {value!r} on {RETIRED_SCENES[value]}; try {value}_pro")
        return value

    @model_validator(mode="after")
    def _images_of_the_scene(self) -> VideoEffectsRequest:
        dual = self.effect_scene in DUAL_IMAGE_SCENES
        wanted, other = ("images", "image") if dual else ("image", "images")
        if getattr(self, other) is not None:
            shape = "two images (images)" if dual else "one image (image)"
            raise ValueError(f"{other}: scene {self.effect_scene!r} takes {shape}, not {other}")
        if getattr(self, wanted) is None:
            raise ValueError(f"{wanted}: scene {self.effect_scene!r} needs {wanted}")
        if dual and len(self.images or ()) != 2:
            raise ValueError(f"images: scene {self.effect_scene!r} takes exactly 2 images, left then right")
        return self

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "effect_scene": self.effect_scene}
