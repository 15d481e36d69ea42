"""``POST /v1/images/editing/expand``: outpainting, the canvas grown by a ratio of the original
height or width on each side (Kling's Extend Image page; all four ratios are sent, 0 for a side
left as is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, model_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.capabilities import MAX_PROMPT_LENGTH
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    WatermarkInfo,
)
from airflow_provider_kling.unit_prices import FLAT_IMAGE_PRICES, Prices, UnitRule, image_rule

MAX_EXPANSION_RATIO = 2.0
#: The expanded image's area, as a multiple of the original's, at most.
MAX_EXPANDED_AREA = 3.0


def expansion_for_aspect_ratio(width: int, height: int, aspect_ratio: str) -> dict[str, float]:
    """Ratios that grow a ``width`` x ``height`` image evenly to ``aspect_ratio`` (e.g. ``"21:9"``).

    Only the sides that must grow do: a wider target widens left and right, a taller one grows
    up and down. The result still has to pass :class:`ExpandImageRequest`'s area rule.
    """
    ratio_w, ratio_h = (float(part) for part in aspect_ratio.split(":"))
    target = ratio_w / ratio_h
    current = width / height
    ratios = {f"{side}_expansion_ratio": 0.0 for side in ("up", "down", "left", "right")}
    if target > current:
        each = round((target / current - 1) / 2, 4)
        ratios["left_expansion_ratio"] = ratios["right_expansion_ratio"] = each
    elif target < current:
        each = round((current / target - 1) / 2, 4)
        ratios["up_expansion_ratio"] = ratios["down_expansion_ratio"] = each
    return ratios


class ExpandImageRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/editing/expand``."""

    kind: ClassVar[str] = RequestKind.EXPAND
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/images/editing/expand"}
    unit_rule: ClassVar[UnitRule] = image_rule(tier_field=None)
    stand_in_prices: ClassVar[Prices] = FLAT_IMAGE_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("image",)

    image: str
    up_expansion_ratio: float = Field(default=0.0, ge=0, le=MAX_EXPANSION_RATIO)
    down_expansion_ratio: float = Field(default=0.0, ge=0, le=MAX_EXPANSION_RATIO)
    left_expansion_ratio: float = Field(default=0.0, ge=0, le=MAX_EXPANSION_RATIO)
    right_expansion_ratio: float = Field(default=0.0, ge=0, le=MAX_EXPANSION_RATIO)
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    n: int = Field(default=1, ge=1, le=9)
    watermark_info: WatermarkInfo | None = None

    @model_validator(mode="after")
    def _area_and_growth(self) -> ExpandImageRequest:
        width = 1 + self.left_expansion_ratio + self.right_expansion_ratio
        height = 1 + self.up_expansion_ratio + self.down_expansion_ratio
        if width * height > MAX_EXPANDED_AREA + 1e-9:
            raise ValueError(
                f"expansion ratios: the expanded image would be {width * height:.2f} times the original's "
                f"area; Kling allows at most {MAX_EXPANDED_AREA:g} ((1 + left + right) * (1 + up + down))"
            )
        if width * height == 1:
            raise ValueError("expansion ratios: all four are 0, so there is nothing to expand")
        return self
