"""``POST /v1/videos/multi-image2video``: a video from up to 4 reference images (kling-v1-6 only).

Rules from Kling's Multi-Image to Video page: ``image_list`` holds 1 to 4 ``{"image": ...}``
(URL or bare base64 of a JPG/PNG, or a file in your storage) and ``prompt`` is required (at most
2500 characters); ``mode`` std or pro, ``duration`` 5 or 10, ``aspect_ratio`` 16:9, 9:16 or 1:1.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_kling.defaults import DEFAULT_MULTI_IMAGE_VIDEO_MODEL
from airflow_provider_kling.models.requests.base import WatermarkInfo, check_image
from airflow_provider_kling.models.requests.video_base import KlingVideoRequest, plain_items
from airflow_provider_kling.models.video_capabilities import (
    MAX_MULTI_IMAGES,
    MAX_VIDEO_PROMPT_LENGTH,
    MULTI_IMAGE2VIDEO,
    models_for,
)

MULTI_IMAGE2VIDEO_PATH = "/v1/videos/multi-image2video"


class MultiImageVideoImage(BaseModel):
    """One ``image_list`` item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str

    _image = field_validator("image")(classmethod(lambda cls, value: check_image(value)))


class MultiImageToVideoRequest(KlingVideoRequest):
    """The body of ``POST /v1/videos/multi-image2video``."""

    kind: ClassVar[str] = MULTI_IMAGE2VIDEO
    path: ClassVar[str] = MULTI_IMAGE2VIDEO_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("image_list.image",)
    known_models: ClassVar[Collection[str]] = models_for(MULTI_IMAGE2VIDEO)
    blank_text_fields: ClassVar[tuple[str, ...]] = ("negative_prompt", "mode", "aspect_ratio", "duration")

    model_name: str = DEFAULT_MULTI_IMAGE_VIDEO_MODEL
    image_list: list[MultiImageVideoImage] = Field(min_length=1, max_length=MAX_MULTI_IMAGES)
    prompt: str = Field(min_length=1, max_length=MAX_VIDEO_PROMPT_LENGTH)
    negative_prompt: str | None = Field(default=None, max_length=MAX_VIDEO_PROMPT_LENGTH)
    mode: Literal["std", "pro"] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    duration: str | None = None
    watermark_info: WatermarkInfo | None = None

    _plain_images = field_validator("image_list", mode="before")(plain_items("image"))
