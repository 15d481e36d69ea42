"""``POST /v1/images/kolors-virtual-try-on``: a person image dressed in a garment image, one image
a task (Kling's Virtual Try-On page; ``-v1-5`` also takes a top and a bottom in one garment image)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import ClassVar

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
)
from airflow_provider_kling.unit_prices import TRY_ON_PRICES, Prices, UnitRule, task_rule

VIRTUAL_TRY_ON_MODELS: tuple[str, ...] = ("kolors-virtual-try-on-v1", "kolors-virtual-try-on-v1-5")


class VirtualTryOnRequest(KlingTaskRequest):
    """The body of ``POST /v1/images/kolors-virtual-try-on``."""

    kind: ClassVar[str] = RequestKind.VIRTUAL_TRY_ON
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/images/kolors-virtual-try-on"}
    #: One image a task: one slot, one price.
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = TRY_ON_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("human_image", "cloth_image")
    known_models: ClassVar[Collection[str]] = VIRTUAL_TRY_ON_MODELS

    model_name: str = "kolors-virtual-try-on-v1"
    human_image: str
    cloth_image: str
