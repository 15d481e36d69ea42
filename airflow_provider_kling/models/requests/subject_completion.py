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
from typing import ClassVar

from pydantic import Field

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest
from airflow_provider_kling.unit_prices import ANY, Prices, UnitRule, task_rule

SUBJECT_COMPLETION_PATH = "/v1/general/ai-multi-shot"
#: STAND-IN: the higher of Kling's two published prices (20 and 0.5 units a call).
SUBJECT_COMPLETION_PRICES: Prices = {ANY: {ANY: 20.0}}


class SubjectCompletionRequest(KlingTaskRequest):
    """The body of ``POST /v1/general/ai-multi-shot``."""

    kind: ClassVar[str] = RequestKind.SUBJECT_COMPLETION
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: SUBJECT_COMPLETION_PATH}
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = task_rule
    stand_in_prices: ClassVar[Prices] = SUBJECT_COMPLETION_PRICES
    image_fields: ClassVar[tuple[str, ...]] = ("element_frontal_image",)

    element_frontal_image: str = Field(description="The subject seen from the front (URL or base64).")
