"""The sound-effect operators: audio from a prompt (``/v1/audio/text-to-audio``).

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

__all__ = ["KlingTextToAudioOperator"]


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
