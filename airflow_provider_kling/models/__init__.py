"""
Typed Kling image-generation requests and responses; no Airflow and no HTTP here.

- :mod:`.capabilities`: what each model accepts, as one table of data (and the README's model table);
- :mod:`.request`: :class:`ImageGenerationRequest`, validated against that table before any HTTP call;
- :mod:`.reference_image`: the checks on a request's ``image`` (URL, or base64 of a JPEG/PNG);
- :mod:`.task`: Kling's answers (:func:`parse_answer`) and tasks (:class:`ImageTask`).
"""

from __future__ import annotations

from airflow_provider_kling.models.capabilities import (
    ASPECT_RATIOS,
    IMAGE_MODEL_CAPABILITIES,
    IMAGE_MODELS,
    MAX_IMAGES,
    MAX_PROMPT_LENGTH,
    ImageModelCapability,
    render_model_table,
)
from airflow_provider_kling.models.request import (
    ElementReference,
    ImageGenerationRequest,
    WatermarkInfo,
    describe_validation_error,
)
from airflow_provider_kling.models.task import (
    BalanceDeduction,
    Envelope,
    ImageTask,
    KlingImage,
    TaskInfo,
    TaskResult,
    TaskStatus,
    parse_answer,
    task_from_data,
)

__all__ = [
    "ASPECT_RATIOS",
    "IMAGE_MODELS",
    "IMAGE_MODEL_CAPABILITIES",
    "MAX_IMAGES",
    "MAX_PROMPT_LENGTH",
    "BalanceDeduction",
    "ElementReference",
    "Envelope",
    "ImageGenerationRequest",
    "ImageModelCapability",
    "ImageTask",
    "KlingImage",
    "TaskInfo",
    "TaskResult",
    "TaskStatus",
    "WatermarkInfo",
    "describe_validation_error",
    "parse_answer",
    "render_model_table",
    "task_from_data",
]
