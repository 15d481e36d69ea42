"""KlingImageGenerationOperator: one templated prompt in, stored images and a result dict out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import KlingTaskOperator


class KlingImageGenerationOperator(KlingTaskOperator):
    """
    Generate images with Kling, wait for them, copy them to your storage, return the result.

    Takes the fields of :class:`~airflow_provider_kling.models.requests.generations.ImageGenerationRequest`
    (``prompt``, ``model_name``, ``n``, ``image`` ...; the prompt may be a ``.txt``/``.j2``/``.jinja2``
    file rendered with the run's context). A retry or a clear of the same task instance with the same
    request reconnects to the Kling task an earlier try created (one paid generation per request); an
    edited request creates a new one. See the docs' "Retries, resuming and failures"
    (docs/operators/image-generation.rst). Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = RequestKind.GENERATIONS
    template_ext: Sequence[str] = (".txt", ".j2", ".jinja2")
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "jinja"}
