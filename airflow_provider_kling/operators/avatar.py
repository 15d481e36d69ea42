"""The avatar operator: an image made to speak an audio (``/v1/videos/avatar/image2video``), like the
other video operators: it names its request kind and takes that kind's fields (the rules:
:mod:`airflow_provider_kling.models.requests.avatar`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = ["KlingAvatarOperator"]


class KlingAvatarOperator(KlingVideoTaskOperator):
    """
    Make a talking avatar: an image speaking an audio of 2 to 300 s; store the video (as long as the
    audio) and return the result. Kling renders these slowly ("10 minutes+"): ``deferrable=True``
    frees the worker meanwhile.

    :param image: The face: a URL, base64, an image in your storage, or an image task's result
        (its first image). (templated)
    :param audio_id: A text-to-speech audio id, an audio (``{"id", "duration"}``) or an audio
        task's result (its first audio). (templated)
    :param sound_file: Or a URL or base64 of an MP3/WAV/M4A/AAC (at most 5 MB), or an audio task's
        result (its first audio's URL). (templated)
    :param prompt: At most 2500 characters. (templated)
    :param mode: ``std`` (Kling's default) or ``pro``. (templated)
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = RequestKind.AVATAR
    template_fields: Sequence[str] = (
        "image",
        "audio_id",
        "sound_file",
        "prompt",
        "mode",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        image: Any,
        audio_id: Any = None,
        sound_file: Any = None,
        prompt: str | None = None,
        mode: str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
