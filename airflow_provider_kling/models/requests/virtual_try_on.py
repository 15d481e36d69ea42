"""``POST /v1/images/kolors-virtual-try-on``: a person image dressed in a garment image.

Rules from Kling's Virtual Try-On page: ``human_image`` and ``cloth_image`` are required (URL
or bare base64 of a JPEG/PNG, at most 10 MB, at least 300 px a side); ``model_name``
``kolors-virtual-try-on-v1`` (Kling's default) or ``-v1-5`` (which also takes a top and a
bottom combined in one garment image). There is no ``n``: a task makes one image.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    blank_means_unset,
    check_callback_url,
    check_external_task_id,
    check_image,
)

VIRTUAL_TRY_ON_PATH = "/v1/images/kolors-virtual-try-on"
VIRTUAL_TRY_ON_MODELS: tuple[str, ...] = ("kolors-virtual-try-on-v1", "kolors-virtual-try-on-v1-5")


class VirtualTryOnRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/kolors-virtual-try-on``."""

    kind: ClassVar[str] = "virtual-try-on"
    path: ClassVar[str] = VIRTUAL_TRY_ON_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("human_image", "cloth_image")

    model_name: str = "kolors-virtual-try-on-v1"
    human_image: str
    cloth_image: str

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, values: Any) -> Any:
        return blank_means_unset(values, ("callback_url", "external_task_id"))

    @field_validator("model_name")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in VIRTUAL_TRY_ON_MODELS:
            raise ValueError(f"must be one of {', '.join(VIRTUAL_TRY_ON_MODELS)}")
        return value

    _images = field_validator("human_image", "cloth_image")(
        classmethod(lambda cls, value: check_image(value))
    )
    _callback = field_validator("callback_url")(classmethod(lambda cls, value: check_callback_url(value)))
    _external = field_validator("external_task_id")(
        classmethod(lambda cls, value: check_external_task_id(value))
    )

    @property
    def images_made(self) -> int:
        return 1
