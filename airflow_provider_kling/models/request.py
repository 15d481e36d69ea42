"""The image-generation request at its first import path (it lives in ``models.requests.generations``)."""

from __future__ import annotations

from airflow_provider_kling.models.requests.generations import (
    GENERATIONS_PATH,
    ElementReference,
    ImageGenerationRequest,
    WatermarkInfo,
    capability_problems,
    describe_validation_error,
)

__all__ = [
    "GENERATIONS_PATH",
    "ElementReference",
    "ImageGenerationRequest",
    "WatermarkInfo",
    "capability_problems",
    "describe_validation_error",
]
