"""The subject-completion operator (``/v1/general/ai-multi-shot``): other angles of a subject from its
frontal image, stored as images (the rules: :mod:`airflow_provider_kling.models.requests.subject_completion`).
"""

from __future__ import annotations

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import KlingTaskOperator

__all__ = ["KlingSubjectCompletionOperator"]


class KlingSubjectCompletionOperator(KlingTaskOperator):
    """
    Make three sets of three other angles of a subject (Kling's "AI Multi-Shot", for an element's
    ``refer_images``) from its frontal image (``element_frontal_image``); store the nine images and
    return the result (set ``s``, angle ``k`` is image ``3 * s + k - 1``). Its price is UNCONFIRMED
    (20 or 0.5 units): estimates take 20.
    """

    request_kind = RequestKind.SUBJECT_COMPLETION
