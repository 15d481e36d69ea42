"""``POST /v1/videos/avatar/image2video``: a talking avatar, an image made to speak an audio.

Rules from Kling's avatar page (2026-09): ``image`` is required (a URL or bare base64 of a JPEG/PNG,
10 MB, 300 px); exactly one of ``audio_id`` (a text-to-speech result under 30 days old) or
``sound_file`` (a URL or base64 of an MP3/WAV/M4A/AAC of at most 5 MB); the audio runs 2 to 300 s;
``prompt`` at most 2500 characters; ``mode`` ``std`` (Kling's default) or ``pro``. Either audio field
also takes an audio (``{"id", "url", "duration"}``) or an audio task's whole XCom result (its first
audio: ``audio_id`` its id, ``sound_file`` its URL); a known duration outside 2-300 s is refused
before anything is sent. A task holds one slot and is billed per second of video (0.4 std, 0.8
pro): the video is as long as the audio, so an estimate prices a known duration, else the 300 s
the audio may run.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    WatermarkInfo,
    audio_inputs,
    check_image,
)
from airflow_provider_kling.unit_prices import ANY, Prices, Purchase, UnitRule

MAX_AVATAR_PROMPT_LENGTH = 2500
#: How long the audio (and so the video) may run, in seconds.
AUDIO_SECONDS = (2.0, 300.0)
MAX_SOUND_FILE_BYTES = 5 * 1024 * 1024
#: Kling's price per second of avatar video, by mode.
AVATAR_PRICES: Prices = {ANY: {"std": 0.4, "pro": 0.8}}


def avatar_rule(kind: str, fields: Mapping[str, Any]) -> Purchase:
    """Seconds of video (the audio's, when known; else the longest it may be) at the mode's price."""
    seconds = fields.get("audio_seconds") or AUDIO_SECONDS[1]
    return Purchase(kind, ANY, str(fields.get("mode") or "std"), float(seconds), "second")


class AvatarRequest(KlingTaskRequest):
    """The body of ``POST /v1/videos/avatar/image2video``."""

    kind: ClassVar[str] = RequestKind.AVATAR
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/videos/avatar/image2video"}
    output: ClassVar[str] = "video"
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = avatar_rule
    stand_in_prices: ClassVar[Prices] = AVATAR_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("image",)

    image: str = Field(description="The face to animate (URL or base64 of a JPEG/PNG).")
    audio_id: str | None = Field(default=None, min_length=1, description="A text-to-speech audio id.")
    sound_file: str | None = Field(default=None, description="Or a URL or base64 of an MP3/WAV/M4A/AAC.")
    prompt: str | None = Field(default=None, max_length=MAX_AVATAR_PROMPT_LENGTH, description="Optional.")
    mode: Literal["std", "pro"] | None = Field(default=None, description="std (Kling's default) or pro.")
    watermark_info: WatermarkInfo | None = None
    audio_seconds: float | None = Field(
        default=None,
        ge=AUDIO_SECONDS[0],
        le=AUDIO_SECONDS[1],
        description="The audio's length, for the estimate only (not sent; read from an audio result).",
    )

    @model_validator(mode="before")
    @classmethod
    def _audio_results(cls, values: Any) -> Any:
        # An audio (or an audio task's result) given for audio_id/sound_file: its id or URL is sent,
        # its length kept in audio_seconds for the estimate (the video is as long as the audio).
        if not isinstance(values, dict):
            return values
        values, known = audio_inputs(values, AUDIO_SECONDS, "an avatar speaks")
        if known is not None and values.get("audio_seconds") is None:
            values["audio_seconds"] = known
        return values

    _image = field_validator("image")(classmethod(lambda cls, value: check_image(value)))

    @field_validator("sound_file")
    @classmethod
    def _sound_file(cls, value: str | None) -> str | None:
        if value is None or value.startswith(("http://", "https://")):
            return value
        try:
            size = len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("must be an http(s) URL or base64 of an MP3/WAV/M4A/AAC file") from None
        if size > MAX_SOUND_FILE_BYTES:
            raise ValueError(f"must be at most 5 MB (got {size} bytes)")
        return value

    @model_validator(mode="after")
    def _one_audio(self) -> AvatarRequest:
        if (self.audio_id is None) == (self.sound_file is None):
            raise ValueError("audio_id: give exactly one of audio_id or sound_file")
        return self

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body.pop("audio_seconds", None)  # the estimate's, not Kling's
        return body

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "tier": self.mode or "std", "duration": self.audio_seconds}
