"""The text-to-speech operator (``/v1/audio/tts``): Kling answers the create with the audio, which is
stored like the sound effects' (verified as MP3, streamed, never half-written). The rules:
:mod:`airflow_provider_kling.models.requests.text_to_speech`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator

__all__ = ["KlingTextToSpeechOperator"]


class KlingTextToSpeechOperator(KlingTaskOperator):
    """
    Say a text in one of Kling's voices; store the audio and return the result (its ``audios[0].id``
    is what lip sync and avatar take as ``audio_id``). Kling has no query path for it: a create
    whose answer is lost fails the try (never sent twice).

    :param text: At most 1000 characters. (templated)
    :param voice_id: A Kling voice, like ``oversea_male1``. (templated)
    :param voice_language: ``zh`` (Kling's default) or ``en``. (templated)
    :param voice_speed: 0.8 to 2.0, one decimal (Kling's default 1.0).
    """

    ui_color = "#d6f5e3"
    request_kind = RequestKind.TEXT_TO_SPEECH
    template_fields: Sequence[str] = (
        "text",
        "voice_id",
        "voice_language",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        text: str,
        voice_id: str,
        voice_language: str | None = None,
        voice_speed: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
