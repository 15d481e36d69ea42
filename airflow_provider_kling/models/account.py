"""
The account's resource packs, as ``GET /account/costs`` answers: what was bought, what is left.

Kling's figures lag: a pack's ``remaining_quantity`` may not yet show what was spent in the last
12 hours or so. Read them as an upper bound of what is left, never as a live balance.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError, field_validator

from airflow_provider_kling.errors import KlingResponseError, error_from_response
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
