"""``POST /v1/images/multi-image2image``: one image from 1-4 pre-cropped subject images, with an
optional scene and style (Kling's Multi-Image to Image page)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.capabilities import ALL_ASPECT_RATIOS, MAX_PROMPT_LENGTH
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    WatermarkInfo,
    check_image,
    plain_items,
)
from airflow_provider_kling.unit_prices import FLAT_IMAGE_PRICES, Prices, UnitRule, image_rule

#: Models Kling's page lists for this endpoint (``kling-v2`` is its default).
MULTI_IMAGE_MODELS: tuple[str, ...] = ("kling-v2", "kling-v2-1")
MAX_SUBJECT_IMAGES = 4


class SubjectImage(BaseModel):
    """One ``subject_image_list`` item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_image: str

    _image = field_validator("subject_image")(classmethod(lambda cls, value: check_image(value)))


class MultiImageRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/multi-image2image``."""

    kind: ClassVar[str] = RequestKind.MULTI_IMAGE2IMAGE
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/images/multi-image2image"}
    unit_rule: ClassVar[UnitRule] = image_rule(tier_field=None)
    stand_in_prices: ClassVar[Prices] = FLAT_IMAGE_PRICES
    image_fields: ClassVar[tuple[str, ...]] = (
        "subject_image_list.subject_image",
        "scene_image",
        "style_image",
    )
    known_models: ClassVar[Collection[str]] = MULTI_IMAGE_MODELS

    model_name: str = "kling-v2"
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    subject_image_list: list[SubjectImage] = Field(min_length=1, max_length=MAX_SUBJECT_IMAGES)
    scene_image: str | None = None
    style_image: str | None = None
    n: int = Field(default=1, ge=1, le=9)
    aspect_ratio: Literal[ALL_ASPECT_RATIOS] | None = None  # type: ignore[valid-type]
    watermark_info: WatermarkInfo | None = None

    _plain_images = field_validator("subject_image_list", mode="before")(plain_items("subject_image"))
