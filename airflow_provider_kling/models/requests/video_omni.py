"""Omni video: one model for video from text, images, frames, elements and a video, at
``POST /v1/videos/omni-video`` or ``/omni-video/{model}`` (Kling's Omni-Video pages). The prompt
cites its references as ``<<<image_1>>>``, ``<<<element_1>>>``, ``<<<video_1>>>``; a
``feature_video`` gives style and camera, a ``base_video`` is the video to edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import Contents, Wire, check_http_url
from airflow_provider_kling.models.requests.video_base import (
    ASPECT_RATIO,
    AUDIO,
    DURATION,
    ELEMENT_IDS,
    MULTI_SHOT,
    RESOLUTION,
    WATERMARK,
    KlingVideoRequest,
    citation_problems,
    objects_of,
)
from airflow_provider_kling.models.video_capabilities import (
    LONG_PROMPT_LENGTH,
    MAX_OMNI_REFERENCES,
    MAX_OMNI_REFERENCES_WITH_VIDEO,
    UNCONFIRMED_FIELDS,
)

#: ``/v1`` durations from text alone or a first frame alone.
TEXT_OR_FIRST_FRAME_DURATIONS = (5, 10)


def _video(refer_type: str) -> Wire:
    return Wire(
        v1="video_list",
        to_v1=objects_of("video_url", refer_type=refer_type),
        model_path=Contents(f"{refer_type}_video", cite="video"),
    )


class OmniVideoRequest(KlingVideoRequest):
    """A video from a prompt with reference images, frames, a video and elements; the model chooses
    the API style."""

    kind: ClassVar[str] = RequestKind.OMNI_VIDEO
    paths: ClassVar[Mapping[ApiStyle, str]] = {
        ApiStyle.V1: "/v1/videos/omni-video",
        ApiStyle.MODEL_PATH: "/omni-video",
    }
    image_fields: ClassVar[tuple[str, ...]] = ("reference_images", "first_frame", "last_frame")
    #: Kling's ``/v1`` omni default mode.
    default_mode: ClassVar[str] = "pro"
    #: omni-video's element_list is documented (the other kinds' is not).
    unconfirmed: ClassVar[Mapping[str, str]] = {
        name: why for name, why in UNCONFIRMED_FIELDS.items() if name != "element_ids"
    }

    model_name: str = Field(default="kling-video-o1", description="The model; it chooses the API style.")
    prompt: Annotated[str, Wire(model_path=Contents("prompt", "text"))] = Field(
        min_length=1,
        max_length=LONG_PROMPT_LENGTH,
        description="Cite references as <<<image_1>>>, <<<element_1>>>, <<<video_1>>>.",
    )
    # /v1 numbers image_list from 1: the reference images come first, so <<<image_N>>> is the same
    # image in both styles.
    reference_images: Annotated[
        list[str] | None,
        Wire(
            v1="image_list", to_v1=objects_of("image_url"), model_path=Contents("refer_image", cite="image")
        ),
    ] = Field(default=None, description="Reference images (URL, base64, or in your storage).")
    first_frame: Annotated[
        str | None,
        Wire(
            v1="image_list",
            to_v1=objects_of("image_url", type="first_frame"),
            model_path=Contents("first_frame"),
        ),
    ] = Field(default=None, description="The first frame (not with a base video).")
    last_frame: Annotated[
        str | None,
        Wire(
            v1="image_list",
            to_v1=objects_of("image_url", type="end_frame"),
            model_path=Contents("last_frame"),
        ),
    ] = Field(default=None, description="The last frame (with a first frame).")
    feature_video: Annotated[str | None, _video("feature")] = Field(
        default=None, description="A video to take style and camera from (URL; turns audio off)."
    )
    base_video: Annotated[str | None, _video("base")] = Field(
        default=None, description="A video to edit (URL; no native audio, no frames)."
    )
    element_ids: ELEMENT_IDS = None
    resolution: RESOLUTION = None
    aspect_ratio: ASPECT_RATIO = Field(
        default=None, description="Required on /v1 without a first frame or a base video."
    )
    duration: DURATION = None
    audio: AUDIO = None
    multi_shot: MULTI_SHOT = None
    watermark_info: WATERMARK = None

    _videos = field_validator("feature_video", "base_video")(
        classmethod(lambda cls, value: check_http_url(value))
    )

    @property
    def duration_seconds(self) -> int | None:
        if self.duration is None and self.base_video:
            return None  # the base video's own length: Kling decides
        return super().duration_seconds

    def kind_problems(self) -> list[str]:
        problems = []
        if self.feature_video and self.base_video:
            problems.append("base_video: one video at most (got a feature_video as well)")
        if self.feature_video and self.audio not in (None, "off"):
            problems.append(f"audio: a feature_video turns audio off (got {self.audio!r})")
        if self.base_video:
            if self.audio == "native":
                problems.append("audio: a base_video allows no native audio (use 'original' or 'off')")
            if self.first_frame or self.last_frame:
                problems.append("first_frame: a base_video takes no first or last frame")
        if self.last_frame and not self.first_frame:
            problems.append("last_frame: needs a first_frame")
        images = len(self.reference_images or ())
        problems += citation_problems(self.prompt, "image", images, "reference_images")
        problems += citation_problems(self.prompt, "element", len(self.element_ids or ()), "element_ids")
        videos = int(bool(self.feature_video or self.base_video))
        problems += citation_problems(self.prompt, "video", videos, "feature_video/base_video")
        if self.api_style is ApiStyle.V1:
            problems += self._v1_problems(images, videos)
        return problems

    def _v1_problems(self, images: int, videos: int) -> list[str]:
        frames = int(self.first_frame is not None) + int(self.last_frame is not None)
        elements = len(self.element_ids or ())
        problems = []
        limit = MAX_OMNI_REFERENCES_WITH_VIDEO if videos else MAX_OMNI_REFERENCES
        if images + frames + elements > limit:
            problems.append(
                f"reference_images: at most {limit} images, frames and elements together"
                f"{' with a video' if videos else ''} (got {images + frames} images and {elements} elements)"
            )
        if self.aspect_ratio is None and self.first_frame is None and not self.base_video:
            problems.append(
                "aspect_ratio: required without a first frame or a base video (16:9, 9:16 or 1:1)"
            )
        if self.duration is not None:
            if self.base_video:
                problems.append(f"duration: a base video sets the length itself (got {self.duration!r})")
            elif (
                not videos
                and not elements
                and not images
                and self.last_frame is None
                and self.duration not in TEXT_OR_FIRST_FRAME_DURATIONS
            ):
                problems.append(
                    "duration: from text or a first frame alone Kling makes 5 or 10 s "
                    f"(got {self.duration!r})"
                )
        return problems
