"""
The body of ``POST /v1/images/generations``, validated before any HTTP call.

Field rules are the pydantic fields below; what each model accepts (text to image, reference
types, resolutions, aspect ratios, elements) comes from the capability table in
``models.capabilities``, so a new model needs no code here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import ClassVar, Literal

from pydantic import (
    Field,
    model_validator,
)

from airflow_provider_kling.defaults import DEFAULT_IMAGE_MODEL, GENERATIONS_PATH
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.capabilities import (
    ALL_ASPECT_RATIOS,
    ALL_RESOLUTIONS,
    IMAGE_MODEL_CAPABILITIES,
    MAX_IMAGES,
    MAX_PROMPT_LENGTH,
    MAX_REFERENCES,
    REFERENCE_TYPES,
    ImageModelCapability,
)
from airflow_provider_kling.models.requests.base import ElementReference, KlingTaskRequest, WatermarkInfo
from airflow_provider_kling.unit_prices import PRICE_TABLE, Prices


class ImageGenerationRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/generations``, with every rule Kling documents."""

    kind: ClassVar[str] = RequestKind.GENERATIONS
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: GENERATIONS_PATH}
    stand_in_prices: ClassVar[Prices] = PRICE_TABLE
    image_fields: ClassVar[tuple[str, ...]] = ("image",)
    known_models: ClassVar[Collection[str]] = IMAGE_MODEL_CAPABILITIES

    # model_name and n are optional at Kling (defaults kling-v3 and 1) but required by the
    # reseller: this client always sends both (a default is sent like a value).
    model_name: str = DEFAULT_IMAGE_MODEL
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_LENGTH)
    n: int = Field(default=1, ge=1, le=MAX_IMAGES)
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    image: str | None = None
    image_reference: Literal[REFERENCE_TYPES] | None = None  # type: ignore[valid-type]
    image_fidelity: float | None = Field(default=None, ge=0, le=1)
    # Takes effect only with image_reference="subject"; Kling accepts and ignores it otherwise
    # (its own clients send 0.45 by default), so it is never refused for that.
    human_fidelity: float | None = Field(default=None, ge=0, le=1)
    element_list: list[ElementReference] | None = Field(default=None, max_length=MAX_REFERENCES)
    resolution: Literal[ALL_RESOLUTIONS] | None = None  # type: ignore[valid-type]
    aspect_ratio: Literal[ALL_ASPECT_RATIOS] | None = None  # type: ignore[valid-type]
    watermark_info: WatermarkInfo | None = None

    @model_validator(mode="after")
    def _model_capabilities(self) -> ImageGenerationRequest:
        problems = capability_problems(self, IMAGE_MODEL_CAPABILITIES[self.model_name])
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _models_with(flag: str) -> str:
    return ", ".join(name for name, row in IMAGE_MODEL_CAPABILITIES.items() if getattr(row, flag))


def capability_problems(request: ImageGenerationRequest, model: ImageModelCapability) -> list[str]:
    """Each rule of ``model``'s row (and the cross-field rules) that ``request`` breaks, field first."""
    problems = []
    has_image = request.image is not None
    if request.image_reference is not None and not has_image:
        problems.append("image_reference: needs an image (Kling refuses image_reference without image)")
    if not has_image and not model.text_to_image:
        problems.append(
            f"image: required, {model.name} does not generate from text alone ({model.image_use})"
        )
    if has_image and not model.image_to_image:
        problems.append(f"image: {model.name} takes no image; models that do: {_models_with('image_use')}")
    if has_image and model.reference_required and request.image_reference is None:
        problems.append(
            f"image_reference is required ({' or '.join(map(repr, model.reference_types))}) "
            f"when {model.name} gets an image"
        )
    if request.image_reference is not None and request.image_reference not in model.reference_types:
        problems.append(
            f"image_reference: {model.name} takes no {request.image_reference!r} reference; "
            f"models that do: {_models_with('reference_types')}"
        )
    if request.aspect_ratio is not None and request.aspect_ratio not in model.aspect_ratios:
        problems.append(
            f"aspect_ratio: {model.name} supports {', '.join(model.aspect_ratios)} "
            f"(got {request.aspect_ratio!r})"
        )
    if request.resolution is not None:
        allowed, mode = (
            (model.image_resolutions, "with an image")
            if has_image
            else (model.text_resolutions, "text to image")
        )
        if request.resolution not in allowed:
            problems.append(
                f"resolution: {model.name} {mode} supports {', '.join(allowed) or 'none'} "
                f"(got {request.resolution!r})"
            )
    if request.n > model.max_images:
        problems.append(f"n: {model.name} makes at most {model.max_images} images (got {request.n})")
    if request.element_list is not None:
        if not model.elements:
            problems.append(
                f"element_list: {model.name} takes no elements; models that do: {_models_with('elements')}"
            )
        if len(request.element_list) + has_image > MAX_REFERENCES:
            problems.append(
                f"element_list: at most {MAX_REFERENCES} elements and reference images together "
                f"(got {len(request.element_list)} elements{' and an image' if has_image else ''})"
            )
    if request.negative_prompt and has_image:
        problems.append("negative_prompt is not allowed together with image (Kling rejects it)")
    return problems
