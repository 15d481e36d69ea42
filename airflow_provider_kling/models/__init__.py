"""
Typed Kling image-generation requests and responses; no Airflow and no HTTP here.

- :mod:`.capabilities`: what each model accepts, as one table of data (and the README's model table);
- :mod:`.requests`: one request model per endpoint (:class:`ImageGenerationRequest` in
  :mod:`.requests.generations`, also at :mod:`.request`; omni-image, multi-image2image, expand,
  virtual try-on), each validated before any HTTP call;
- :mod:`.reference_image`: the checks on a request's ``image`` (URL, or base64 of a JPEG/PNG);
- :mod:`.task`: Kling's answers (:func:`parse_answer`) and tasks (:class:`ImageTask`);
- :mod:`.account`: the account's resource packs (:class:`AccountCosts`, ``GET /account/costs``).
"""

from __future__ import annotations

from airflow_provider_kling.models.account import AccountCosts, ResourcePack, ResourcePackStatus
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
    "AccountCosts",
    "BalanceDeduction",
    "ElementReference",
    "Envelope",
    "ImageGenerationRequest",
    "ImageModelCapability",
    "ImageTask",
    "KlingImage",
    "ResourcePack",
    "ResourcePackStatus",
    "TaskInfo",
    "TaskResult",
    "TaskStatus",
    "WatermarkInfo",
    "describe_validation_error",
    "parse_answer",
    "render_model_table",
    "task_from_data",
]
