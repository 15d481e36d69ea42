"""``POST /v1/videos/omni-video``: one model for video from text, images, elements and a video.

Rules from Kling's Omni-Video page: ``prompt`` is required and cites its references as
``<<<image_1>>>``, ``<<<element_1>>>``, ``<<<video_1>>>``; ``image_list`` (optionally marked
``first_frame``/``end_frame``) and ``element_list`` hold at most 7 references together, 4 with a
video; ``video_list`` holds one video by URL (3-10 s, at most 200 MB), used as a ``feature``
reference or as the ``base`` to edit; ``aspect_ratio`` is required unless a first frame or a base
video sets it; ``duration`` is 3-10 s, only 5 or 10 from text or a first frame alone, and a base
video sets its own. Modes per model (``4k`` on kling-v3-omni): ``models.video_capabilities``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_kling.defaults import DEFAULT_OMNI_VIDEO_MODEL
from airflow_provider_kling.models.requests.base import WatermarkInfo, check_image
from airflow_provider_kling.models.requests.video_base import (
    KlingVideoRequest,
    VideoElement,
    citation_problems,
    plain_items,
    words_from_bool,
)
from airflow_provider_kling.models.video_capabilities import (
    MAX_OMNI_REFERENCES,
    MAX_OMNI_REFERENCES_WITH_VIDEO,
    MAX_OMNI_VIDEOS,
    MAX_VIDEO_PROMPT_LENGTH,
    OMNI_VIDEO,
    models_for,
)

OMNI_VIDEO_PATH = "/v1/videos/omni-video"
#: Durations from text alone or a first frame alone.
TEXT_OR_FIRST_FRAME_DURATIONS = (5, 10)


class OmniVideoImage(BaseModel):
    """One ``image_list`` item: a reference image, or the first or last frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_url: str
    type: Literal["first_frame", "end_frame"] | None = None

    _image = field_validator("image_url")(classmethod(lambda cls, value: check_image(value)))


class OmniVideoReference(BaseModel):
    """One ``video_list`` item: a video by URL, as a ``feature`` reference or the ``base`` to edit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    video_url: str
    refer_type: Literal["feature", "base"] | None = None
    keep_original_sound: Literal["yes", "no"] | None = None

    @field_validator("video_url")
    @classmethod
    def _url_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or not urlsplit(value).hostname:
            raise ValueError("must be an http(s) URL (Kling takes reference videos by URL only)")
        return value

    _yes_no = field_validator("keep_original_sound", mode="before")(words_from_bool("yes", "no"))


class OmniVideoRequest(KlingVideoRequest):
    """The body of ``POST /v1/videos/omni-video``."""

    kind: ClassVar[str] = OMNI_VIDEO
    path: ClassVar[str] = OMNI_VIDEO_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("image_list.image_url",)
    known_models: ClassVar[Collection[str]] = models_for(OMNI_VIDEO)
    blank_text_fields: ClassVar[tuple[str, ...]] = ("mode", "aspect_ratio", "duration")
    blank_list_fields: ClassVar[tuple[str, ...]] = ("image_list", "element_list", "video_list")
    default_mode: ClassVar[str] = "pro"

    model_name: str = DEFAULT_OMNI_VIDEO_MODEL
    prompt: str = Field(min_length=1, max_length=MAX_VIDEO_PROMPT_LENGTH)
    image_list: list[OmniVideoImage] | None = Field(default=None, max_length=MAX_OMNI_REFERENCES)
    element_list: list[VideoElement] | None = Field(default=None, max_length=MAX_OMNI_REFERENCES)
    video_list: list[OmniVideoReference] | None = Field(default=None, max_length=MAX_OMNI_VIDEOS)
    mode: Literal["std", "pro", "4k"] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    duration: str | None = None
    watermark_info: WatermarkInfo | None = None

    _plain_images = field_validator("image_list", mode="before")(plain_items("image_url"))
    _plain_videos = field_validator("video_list", mode="before")(plain_items("video_url"))

    @property
    def _frames(self) -> list[str]:
        return [image.type for image in self.image_list or () if image.type is not None]

    @property
    def _base_video(self) -> bool:
        return any(video.refer_type == "base" for video in self.video_list or ())

    @property
    def duration_seconds(self) -> int | None:
        if self.duration is None and self._base_video:
            return None  # the base video's own length: Kling decides
        return super().duration_seconds

    def kind_problems(self) -> list[str]:
        images, elements, videos = (
            len(self.image_list or ()),
            len(self.element_list or ()),
            len(self.video_list or ()),
        )
        problems = []
        limit = MAX_OMNI_REFERENCES_WITH_VIDEO if videos else MAX_OMNI_REFERENCES
        if images + elements > limit:
            problems.append(
                f"image_list: at most {limit} images and elements together"
                f"{' with a video' if videos else ''} "
                f"(got {images} images and {elements} elements)"
            )
        frames = self._frames
        for frame in ("first_frame", "end_frame"):
            if frames.count(frame) > 1:
                problems.append(
                    f"image_list: at most one image of type {frame!r} (got {frames.count(frame)})"
                )
        if "end_frame" in frames and "first_frame" not in frames:
            problems.append("image_list: an 'end_frame' needs a 'first_frame' too")
        if self.aspect_ratio is None and "first_frame" not in frames and not self._base_video:
            problems.append(
                "aspect_ratio: required without a first frame or a base video (16:9, 9:16 or 1:1)"
            )
        if self.duration is not None:
            if self._base_video:
                problems.append(f"duration: a base video sets the length itself (got {self.duration!r})")
            elif (
                not videos
                and not elements
                and images == frames.count("first_frame")
                and int(self.duration) not in TEXT_OR_FIRST_FRAME_DURATIONS
            ):
                problems.append(
                    "duration: from text or a first frame alone Kling makes 5 or 10 s "
                    f"(got {self.duration!r})"
                )
        problems += citation_problems(self.prompt, "image", images, "image_list")
        problems += citation_problems(self.prompt, "element", elements, "element_list")
        problems += citation_problems(self.prompt, "video", videos, "video_list")
        return problems
