"""``POST /v1/videos/image-recognize``: what an image holds, answered at once (not a task).

Rules from Kling's img-recog page (2026-09): ``image`` (URL or bare base64 of a JPEG/PNG, Kling's
image limits). The answer is ``data.task_result.images[{type: object_seg | head_seg | face_seg |
cloth_seg, is_contain, url}]``: whether the image holds each kind of subject, with a segmentation
image. 0.1 units a call. Whether the answer also carries a task id and status is not stated, so the
segmentations are returned (``KlingHook().answer(ImageRecognitionRequest.build(image=...))``), not stored.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_kling.models.requests.answers import AnsweredRequest
from airflow_provider_kling.models.requests.base import check_image


class Segmentation(BaseModel):
    """One kind of subject: ``type`` (``object_seg``, ``head_seg``, ``face_seg``, ``cloth_seg``),
    whether the image holds it, and its segmentation image's URL."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str
    is_contain: bool = False
    url: str | None = None


class _Images(BaseModel):
    images: list[Segmentation] = Field(default_factory=list)


class Recognition(BaseModel):
    """The answer of ``image-recognize``: ``task_result.images``, one :class:`Segmentation` a type."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    task_result: _Images = Field(default_factory=_Images)

    def of(self, kind: str) -> Segmentation | None:
        """The segmentation of type ``kind`` (``face_seg`` ...), if answered."""
        return next((item for item in self.task_result.images if item.type == kind), None)


class ImageRecognitionRequest(AnsweredRequest):
    """The body of ``POST /v1/videos/image-recognize``."""

    path: ClassVar[str] = "/v1/videos/image-recognize"
    what: ClassVar[str] = "image recognition"
    answer_model: ClassVar[type[BaseModel]] = Recognition

    image: str = Field(description="The image (URL or base64 of a JPEG/PNG).")

    _image = field_validator("image")(classmethod(lambda cls, value: check_image(value)))
