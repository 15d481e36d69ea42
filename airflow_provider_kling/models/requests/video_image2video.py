"""Image to video: a video from a first frame (and optionally a last frame), at
``POST /v1/videos/image2video`` or ``/image-to-video/{model}`` (Kling's image-to-video pages);
there is no ``aspect_ratio``: the image sets it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import V1_ONLY, Contents, Wire, check_image
from airflow_provider_kling.models.requests.video_base import (
    AUDIO,
    CFG_SCALE,
    DURATION,
    ELEMENT_IDS,
    MULTI_PROMPT,
    MULTI_SHOT,
    NEGATIVE_PROMPT,
    RESOLUTION,
    SHOT_TYPE,
    WATERMARK,
    CameraControl,
    KlingVideoRequest,
    citation_problems,
    objects_of,
)
from airflow_provider_kling.models.video_capabilities import (
    MAX_DYNAMIC_MASKS,
    MAX_VOICES,
    TRAJECTORY_POINTS,
)


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


class ImageToVideoRequest(KlingVideoRequest):
    """A video from a first frame (and a last frame, elements, voices); the model chooses the API style."""

    kind: ClassVar[str] = RequestKind.IMAGE2VIDEO
    paths: ClassVar[Mapping[ApiStyle, str]] = {
        ApiStyle.V1: "/v1/videos/image2video",
        ApiStyle.MODEL_PATH: "/image-to-video",
    }
    image_fields: ClassVar[tuple[str, ...]] = (
        "first_frame",
        "last_frame",
        "static_mask",
        "dynamic_masks.mask",
    )

    model_name: str = Field(default="kling-v2-6", description="The model; it chooses the API style.")
    prompt: Annotated[str | None, Wire(model_path=Contents("prompt", "text"))] = Field(
        default=None, description="What happens; cite voices as <<<voice_1>>>."
    )
    first_frame: Annotated[str | None, Wire(v1="image", model_path=Contents("first_frame"))] = Field(
        default=None, description="The first frame: a URL, base64, or an image in your storage."
    )
    last_frame: Annotated[str | None, Wire(v1="image_tail", model_path=Contents("last_frame"))] = Field(
        default=None, description="The last frame, in the same forms."
    )
    negative_prompt: NEGATIVE_PROMPT = None
    resolution: RESOLUTION = None
    duration: DURATION = None
    cfg_scale: CFG_SCALE = None
    audio: AUDIO = None
    voice_ids: Annotated[
        list[str] | None,
        Wire(
            v1="voice_list", to_v1=objects_of("voice_id"), model_path=Contents("voice", "voice_id", "voice")
        ),
    ] = Field(default=None, min_length=1, max_length=MAX_VOICES, description="Voices of Kling's library.")
    camera_control: Annotated[CameraControl | None, V1_ONLY] = Field(
        default=None, description="Not with a last frame or masks (/v1 models)."
    )
    static_mask: Annotated[str | None, V1_ONLY] = Field(
        default=None, description="Motion brush: the area that stays (an image; /v1 models)."
    )
    dynamic_masks: Annotated[list[DynamicMask] | None, V1_ONLY] = Field(
        default=None,
        min_length=1,
        max_length=MAX_DYNAMIC_MASKS,
        description='Motion brush: up to 6 {"mask": image, "trajectories": [{"x", "y"}, ...]} (/v1 models).',
    )
    element_ids: ELEMENT_IDS = None
    multi_shot: MULTI_SHOT = None
    shot_type: SHOT_TYPE = None
    multi_prompt: MULTI_PROMPT = None
    watermark_info: WATERMARK = None

    def kind_problems(self) -> list[str]:
        problems = []
        if self.first_frame is None and self.last_frame is None:
            problems.append("first_frame: required (last_frame alone only where a /v1 model allows it)")
        controls = [
            name
            for name, used in (
                ("last_frame", self.last_frame is not None),
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
        if self.voice_ids is not None:
            if self.api_style is ApiStyle.V1 and self.audio != "native":
                problems.append(f"voice_ids: needs audio='native' (got audio={self.audio!r})")
            problems += citation_problems(self.prompt, "voice", len(self.voice_ids), "voice_ids")
        return problems
