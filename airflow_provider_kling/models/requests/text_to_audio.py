"""``POST /v1/audio/text-to-audio``: a sound effect from a prompt, as an MP3 and a WAV.

Rules from Kling's text-to-audio page (2026-09): ``prompt`` is required, at most 200 characters;
``duration`` is required, 3.0 to 10.0 seconds with at most one decimal (sent as a number). The
result is ``task_result.audios[{id, url_mp3, url_wav, duration_mp3, duration_wav}]``. 0.25 units a
call; how many slots an audio task holds is not stated (UNCONFIRMED: counted as one, like a video).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest
from airflow_provider_kling.unit_prices import ANY, Prices, UnitRule, task_rule

MAX_AUDIO_PROMPT_LENGTH = 200
#: Kling's range of ``duration`` (seconds, one decimal).
AUDIO_SECONDS = (3.0, 10.0)
#: Kling's price of one sound effect (text-to-audio and video-to-audio): 0.25 units a call.
AUDIO_PRICES: Prices = {ANY: {ANY: 0.25}}


def one_decimal(value: float | None) -> float | None:
    """A duration of at most one decimal (``3.5``, not ``3.25``)."""
    if value is not None and round(value, 1) != value:
        raise ValueError("must have at most one decimal, like 3.5")
    return value


class TextToAudioRequest(KlingTaskRequest):
    """The body of ``POST /v1/audio/text-to-audio``."""

    kind: ClassVar[str] = RequestKind.TEXT_TO_AUDIO
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/audio/text-to-audio"}
    output: ClassVar[str] = "audio"
    #: Not stated by Kling (UNCONFIRMED): one, like a video task.
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = AUDIO_PRICES

    prompt: str = Field(min_length=1, max_length=MAX_AUDIO_PROMPT_LENGTH, description="The sound to make.")
    duration: float = Field(
        ge=AUDIO_SECONDS[0], le=AUDIO_SECONDS[1], description="Seconds, 3.0 to 10.0 (one decimal)."
    )

    _duration = field_validator("duration")(classmethod(lambda cls, value: one_decimal(value)))

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "duration": self.duration}
