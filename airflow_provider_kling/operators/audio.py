"""The sound-effect operators: audio from a prompt (``/v1/audio/text-to-audio``) or for a video
(``/v1/audio/video-to-audio``); each takes its request class's fields
(:mod:`airflow_provider_kling.models.requests`).

The task's ``audios`` (each ``id``, ``url`` (the MP3), ``wav_url``, ``duration``, and ``path`` once
stored) are copied like images and videos: verified as MP3 or WAV, streamed, never half-written,
named ``<dag_id>/<run_id>/<task_id>[_<map_index>]_0.mp3``.
"""

from __future__ import annotations

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import KlingTaskOperator

__all__ = ["KlingTextToAudioOperator", "KlingVideoToAudioOperator"]


class KlingTextToAudioOperator(KlingTaskOperator):
    """Make a sound effect from a prompt; store the MP3 and return the result."""

    ui_color = "#d6f5e3"
    request_kind = RequestKind.TEXT_TO_AUDIO


class KlingVideoToAudioOperator(KlingTaskOperator):
    """Make sound effects and music for a video; store the sound (MP3) and return the result (which
    also lists Kling's copy of the video with its sound, ``videos``)."""

    ui_color = "#d6f5e3"
    request_kind = RequestKind.VIDEO_TO_AUDIO
