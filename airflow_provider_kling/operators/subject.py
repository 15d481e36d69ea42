"""The subject-completion operator (``/v1/general/ai-multi-shot``): other angles of a subject from its
frontal image, stored as images (the rules: :mod:`airflow_provider_kling.models.requests.subject_completion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator

__all__ = ["KlingSubjectCompletionOperator"]


class KlingSubjectCompletionOperator(KlingTaskOperator):
    """
    Make three sets of three other angles of a subject (Kling's "AI Multi-Shot", for an element's
    ``refer_images``); store the nine images and return the result (set ``s``, angle ``k`` is image
    ``3 * s + k - 1``). Its price is UNCONFIRMED (20 or 0.5 units): estimates take 20.

    :param element_frontal_image: The subject from the front: a URL, base64, an image in your storage
        or an image task's result (its first image). (templated)
    """

    request_kind = RequestKind.SUBJECT_COMPLETION
    template_fields: Sequence[str] = ("element_frontal_image", *KlingTaskOperator.template_fields)

    def __init__(self, *, element_frontal_image: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
