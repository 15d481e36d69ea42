"""The motion-control operator: a character image driven by a reference video's motion, in either
API style (``kling-v2-6``/``kling-v3`` to ``/v1/videos/motion-control``, ``kling-3.0``/``kling-2.6``
to ``/motion-control/{model}``); it takes the fields of
:mod:`airflow_provider_kling.models.requests.motion_control`.
"""

from __future__ import annotations

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = ["KlingMotionControlOperator"]


class KlingMotionControlOperator(KlingVideoTaskOperator):
    """Animate a character image with the motion of a reference video; store the video and return the
    result. The video can be shorter than the reference (its usable motion, at least 3 s) and is
    billed by its own length."""

    request_kind = RequestKind.MOTION_CONTROL
