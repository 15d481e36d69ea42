"""The text-to-speech operator (``/v1/audio/tts``): Kling answers the create with the audio, which is
stored like the sound effects' (verified as MP3, streamed, never half-written). The rules:
:mod:`airflow_provider_kling.models.requests.text_to_speech`.
"""

from __future__ import annotations

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import KlingTaskOperator

__all__ = ["KlingTextToSpeechOperator"]


class KlingTextToSpeechOperator(KlingTaskOperator):
    """
    Say a text in one of Kling's voices; store the audio and return the result (its ``audios[0].id``
    is what lip sync and avatar take as ``audio_id``). Kling has no query path for it: a create
    whose answer is lost fails the try (never sent twice).
    """

    ui_color = "#d6f5e3"
    request_kind = RequestKind.TEXT_TO_SPEECH
