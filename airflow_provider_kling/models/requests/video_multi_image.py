"""``POST /v1/videos/multi-image2video``: a video from up to 4 reference images (kling-v1-6 only;
Kling's Multi-Image to Video page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import ImageItem, plain_items
from airflow_provider_kling.models.requests.video_base import (
    ASPECT_RATIO,
    DURATION,
    NEGATIVE_PROMPT,
    RESOLUTION,
    WATERMARK,
    KlingVideoRequest,
)
from airflow_provider_kling.models.video_capabilities import MAX_MULTI_IMAGES, MAX_VIDEO_PROMPT_LENGTH


class MultiImageToVideoRequest(KlingVideoRequest):
    """The body of ``POST /v1/videos/multi-image2video``."""

    kind: ClassVar[str] = RequestKind.MULTI_IMAGE2VIDEO
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/videos/multi-image2video"}
    image_fields: ClassVar[tuple[str, ...]] = ("image_list.image",)

    model_name: str = Field(default="kling-v1-6", description="kling-v1-6, the only one.")
    image_list: list[ImageItem] = Field(
        min_length=1,
        max_length=MAX_MULTI_IMAGES,
        description="1 to 4 images (URL, base64, or in your storage).",
    )
    prompt: str = Field(min_length=1, max_length=MAX_VIDEO_PROMPT_LENGTH, description="What to film.")
    negative_prompt: NEGATIVE_PROMPT = None
    resolution: RESOLUTION = None
    aspect_ratio: ASPECT_RATIO = None
    duration: DURATION = None
    watermark_info: WATERMARK = None

    _plain_images = field_validator("image_list", mode="before")(plain_items("image"))
