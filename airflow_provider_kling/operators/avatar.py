"""The avatar operator: an image made to speak an audio (``/v1/videos/avatar/image2video``); it takes
the fields of :mod:`airflow_provider_kling.models.requests.avatar`."""

from __future__ import annotations

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = ["KlingAvatarOperator"]


class KlingAvatarOperator(KlingVideoTaskOperator):
    """
    Make a talking avatar: an image speaking an audio of 2 to 300 s; store the video (as long as the
    audio) and return the result. Kling renders these slowly ("10 minutes+"): ``deferrable=True``
    frees the worker meanwhile.
    """

    request_kind = RequestKind.AVATAR
