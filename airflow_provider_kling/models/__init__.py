"""
Typed Kling image-generation requests and responses; no Airflow and no HTTP here.

- :mod:`.capabilities`: what each model accepts and where it is served, as tables of data (and the
  docs' model table), the default model, and the verdict on sending a model to a host;
- :mod:`.hosts`: which kind of host a base URL names (Kling's own, the default reseller, another);
- :mod:`.requests`: one request model per endpoint (:class:`ImageGenerationRequest` in
  :mod:`.requests.generations`; omni-image, multi-image2image, expand,
  virtual try-on), each validated before any HTTP call;
- :mod:`.reference_image`: the checks on a request's ``image`` (URL, or base64 of a JPEG/PNG);
- :mod:`.task`: Kling's answers (:func:`parse_answer`) and tasks (:class:`KlingTask`);
- :mod:`.account`: the account's resource packs (:class:`AccountCosts`, ``GET /account/costs``).
"""

from __future__ import annotations

from airflow_provider_kling.models.account import AccountCosts, ResourcePack, ResourcePackStatus
from airflow_provider_kling.models.capabilities import (
    ASPECT_RATIOS,
    DEFAULT_IMAGE_MODEL,
    IMAGE_MODEL_CAPABILITIES,
    IMAGE_MODELS,
    MAX_IMAGES,
    MAX_PROMPT_LENGTH,
    MODEL_AVAILABILITY,
    ImageModelCapability,
    ModelAvailability,
    ModelVerdict,
    check_model_served,
    model_verdict,
    render_model_table,
)
from airflow_provider_kling.models.requests.base import WatermarkInfo, describe_validation_error
from airflow_provider_kling.models.requests.generations import ElementReference, ImageGenerationRequest
from airflow_provider_kling.models.task import (
    BalanceDeduction,
    Envelope,
    KlingImage,
    KlingTask,
    TaskInfo,
    TaskResult,
    TaskStatus,
    parse_answer,
    task_from_data,
)

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_IMAGE_MODEL",
    "IMAGE_MODELS",
    "IMAGE_MODEL_CAPABILITIES",
    "MAX_IMAGES",
    "MAX_PROMPT_LENGTH",
    "MODEL_AVAILABILITY",
    "AccountCosts",
    "BalanceDeduction",
    "ElementReference",
    "Envelope",
    "ImageGenerationRequest",
    "ImageModelCapability",
    "KlingImage",
    "KlingTask",
    "ModelAvailability",
    "ModelVerdict",
    "ResourcePack",
    "ResourcePackStatus",
    "TaskInfo",
    "TaskResult",
    "TaskStatus",
    "WatermarkInfo",
    "check_model_served",
    "describe_validation_error",
    "model_verdict",
    "parse_answer",
    "render_model_table",
    "task_from_data",
]
