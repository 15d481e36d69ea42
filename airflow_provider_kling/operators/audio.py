"""The sound-effect operators: audio from a prompt (``/v1/audio/text-to-audio``) or for a video
(``/v1/audio/video-to-audio``).

Small subclasses of :class:`~airflow_provider_kling.operators.base.KlingTaskOperator`: each names its
request kind and takes that kind's fields (the rules: :mod:`airflow_provider_kling.models.requests`).
The task's ``audios`` (each ``id``, ``url`` (the MP3), ``wav_url``, ``duration``, and ``path`` once
stored) are copied like images and videos: verified as MP3 or WAV, streamed, never half-written,
named ``<dag_id>/<run_id>/<task_id>[_<map_index>]_0.mp3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator

__all__ = ["KlingTextToAudioOperator", "KlingVideoToAudioOperator"]


class KlingTextToAudioOperator(KlingTaskOperator):
    """
    Make a sound effect from a prompt; store the MP3 and return the result.

    :param prompt: At most 200 characters. (templated)
    :param duration: Seconds, 3.0 to 10.0 with at most one decimal. (templated)

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    ui_color = "#d6f5e3"
    request_kind = RequestKind.TEXT_TO_AUDIO
    template_fields: Sequence[str] = ("prompt", "duration", *KlingTaskOperator.template_fields)

    def __init__(self, *, prompt: str, duration: float | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingVideoToAudioOperator(KlingTaskOperator):
    """
    Make sound effects and music for a video; store the sound (MP3) and return the result (which
    also lists Kling's copy of the video with its sound, ``videos``).

    :param video_id: A video Kling made: its id (``videos[0].id``), a video (``{"id", "duration"}``)
        or a video task's whole result (its first video; one outside 3-20 s is refused before
        anything is sent). (templated)
    :param video_url: Or an http(s) URL of an MP4/MOV (3-20 s, at most 100 MB). (templated)
    :param sound_effect_prompt: The sound effects, at most 200 characters. (templated)
    :param bgm_prompt: The background music, at most 200 characters. (templated)
    :param asmr_mode: ASMR mode (Kling's default false).
    """

    ui_color = "#d6f5e3"
    request_kind = RequestKind.VIDEO_TO_AUDIO
    template_fields: Sequence[str] = (
        "video_id",
        "video_url",
        "sound_effect_prompt",
        "bgm_prompt",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        video_id: Any = None,
        video_url: str | None = None,
        sound_effect_prompt: str | None = None,
        bgm_prompt: str | None = None,
        asmr_mode: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
