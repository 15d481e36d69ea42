"""
The account's resource packs, as ``GET /account/costs`` answers: what was bought, what is left.

Kling's figures lag: a pack's ``remaining_quantity`` may not yet show what was spent in the last
12 hours or so. Read them as an upper bound of what is left, never as a live balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError, field_validator

from airflow_provider_kling.errors import KlingRequestValidationError, KlingResponseError, error_from_response
from airflow_provider_kling.models.task import _Tolerant, answer_problems
from airflow_provider_kling.models.times import from_millis


class ResourcePackStatus(StrEnum):
    """Kling's pack states: bought but not yet valid, usable, past its end, used up."""

    TO_BE_ONLINE = "toBeOnline"
    ONLINE = "online"
    EXPIRED = "expired"
    RUN_OUT = "runOut"


class ResourcePack(_Tolerant):
    """One pack in ``resource_pack_subscribe_infos`` (times are Unix milliseconds on the wire)."""

    resource_pack_name: str | None = None
    resource_pack_id: str | None = None
    #: ``decreasing_total`` (a quantity that is used up) or ``constant_period`` (per period)
    resource_pack_type: str | None = None
    total_quantity: float | None = None
    remaining_quantity: float | None = None
    purchase_time: datetime | None = None
    effective_time: datetime | None = None
    invalid_time: datetime | None = None
    #: a :class:`ResourcePackStatus` value, kept as sent (a new state must not make the answer unreadable)
    status: str | None = None

    _times = field_validator("purchase_time", "effective_time", "invalid_time", mode="before")(from_millis)

    @field_validator("total_quantity", "remaining_quantity", mode="before")
    @classmethod
    def _blank_is_unknown(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def is_online(self) -> bool:
        """Whether units can be spent from it now (as far as Kling's lagging figures say)."""
        return self.status == ResourcePackStatus.ONLINE

    def to_xcom(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class AccountCosts(_Tolerant):
    """The ``data`` of ``GET /account/costs``: the account's resource packs in the asked window."""

    code: int | None = 0
    msg: str | None = None
    resource_pack_subscribe_infos: list[ResourcePack] = Field(default_factory=list)

    @field_validator("resource_pack_subscribe_infos", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def packs(self) -> list[ResourcePack]:
        return self.resource_pack_subscribe_infos

    def online_packs(self, resource_pack_name: str | None = None) -> list[ResourcePack]:
        """The packs units can be spent from now, optionally only those of one name."""
        return [
            pack
            for pack in self.packs
            if pack.is_online
            and (resource_pack_name is None or pack.resource_pack_name == resource_pack_name)
        ]

    def remaining_units(self, resource_pack_name: str | None = None) -> float:
        """Units left in the online packs (an upper bound: Kling's figures lag by up to 12 hours)."""
        return sum(pack.remaining_quantity or 0.0 for pack in self.online_packs(resource_pack_name))

    def to_xcom(self) -> dict[str, Any]:
        return {
            "remaining_units": self.remaining_units(),
            "resource_packs": [pack.to_xcom() for pack in self.packs],
        }


def costs_from_data(data: Any) -> AccountCosts:
    """Kling's ``data`` (``{code, msg, resource_pack_subscribe_infos}``) as :class:`AccountCosts`."""
    if not isinstance(data, dict):
        raise KlingResponseError("Kling answered an account costs query without its resource packs")
    if data.get("code") not in (None, 0, "0"):
        raise error_from_response(200, {"message": data.get("msg"), **data})
    try:
        return AccountCosts.model_validate(data)
    except ValidationError as exc:
        raise KlingResponseError(
            f"Kling answered with account costs this provider cannot read: {answer_problems(exc, 'costs')}"
        ) from None


# -- the billing export: ``POST /account/billing/package`` (units) and ``/balance`` (cash) ---------

#: Where each ledger is read: units deducted from resource packs, or cash from the balance.
BILLING_PATHS: dict[str, str] = {"package": "/account/billing/package", "balance": "/account/billing/balance"}
#: Kling: at most (and by default) 500 records a page.
MAX_BILLING_LIMIT = 500
#: The filter keys each ledger takes; ``package_name`` and ``package_id`` exclude each other.
BILLING_FILTER_KEYS: dict[str, tuple[str, ...]] = {
    "package": ("api_key_name", "product_type", "package_name", "package_id"),
    "balance": ("api_key_name",),
}
#: ``product_type`` values of the export (``try-on`` here, ``try_on`` in ``POST /tasks``).
BILLING_PRODUCT_TYPES = ("video", "image", "try-on")


def _decimal(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"must be a number (got {value!r})") from None


class BillingDeduction(_Tolerant):
    """One ``detail`` entry of a billing export: what one task was charged, in units (``package``)
    or in cash (``balance``: ``list_price`` in ``currency``). Ids are strings, kept exact."""

    task_id: str | None = None
    package_id: str | None = None
    product_type: str | None = None
    api_key_name: str | None = None
    product_function: str | None = None
    model_name: str | None = None
    resolution: str | None = None
    duration: str | None = None
    deduction_time: datetime | None = None
    deduction_amount: Decimal | None = None
    unit_before_deduction: Decimal | None = None
    unit_after_deduction: Decimal | None = None
    cash_type: str | None = None
    balance_before_deduction: Decimal | None = None
    balance_after_deduction: Decimal | None = None
    list_price: Decimal | None = None
    currency: str | None = None

    _time = field_validator("deduction_time", mode="before")(from_millis)
    _amounts = field_validator(
        "deduction_amount",
        "unit_before_deduction",
        "unit_after_deduction",
        "balance_before_deduction",
        "balance_after_deduction",
        "list_price",
        mode="before",
    )(classmethod(lambda cls, value: _decimal(value)))


class BillingPage(_Tolerant):
    """The ``data`` of a billing export: ``result{detail[], count}`` with ``next_cursor`` and
    ``has_more`` beside ``result`` (not inside it)."""

    detail: list[BillingDeduction] = Field(default_factory=list)
    next_cursor: str | None = None
    has_more: bool = False


def billing_page_from_data(data: Any) -> BillingPage:
    """Kling's ``data`` of a billing export as a :class:`BillingPage`."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise KlingResponseError("Kling answered a billing export without its result")
    try:
        return BillingPage.model_validate(
            {
                "detail": result.get("detail") or [],
                "next_cursor": data.get("next_cursor") or None,
                "has_more": bool(data.get("has_more")),
            }
        )
    except ValidationError as exc:
        raise KlingResponseError(
            f"Kling answered with billing records this provider cannot read: {answer_problems(exc, 'detail')}"
        ) from None


def billing_body(
    ledger: str, start: int, end: int, filters: Mapping[str, Any] | None, limit: int
) -> dict[str, Any]:
    """The first page's body of a billing export (times in ms, a window ``hooks.account.time_window``
    checked), checked before any HTTP call."""
    if ledger not in BILLING_PATHS:
        raise KlingRequestValidationError(
            f"ledger must be one of {', '.join(BILLING_PATHS)} (got {ledger!r})"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_BILLING_LIMIT:
        raise KlingRequestValidationError(
            f"limit must be an integer from 1 to {MAX_BILLING_LIMIT} (got {limit!r})"
        )
    keys = BILLING_FILTER_KEYS[ledger]
    body: dict[str, Any] = {"start_time": start, "end_time": end, "limit": limit}
    problems = []
    for key, values in (filters or {}).items():
        listed = [values] if isinstance(values, str) else values
        if key not in keys:
            problems.append(f"filters: the {ledger} ledger filters by {', '.join(keys)} only (got {key!r})")
        elif (
            not isinstance(listed, list | tuple) or not listed or not all(isinstance(v, str) for v in listed)
        ):
            problems.append(f"filters.{key}: must be a non-empty list of strings (got {values!r})")
        elif key == "product_type" and set(listed) - set(BILLING_PRODUCT_TYPES):
            problems.append(f"filters.product_type: each must be one of {', '.join(BILLING_PRODUCT_TYPES)}")
    if {"package_name", "package_id"} <= set(filters or {}):
        problems.append("filters: package_name and package_id exclude each other")
    if problems:
        raise KlingRequestValidationError("Invalid Kling billing query: " + "; ".join(problems))
    if filters:
        body["filters"] = [
            {"key": key, "values": [values] if isinstance(values, str) else list(values)}
            for key, values in filters.items()
        ]
    return body
