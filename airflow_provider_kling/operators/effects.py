"""The video-effects operator: one of Kling's effects on one image, or two (``/v1/videos/effects``).

A small subclass of :class:`~airflow_provider_kling.operators.video.KlingVideoTaskOperator` like the
other video operators: it names its request kind and takes that kind's fields (the rules, the
dual-image scene list: :mod:`airflow_provider_kling.models.requests.video_effects`); the video is
stored as the other videos are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = ["KlingVideoEffectsOperator"]


class KlingVideoEffectsOperator(KlingVideoTaskOperator):
    """
    Apply a Kling video effect to an image (or two); store the video and return the result.

    :param effect_scene: The effect, passed through as given (Kling lists about 219 and retires
        some; ``hug``, ``kiss``, ``fight`` are refused: Kling retired them). (templated)
    :param image: The image of a single-image scene: a URL, base64, an image in your storage, or an
        image task's result (its first image). (templated)
    :param images: The two images of a dual-image scene (``hug_pro``, ``kiss_pro``, ...), left then
        right, in the same forms. (templated)
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy (UNCONFIRMED: sent with a
        warning).

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = RequestKind.VIDEO_EFFECTS
    template_fields: Sequence[str] = ("effect_scene", "image", "images", *KlingTaskOperator.template_fields)

    def __init__(
        self,
        *,
        effect_scene: str,
        image: Any = None,
        images: list[Any] | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
