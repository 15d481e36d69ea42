"""``POST /v1/audio/tts``: speech from a text, in one of Kling's voices.

Rules from Kling's text-to-speech page (2026-09): ``text`` is required, at most 1000 characters;
``voice_id`` is required (``oversea_male1`` ...); ``voice_language`` ``zh`` (Kling's default) or
``en``; ``voice_speed`` 0.8 to 2.0 with one decimal (default 1.0). Kling documents no callback, no
``external_task_id`` and no query path: the create's answer already holds
``task_result.audios[{id, url, duration}]`` (:attr:`answers_at_once`), so neither is sent and a
create whose answer is lost cannot be found again (it is never resent). 0.05 units a call; its
slots are not stated (UNCONFIRMED: one). Whether custom voices work here is UNCONFIRMED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest
from airflow_provider_kling.models.requests.text_to_audio import one_decimal
from airflow_provider_kling.unit_prices import ANY, Prices, UnitRule, task_rule

MAX_TTS_TEXT_LENGTH = 1000
#: Kling's price of one text-to-speech call.
TTS_PRICES: Prices = {ANY: {ANY: 0.05}}


class TextToSpeechRequest(KlingTaskRequest):
    """The body of ``POST /v1/audio/tts``."""

    kind: ClassVar[str] = RequestKind.TEXT_TO_SPEECH
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/audio/tts"}
    output: ClassVar[str] = "audio"
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = TTS_PRICES
    #: Kling answers the create with the finished task and has no query path: nothing to find again.
    answers_at_once: ClassVar[bool] = True

    text: str = Field(min_length=1, max_length=MAX_TTS_TEXT_LENGTH, description="What to say.")
    voice_id: str = Field(min_length=1, description="A Kling voice, like oversea_male1.")
    voice_language: Literal["zh", "en"] | None = Field(
        default=None, description="zh (Kling's default) or en."
    )
    voice_speed: float | None = Field(default=None, ge=0.8, le=2.0, description="0.8 to 2.0, one decimal.")

    _speed = field_validator("voice_speed")(classmethod(lambda cls, value: one_decimal(value)))

    @field_validator("callback_url")
    @classmethod
    def _no_callback(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("text-to-speech takes none: Kling answers the create with the audio")
        return value

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body.pop("external_task_id", None)  # Kling's TTS takes none (kept here for the lifecycle's keys)
        return body

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "prompt": self.text, "voice_id": self.voice_id}
