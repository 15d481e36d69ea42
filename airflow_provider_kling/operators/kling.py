"""KlingImageGenerationOperator: one templated prompt in, stored images and a result dict out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator


class KlingImageGenerationOperator(KlingTaskOperator):
    """
    Generate images with Kling, wait for them, copy them to your storage, return the result.

    A retry or a clear of the same task instance with the same request reconnects to the Kling
    task an earlier try created (one paid generation per request); an edited request creates a
    new one. See the docs' "Retries, resuming and failures" (docs/operators/image-generation.rst).

    :param prompt: The prompt, at most 2500 characters, or a ``.txt``/``.j2``/``.jinja2`` file
        rendered with the run's context. (templated)
    :param model_name: Kling image model: ``kling-v3`` (the request model's default) or
        ``kling-v2-1``; older ones where the connection's host still serves them. (templated)
    :param n: Number of images, 1 to 9 (default 1).
    :param negative_prompt: What to keep out of the image; not allowed with ``image``. (templated)
    :param image: Reference image: an http(s) URL, base64 data, or an image in your storage (an
        ``ObjectStoragePath``, a ``file://``/``s3://``... URI, or an image of an earlier task's
        result), read and sent as base64. (templated)
    :param image_reference: ``subject`` or ``face``; required by kling-v1-5 with an image. (templated)
    :param image_fidelity: Reference image strength, 0 to 1.
    :param human_fidelity: Subject likeness, 0 to 1; only with ``image_reference="subject"``.
    :param resolution: ``1k`` or ``2k``. (templated)
    :param aspect_ratio: One of 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9. (templated)

    Every other argument is :class:`~airflow_provider_kling.operators.base.KlingTaskOperator`'s
    (callback URL, external task id, waiting, deferral, storage, failure policy).
    """

    request_kind = RequestKind.GENERATIONS
    template_fields: Sequence[str] = (
        "prompt",
        "negative_prompt",
        "model_name",
        "image",
        "image_reference",
        "resolution",
        "aspect_ratio",
        *KlingTaskOperator.template_fields,
    )
    template_ext: Sequence[str] = (".txt", ".j2", ".jinja2")
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "jinja"}

    def __init__(
        self,
        *,
        prompt: str,
        model_name: str | None = None,
        n: int | None = None,
        negative_prompt: str | None = None,
        image: str | None = None,
        image_reference: str | None = None,
        image_fidelity: float | None = None,
        human_fidelity: float | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
