"""``POST /v1/images/kolors-virtual-try-on``: a person image dressed in a garment image.

Rules from Kling's Virtual Try-On page: ``human_image`` and ``cloth_image`` are required (URL
or bare base64 of a JPEG/PNG, at most 10 MB, at least 300 px a side); ``model_name``
``kolors-virtual-try-on-v1`` (Kling's default) or ``-v1-5`` (which also takes a top and a
bottom combined in one garment image). There is no ``n``: a task makes one image.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from pydantic import field_validator

from airflow_provider_kling.defaults import DEFAULT_TRY_ON_MODEL
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    check_image,
)

VIRTUAL_TRY_ON_PATH = "/v1/images/kolors-virtual-try-on"
VIRTUAL_TRY_ON_MODELS: tuple[str, ...] = ("kolors-virtual-try-on-v1", "kolors-virtual-try-on-v1-5")


class VirtualTryOnRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/kolors-virtual-try-on``."""

    kind: ClassVar[str] = "virtual-try-on"
    path: ClassVar[str] = VIRTUAL_TRY_ON_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("human_image", "cloth_image")
    known_models: ClassVar[Collection[str]] = VIRTUAL_TRY_ON_MODELS

    model_name: str = DEFAULT_TRY_ON_MODEL
    human_image: str
    cloth_image: str

    _images = field_validator("human_image", "cloth_image")(
        classmethod(lambda cls, value: check_image(value))
    )

    @property
    def images_made(self) -> int:
        return 1
