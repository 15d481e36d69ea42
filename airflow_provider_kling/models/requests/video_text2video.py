"""``POST /v1/videos/text2video``: a video from a prompt.

Rules from Kling's text-to-video page and changelog: ``prompt`` is required (at most 2500
characters, as ``negative_prompt``); ``aspect_ratio`` 16:9 (default), 9:16 or 1:1; ``cfg_scale``
in [0, 1]; ``camera_control`` a preset or one ``simple`` movement. Mode, duration, ``cfg_scale``,
``sound`` and kling-v3's multi-shot fields depend on the model: see ``models.video_capabilities``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Literal

from pydantic import Field, StrictBool

from airflow_provider_kling.defaults import DEFAULT_VIDEO_MODEL
from airflow_provider_kling.models.requests.base import WatermarkInfo
from airflow_provider_kling.models.requests.video_base import (
    CameraControl,
    KlingVideoRequest,
    Shot,
    VideoElement,
)
from airflow_provider_kling.models.video_capabilities import (
    MAX_SHOTS,
    MAX_VIDEO_PROMPT_LENGTH,
    TEXT2VIDEO,
    models_for,
)

TEXT2VIDEO_PATH = "/v1/videos/text2video"
#: kling-v3's element limit, inferred from the new-style 3.0 page (the old-style field is UNCONFIRMED).
MAX_VIDEO_ELEMENTS = 3


class TextToVideoRequest(KlingVideoRequest):
    """The body of ``POST /v1/videos/text2video``."""

    kind: ClassVar[str] = TEXT2VIDEO
    path: ClassVar[str] = TEXT2VIDEO_PATH
    known_models: ClassVar[Collection[str]] = models_for(TEXT2VIDEO)
    blank_text_fields: ClassVar[tuple[str, ...]] = (
        "negative_prompt",
        "mode",
        "aspect_ratio",
        "duration",
        "sound",
        "shot_type",
    )
    blank_list_fields: ClassVar[tuple[str, ...]] = ("element_list", "multi_prompt")

    model_name: str = DEFAULT_VIDEO_MODEL
    prompt: str = Field(min_length=1, max_length=MAX_VIDEO_PROMPT_LENGTH)
    negative_prompt: str | None = Field(default=None, max_length=MAX_VIDEO_PROMPT_LENGTH)
    mode: Literal["std", "pro", "4k"] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    duration: str | None = None
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    sound: Literal["on", "off"] | None = None
    camera_control: CameraControl | None = None
    element_list: list[VideoElement] | None = Field(default=None, min_length=1, max_length=MAX_VIDEO_ELEMENTS)
    multi_shot: StrictBool | None = None
    shot_type: Literal["customize", "intelligence"] | None = None
    multi_prompt: list[Shot] | None = Field(default=None, min_length=1, max_length=MAX_SHOTS)
    watermark_info: WatermarkInfo | None = None
