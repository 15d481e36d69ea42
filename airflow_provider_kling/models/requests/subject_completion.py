"""``POST /v1/general/ai-multi-shot``: subject completion ("AI Multi-Shot"), other angles of a
subject from its frontal image, for an element's ``refer_images``.

Rules from Kling's subject-completion page (2026-09): ``element_frontal_image`` is required (an
image: URL or bare base64 of a JPEG/PNG, 10 MB, 300 px, as Kling's other image inputs); also
``callback_url`` and ``external_task_id``. The result is ``task_result.images[{index 0-2, url_1,
url_2, url_3}]``: three sets of three angles, read as nine images (set ``index``, angle ``k``:
image ``3 * index + k - 1``). The price is UNCONFIRMED (20 units a call on the pricing page, 0.5 in
the changelog of 2026-01-23): the estimate takes the higher. Slots are not stated (UNCONFIRMED: one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest
from airflow_provider_kling.unit_prices import ANY, Prices, UnitRule, task_rule

#: STAND-IN: the higher of Kling's two published prices (20 and 0.5 units a call).
SUBJECT_COMPLETION_PRICES: Prices = {ANY: {ANY: 20.0}}


class SubjectCompletionRequest(KlingTaskRequest):
    """The body of ``POST /v1/general/ai-multi-shot``."""

    kind: ClassVar[str] = RequestKind.SUBJECT_COMPLETION
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/general/ai-multi-shot"}
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = SUBJECT_COMPLETION_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("element_frontal_image",)

    element_frontal_image: str = Field(description="The subject seen from the front (URL or base64).")

    @classmethod
    def read_result(cls, result: dict[str, Any]) -> dict[str, Any]:
        """Sets of angles ``{index, url_1, url_2, url_3}`` as one image each (``3 * index + k - 1``)."""
        sets = result.get("images")
        if not isinstance(sets, list) or not any(isinstance(item, dict) and "url_1" in item for item in sets):
            return result
        images = [
            {"index": 3 * int(item.get("index") or 0) + k - 1, "url": item[f"url_{k}"]}
            for item in sets
            for k in (1, 2, 3)
            if isinstance(item, dict) and item.get(f"url_{k}")
        ]
        return {**result, "images": images}
