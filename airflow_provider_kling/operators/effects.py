"""The video-effects operator: one of Kling's effects on one image, or two (``/v1/videos/effects``);
it takes the fields of :mod:`airflow_provider_kling.models.requests.video_effects`."""

from __future__ import annotations

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = ["KlingVideoEffectsOperator"]


class KlingVideoEffectsOperator(KlingVideoTaskOperator):
    """Apply a Kling video effect to an image (or two); store the video and return the result."""

    request_kind = RequestKind.VIDEO_EFFECTS
