"""``POST /v1/audio/video-to-audio``: sound effects and music made for a video.

Rules from Kling's video-to-audio page (2026-09): exactly one of ``video_id`` (a video Kling made,
under 30 days old) or ``video_url`` (an http(s) URL of an MP4/MOV of at most 100 MB); the video
runs 3 to 20 s; ``sound_effect_prompt`` and ``bgm_prompt`` at most 200 characters each;
``asmr_mode`` a bool (Kling's default false). ``video_id`` also takes a video (``{"id",
"duration"}``) or a video task's whole XCom result (its first video): then a video outside 3-20 s
is refused before anything is sent. The result holds the video with its new sound
(``task_result.videos``, listed in XCom) and the sound alone (``audios``, stored). 0.25 units a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, StrictBool, field_validator, model_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    check_http_url,
    first_of,
)
from airflow_provider_kling.models.requests.text_to_audio import AUDIO_PRICES, MAX_AUDIO_PROMPT_LENGTH
from airflow_provider_kling.unit_prices import Prices, UnitRule, task_rule

#: How long the video may run (seconds).
VIDEO_SECONDS = (3.0, 20.0)


def video_id_of(value: Any) -> Any:
    """A video id from an id, a video (``{"id", "duration"}``) or a video task's result (its first
    video); a video whose ``duration`` is known must run 3 to 20 s."""
    value, _ = first_of(value, "videos", "id", VIDEO_SECONDS, "Kling adds sound to videos of")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class VideoToAudioRequest(KlingTaskRequest):
    """The body of ``POST /v1/audio/video-to-audio``."""

    kind: ClassVar[str] = RequestKind.VIDEO_TO_AUDIO
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/audio/video-to-audio"}
    output: ClassVar[str] = "audio"
    #: Not stated by Kling (UNCONFIRMED): one, like a video task.
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = AUDIO_PRICES

    video_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="A video Kling made (videos[0].id)."
    )
    video_url: str | None = Field(default=None, description="An http(s) URL of an MP4/MOV, at most 100 MB.")
    sound_effect_prompt: str | None = Field(
        default=None, max_length=MAX_AUDIO_PROMPT_LENGTH, description="The sound effects to add."
    )
    bgm_prompt: str | None = Field(
        default=None, max_length=MAX_AUDIO_PROMPT_LENGTH, description="The background music to add."
    )
    asmr_mode: StrictBool | None = Field(default=None, description="ASMR mode (Kling's default: false).")

    _video_id = field_validator("video_id", mode="before")(classmethod(lambda cls, value: video_id_of(value)))

    _video_url = field_validator("video_url")(classmethod(lambda cls, value: check_http_url(value)))

    @model_validator(mode="after")
    def _one_video(self) -> VideoToAudioRequest:
        if (self.video_id is None) == (self.video_url is None):
            raise ValueError("video_id: give exactly one of video_id or video_url")
        return self
