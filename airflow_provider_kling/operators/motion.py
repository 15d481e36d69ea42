"""The motion-control operator: a character image driven by a reference video's motion, in either
API style (``kling-v2-6``/``kling-v3`` to ``/v1/videos/motion-control``, ``kling-3.0``/``kling-2.6``
to ``/motion-control/{model}``), like the other video operators: it names its request kind and takes
that kind's fields (the rules: :mod:`airflow_provider_kling.models.requests.motion_control`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = ["KlingMotionControlOperator"]


class KlingMotionControlOperator(KlingVideoTaskOperator):
    """
    Animate a character image with the motion of a reference video; store the video and return the
    result. The video can be shorter than the reference (its usable motion, at least 3 s) and is
    billed by its own length.

    :param image: The character: a URL, base64, an image in your storage, or an image task's result
        (its first image). (templated)
    :param video: The reference motion: an http(s) URL of an MP4/MOV (at least 3 s). (templated)
    :param character_orientation: ``image`` (reference up to 10 s) or ``video`` (up to 30 s; an
        element needs it). (templated)
    :param prompt: Optional; cite an element as ``<<<element_1>>>`` (model path). (templated)
    :param model_name: ``kling-v2-6`` (default) or ``kling-v3`` (``/v1``); ``kling-3.0`` or
        ``kling-2.6`` (model-path style). (templated)
    :param resolution: ``720p`` (default) or ``1080p`` (``std``/``pro`` taken too). (templated)
    :param keep_original_sound: ``/v1``: ``yes`` (Kling's default) or ``no``. (templated)
    :param audio: Model path: ``original`` (Kling's default) or ``off``. (templated)
    :param element_ids: One element id (kling-3.0; kling-v3 UNCONFIRMED).
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy (``/v1``: UNCONFIRMED).
    """

    request_kind = RequestKind.MOTION_CONTROL
    template_fields: Sequence[str] = (
        "image",
        "video",
        "character_orientation",
        "prompt",
        "model_name",
        "resolution",
        "keep_original_sound",
        "audio",
        "element_ids",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        image: Any,
        video: str,
        character_orientation: str,
        prompt: str | None = None,
        model_name: str | None = None,
        resolution: str | None = None,
        keep_original_sound: str | None = None,
        audio: str | None = None,
        element_ids: list[Any] | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
