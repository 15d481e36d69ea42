"""``POST /v1/videos/video-extend``: about 4-5 more seconds of a video Kling made (Kling's
video-extend page). ``video_id`` is ``task_result.videos[0].id``, not the task id; the model and mode
are the source's. The result's ``videos[0]`` is the whole, longer video under a new id, and
``task_info.parent_video`` the source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import check_external_task_id, first_output, seconds_of
from airflow_provider_kling.models.requests.video_base import (
    CFG_SCALE,
    NEGATIVE_PROMPT,
    WATERMARK,
    KlingVideoRequest,
)
from airflow_provider_kling.models.video_capabilities import (
    EXTEND_ADDS_SECONDS,
    MAX_EXTEND_SOURCE_AGE_DAYS,
    MAX_EXTENDED_VIDEO_SECONDS,
    MAX_VIDEO_PROMPT_LENGTH,
)


class VideoExtendRequest(KlingVideoRequest):
    """The body of ``POST /v1/videos/video-extend``."""

    kind: ClassVar[str] = RequestKind.VIDEO_EXTEND
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/videos/video-extend"}
    #: The length is the source's plus about 5 s: unknown from the request alone.
    default_duration: ClassVar[int | None] = None

    video_id: str = Field(
        min_length=1, max_length=256, description="The video to extend (videos[0].id, not the task id)."
    )
    prompt: str | None = Field(
        default=None, max_length=MAX_VIDEO_PROMPT_LENGTH, description="What happens next."
    )
    negative_prompt: NEGATIVE_PROMPT = None
    cfg_scale: CFG_SCALE = None
    watermark_info: WATERMARK = None

    @field_validator("video_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("video_id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank (the id of a video Kling made: task_result.videos[0].id)")
        checked = check_external_task_id(value)
        assert checked is not None
        return checked

    @property
    def effective_mode(self) -> str | None:
        return None  # the source's mode


@dataclass(frozen=True)
class ExtendSource:
    """The video an extend continues: its id, and (when known) its length and when it was made."""

    video_id: Any
    duration: Any = None
    made_at: datetime | None = None


def extend_source(value: Any) -> ExtendSource:
    """What a DAG passes as ``video_id``, read: an id (str or int); a video (``{"id", "duration"}``);
    or a video task's XCom result (``{"videos": [...], "updated_at": ...}``), whose first video
    it takes, with the time the task ended (else was created) as the video's age."""
    if not isinstance(value, Mapping):
        return ExtendSource(value)
    made_at = _when(value.get("updated_at") or value.get("created_at"))
    try:
        value = first_output(value, "videos")
    except ValueError as exc:
        raise ValueError(f"video_id: {exc} to extend") from None
    if not isinstance(value, Mapping) or value.get("id") in (None, ""):
        raise ValueError(
            "video_id: needs a video id, a video ({'id': ...}) or a video task's result ({'videos': ...})"
        )
    return ExtendSource(value["id"], value.get("duration"), made_at)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def extend_source_problems(
    *, video_id: str, duration: Any, created_at: datetime | None, now: datetime
) -> list[str]:
    """Why the video ``video_id`` (``duration`` seconds, made at ``created_at``) cannot be extended.

    Kling keeps a video for 30 days and extends up to 3 minutes in all; each extend adds about
    5 s. ``duration``/``created_at`` that are unknown (None) are not judged.
    """
    problems = []
    if created_at is not None:
        age = now - created_at
        if age >= timedelta(days=MAX_EXTEND_SOURCE_AGE_DAYS):
            problems.append(
                f"video_id: video {video_id} was made {age.days} days ago; Kling extends only videos under "
                f"{MAX_EXTEND_SOURCE_AGE_DAYS} days old (it purges them then)"
            )
    seconds = seconds_of(duration)
    if seconds is not None and seconds + EXTEND_ADDS_SECONDS > MAX_EXTENDED_VIDEO_SECONDS:
        problems.append(
            f"video_id: video {video_id} is {seconds:g} s long; an extend adds about "
            f"{EXTEND_ADDS_SECONDS} s and "
            f"Kling keeps the whole video at most {MAX_EXTENDED_VIDEO_SECONDS} s (3 minutes)"
        )
    return problems
