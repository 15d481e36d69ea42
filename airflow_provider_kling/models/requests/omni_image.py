"""``POST /v1/images/omni-image``: one model for generation and editing from text, images and
elements, cited in the prompt as ``<<<image_1>>>`` (Kling's Omni-Image page); ``result_type``
``series`` makes ``series_amount`` related images and ignores ``n``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.capabilities import (
    ALL_ASPECT_RATIOS,
    MAX_PROMPT_LENGTH,
    MAX_REFERENCES,
    OMNI_MODELS,
)
from airflow_provider_kling.models.requests.base import (
    ElementReference,
    ImageItem,
    KlingTaskRequest,
    WatermarkInfo,
    plain_items,
)
from airflow_provider_kling.unit_prices import OMNI_IMAGE_PRICES, Prices


class OmniImageRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/omni-image``."""

    kind: ClassVar[str] = RequestKind.OMNI_IMAGE
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/images/omni-image"}
    stand_in_prices: ClassVar[Prices] = OMNI_IMAGE_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("image_list.image",)
    known_models: ClassVar[Collection[str]] = OMNI_MODELS

    model_name: str = "kling-image-o1"
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_LENGTH)
    image_list: list[ImageItem] | None = Field(default=None, max_length=MAX_REFERENCES)
    element_list: list[ElementReference] | None = Field(default=None, max_length=MAX_REFERENCES)
    resolution: Literal["1k", "2k", "4k"] | None = None
    result_type: Literal["single", "series"] | None = None
    n: int = Field(default=1, ge=1, le=9)
    series_amount: int | Literal["auto"] | None = None
    aspect_ratio: Literal[(*ALL_ASPECT_RATIOS, "auto")] | None = None  # type: ignore[valid-type]
    watermark_info: WatermarkInfo | None = None

    _plain_images = field_validator("image_list", mode="before")(plain_items("image"))

    @field_validator("series_amount")
    @classmethod
    def _series_amount_range(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 2 <= value <= 9:
            raise ValueError("must be an integer from 2 to 9, or 'auto'")
        return value

    @model_validator(mode="after")
    def _model_rules(self) -> OmniImageRequest:
        model = OMNI_MODELS[self.model_name]
        problems = []
        if self.resolution is not None and self.resolution not in model.resolutions:
            problems.append(
                f"resolution: {model.name} supports {', '.join(model.resolutions)} (got {self.resolution!r})"
            )
        if self.result_type == "series" and not model.series:
            series_models = ", ".join(row.name for row in OMNI_MODELS.values() if row.series)
            problems.append(f"result_type: {model.name} makes no series; models that do: {series_models}")
        if self.series_amount is not None and self.result_type != "series":
            problems.append("series_amount: only with result_type='series' (Kling ignores it otherwise)")
        references = len(self.image_list or ()) + len(self.element_list or ())
        if references > MAX_REFERENCES:
            problems.append(
                f"image_list: at most {MAX_REFERENCES} reference images and elements together "
                f"(got {references})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def images_made(self) -> int | None:
        """How many images the task makes (``None``: Kling decides, ``series_amount='auto'``)."""
        if self.result_type == "series":
            return self.series_amount if isinstance(self.series_amount, int) else None
        return self.n
