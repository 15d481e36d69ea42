"""``POST /v1/videos/image2video``: a video from a first frame (and optionally a last frame).

Rules from Kling's image-to-video page: ``image`` (the first frame) and ``image_tail`` (the last)
are URLs or bare base64 of a JPG/PNG (at most 10 MB, at least 300 px a side, 1:2.5-2.5:1), and
come from your storage too (``image_fields``); there is no ``aspect_ratio`` (the image sets it).
The last frame, the motion-brush masks (``static_mask``, ``dynamic_masks``: up to 6, each with 2-77
trajectory points) and ``camera_control`` exclude one another. ``voice_list`` (at most 2 voices,
cited as ``<<<voice_1>>>``) needs ``sound="on"``. Per-model rules: ``models.video_capabilities``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from airflow_provider_kling.defaults import DEFAULT_VIDEO_MODEL
from airflow_provider_kling.models.requests.base import WatermarkInfo, check_image
from airflow_provider_kling.models.requests.video_base import (
    CameraControl,
    KlingVideoRequest,
    Shot,
    VideoElement,
    citation_problems,
    plain_items,
)
from airflow_provider_kling.models.requests.video_text2video import MAX_VIDEO_ELEMENTS
from airflow_provider_kling.models.video_capabilities import (
    IMAGE2VIDEO,
    MAX_DYNAMIC_MASKS,
    MAX_SHOTS,
    MAX_VIDEO_PROMPT_LENGTH,
    MAX_VOICES,
    TRAJECTORY_POINTS,
    models_for,
)

IMAGE2VIDEO_PATH = "/v1/videos/image2video"


class TrajectoryPoint(BaseModel):
    """One point of a motion-brush trajectory, in the image's pixel coordinates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: StrictInt
    y: StrictInt


class DynamicMask(BaseModel):
    """One ``dynamic_masks`` item: the area that moves, and the path it moves along."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mask: str
    trajectories: list[TrajectoryPoint] = Field(
        min_length=TRAJECTORY_POINTS[0], max_length=TRAJECTORY_POINTS[1]
    )

    _mask = field_validator("mask")(classmethod(lambda cls, value: check_image(value)))


class Voice(BaseModel):
    """One ``voice_list`` item: a voice of Kling's voice library, cited as ``<<<voice_N>>>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice_id: str = Field(min_length=1)


class ImageToVideoRequest(KlingVideoRequest):
    """The body of ``POST /v1/videos/image2video``."""

    kind: ClassVar[str] = IMAGE2VIDEO
    path: ClassVar[str] = IMAGE2VIDEO_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("image", "image_tail", "static_mask", "dynamic_masks.mask")
    known_models: ClassVar[Collection[str]] = models_for(IMAGE2VIDEO)
    blank_text_fields: ClassVar[tuple[str, ...]] = (
        "prompt",
        "negative_prompt",
        "image",
        "image_tail",
        "static_mask",
        "mode",
        "duration",
        "sound",
        "shot_type",
    )
    blank_list_fields: ClassVar[tuple[str, ...]] = (
        "dynamic_masks",
        "voice_list",
        "element_list",
        "multi_prompt",
    )

    model_name: str = DEFAULT_VIDEO_MODEL
    image: str | None = None
    image_tail: str | None = None
    prompt: str | None = Field(default=None, max_length=MAX_VIDEO_PROMPT_LENGTH)
    negative_prompt: str | None = Field(default=None, max_length=MAX_VIDEO_PROMPT_LENGTH)
    mode: Literal["std", "pro", "4k"] | None = None
    duration: str | None = None
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    sound: Literal["on", "off"] | None = None
    voice_list: list[Voice] | None = Field(default=None, min_length=1, max_length=MAX_VOICES)
    camera_control: CameraControl | None = None
    static_mask: str | None = None
    dynamic_masks: list[DynamicMask] | None = Field(default=None, min_length=1, max_length=MAX_DYNAMIC_MASKS)
    element_list: list[VideoElement] | None = Field(default=None, min_length=1, max_length=MAX_VIDEO_ELEMENTS)
    multi_shot: StrictBool | None = None
    shot_type: Literal["customize", "intelligence"] | None = None
    multi_prompt: list[Shot] | None = Field(default=None, min_length=1, max_length=MAX_SHOTS)
    watermark_info: WatermarkInfo | None = None

    _images = field_validator("image", "image_tail", "static_mask")(
        classmethod(lambda cls, value: check_image(value))
    )

    _plain_ids_are_voices = field_validator("voice_list", mode="before")(plain_items("voice_id"))

    def kind_problems(self) -> list[str]:
        problems = []
        if self.image is None and self.image_tail is None:
            problems.append(
                "image: required (the first frame; image_tail alone only where a model allows it)"
            )
        controls = [
            name
            for name, used in (
                ("image_tail", self.image_tail is not None),
                ("static_mask/dynamic_masks", self.static_mask is not None or self.dynamic_masks is not None),
                ("camera_control", self.camera_control is not None),
            )
            if used
        ]
        if len(controls) > 1:
            problems.append(
                f"{controls[0]}: excludes {' and '.join(controls[1:])} (Kling takes one of a last frame, "
                "motion-brush masks and camera control)"
            )
        if self.voice_list is not None:
            if self.sound != "on":
                problems.append(f"voice_list: needs sound='on' (got sound={self.sound!r})")
            problems += citation_problems(self.prompt, "voice", len(self.voice_list), "voice_list")
        return problems
