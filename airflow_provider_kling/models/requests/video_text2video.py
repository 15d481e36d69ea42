"""Text to video: a video from a prompt, at ``POST /v1/videos/text2video`` or
``/text-to-video/{model}`` (Kling's text-to-video pages and changelog)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import Field

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import TOP, V1_ONLY, ElementId, Wire
from airflow_provider_kling.models.requests.video_base import (
    ASPECT_RATIO,
    AUDIO,
    CFG_SCALE,
    DURATION,
    MULTI_PROMPT,
    MULTI_SHOT,
    NEGATIVE_PROMPT,
    RESOLUTION,
    SHOT_TYPE,
    WATERMARK,
    CameraControl,
    KlingVideoRequest,
    objects_of,
)
from airflow_provider_kling.models.video_capabilities import (
    LONG_PROMPT_LENGTH,
)

#: kling-v3's element limit, inferred from the model-path 3.0 page (the ``/v1`` field is UNCONFIRMED).
MAX_VIDEO_ELEMENTS = 3


class TextToVideoRequest(KlingVideoRequest):
    """A video from a prompt; the model chooses the API style."""

    kind: ClassVar[str] = RequestKind.TEXT2VIDEO
    paths: ClassVar[Mapping[ApiStyle, str]] = {
        ApiStyle.V1: "/v1/videos/text2video",
        ApiStyle.MODEL_PATH: "/text-to-video",
    }

    model_name: str = Field(default="kling-v2-6", description="The model; it chooses the API style.")
    prompt: Annotated[str, Wire(model_path=TOP)] = Field(
        min_length=1, max_length=LONG_PROMPT_LENGTH, description="What to film."
    )
    negative_prompt: NEGATIVE_PROMPT = None
    resolution: RESOLUTION = None
    aspect_ratio: ASPECT_RATIO = None
    duration: DURATION = None
    cfg_scale: CFG_SCALE = None
    audio: AUDIO = None
    camera_control: Annotated[CameraControl | None, V1_ONLY] = Field(
        default=None, description="A preset type, or simple with one movement in [-10, 10] (/v1 models)."
    )
    element_ids: Annotated[
        list[ElementId] | None, Wire(v1="element_list", to_v1=objects_of("element_id"))
    ] = Field(
        default=None,
        min_length=1,
        max_length=MAX_VIDEO_ELEMENTS,
        description="Elements of Kling's library (kling-v3, UNCONFIRMED on /v1).",
    )
    multi_shot: MULTI_SHOT = None
    shot_type: SHOT_TYPE = None
    multi_prompt: MULTI_PROMPT = None
    watermark_info: WATERMARK = None
