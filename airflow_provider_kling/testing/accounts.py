"""Accounts: which key belongs to which account, and each account's resource packs.

Kling counts concurrency and spends units per *account*: every key of an account shares its
slots, tasks and resource packs. ``SimulatorConfig.accounts`` maps keys (API keys or JWT access
keys) to account names; a key not listed is an account of its own. Each account starts with one
STAND-IN resource pack (``pack_units``, default 10,000 units, online for a year, good for every
product type); a create takes the task's units from the online packs of its product type (soonest
to expire first) or answers 429 / 1102 when they do not cover it (Kling's packs are per type: with
only a video pack, an image create answers 1102; a pack set with ``product_type`` ``image``,
``video`` or ``try_on`` serves that type only), and a task that ends ``failed`` gives its units
back. ``GET /account/costs`` shows the packs in Kling's shape, at once (Kling's figures lag up to
12 hours; its one-query-a-second limit is not enforced here).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_PACK_UNITS = 10_000.0
DEFAULT_PACK_NAME = "Image Generation - 10,000 units"
_DAY = 86_400.0
_YEAR = 365 * _DAY
PACK_STATUSES = ("toBeOnline", "online", "expired", "runOut")


def key_fingerprint(key: str) -> str:
    """What the simulator shows instead of a key: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def default_account(key: str) -> str:
    """The account of a key that ``SimulatorConfig.accounts`` does not list (never the key itself)."""
    return f"account-{key_fingerprint(key)}"


@dataclass
class ResourcePack:
    """A prepaid pack of units (times in Unix seconds)."""

    name: str
    total: float
    remaining: float
    effective: float
    invalid: float
    purchased: float
    pack_id: str
    pack_type: str = "decreasing_total"
    #: ``image``, ``video`` or ``try_on``; ``None``: any (the simulator's starting pack)
    product_type: str | None = None

    def serves(self, product_type: str) -> bool:
        return self.product_type is None or self.product_type == product_type

    def status(self, now: float) -> str:
        if now < self.effective:
            return "toBeOnline"
        if now >= self.invalid:
            return "expired"
        return "runOut" if self.remaining <= 0 else "online"

    def render(self, now: float) -> dict[str, Any]:
        """One item of ``resource_pack_subscribe_infos``, as Kling sends it (times in ms)."""
        rendered: dict[str, Any] = {
            "resource_pack_name": self.name,
            "resource_pack_id": self.pack_id,
            "resource_pack_type": self.pack_type,
            "total_quantity": float(self.total),
            "remaining_quantity": float(self.remaining),
            "purchase_time": int(self.purchased * 1000),
            "effective_time": int(self.effective * 1000),
            "invalid_time": int(self.invalid * 1000),
            "status": self.status(now),
        }
        if self.product_type is not None:
            rendered["product_type"] = self.product_type
        return rendered

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], now: float) -> ResourcePack:
        """A pack from Kling's field names; times in ms default to 'bought now, valid a year'."""
        unknown = set(spec) - {
            "resource_pack_name",
            "resource_pack_id",
            "resource_pack_type",
            "total_quantity",
            "remaining_quantity",
            "purchase_time",
            "effective_time",
            "invalid_time",
            "product_type",
        }
        if unknown:
            raise ValueError(f"unknown resource pack fields: {', '.join(sorted(unknown))}")
        total = float(spec.get("total_quantity", DEFAULT_PACK_UNITS))
        remaining = float(spec.get("remaining_quantity", total))
        if total < 0 or not 0 <= remaining <= total:
            raise ValueError(
                f"a resource pack needs 0 <= remaining_quantity <= total_quantity (got {spec!r})"
            )
        effective = spec["effective_time"] / 1000 if "effective_time" in spec else now
        return cls(
            name=str(spec.get("resource_pack_name", DEFAULT_PACK_NAME)),
            total=total,
            remaining=remaining,
            effective=effective,
            invalid=spec["invalid_time"] / 1000 if "invalid_time" in spec else effective + _YEAR,
            purchased=spec["purchase_time"] / 1000 if "purchase_time" in spec else effective,
            pack_id=str(spec.get("resource_pack_id", uuid.uuid4().hex)),
            pack_type=str(spec.get("resource_pack_type", "decreasing_total")),
            product_type=_product_type(spec.get("product_type")),
        )


PRODUCT_TYPES = ("image", "video", "try_on")


def _product_type(value: Any) -> str | None:
    if value is not None and value not in PRODUCT_TYPES:
        raise ValueError(f"product_type must be one of {', '.join(PRODUCT_TYPES)} (got {value!r})")
    return value


class Accounts:
    """Key -> account, and the resource packs of each account. Not thread-safe: the state's lock guards it."""

    def __init__(self, mapping: Mapping[str, str], pack_units: float = DEFAULT_PACK_UNITS) -> None:
        self._mapping = dict(mapping)
        self._pack_units = pack_units
        self._packs: dict[str, list[ResourcePack]] = {}

    def account_of(self, key: str) -> str:
        return self._mapping.get(key) or default_account(key)

    def packs(self, account: str, now: float) -> list[ResourcePack]:
        if account not in self._packs:
            # The starting pack was bought before anyone asked: a costs window ending "now" shows it.
            bought = {"total_quantity": self._pack_units, "effective_time": int((now - _DAY) * 1000)}
            self._packs[account] = [ResourcePack.from_json(bought, now)]
        return self._packs[account]

    def set_packs(self, account: str, specs: list[Mapping[str, Any]], now: float) -> None:
        self._packs[account] = [ResourcePack.from_json(spec, now) for spec in specs]

    def charge(self, account: str, units: float, now: float, product_type: str = "image") -> bool:
        """Take ``units`` from the online packs of ``product_type``, soonest to expire first; False if
        they fall short."""
        online = sorted(
            (
                pack
                for pack in self.packs(account, now)
                if pack.status(now) == "online" and pack.serves(product_type)
            ),
            key=lambda p: p.invalid,
        )
        if sum(pack.remaining for pack in online) < units:
            return False
        for pack in online:
            taken = min(pack.remaining, units)
            pack.remaining -= taken
            units -= taken
            if units <= 0:
                break
        return True

    def refund(self, account: str, units: float, now: float, product_type: str = "image") -> None:
        """Give ``units`` back to the first pack of ``product_type`` with room (a task that ended failed)."""
        for pack in self.packs(account, now):
            if not pack.serves(product_type):
                continue
            room = pack.total - pack.remaining
            given = min(room, units)
            pack.remaining += given
            units -= given
            if units <= 0:
                return

    def costs(
        self, account: str, start: float, end: float, name: str | None, now: float
    ) -> list[dict[str, Any]]:
        """The packs whose validity overlaps ``[start, end]`` (seconds), optionally of one name."""
        return [
            pack.render(now)
            for pack in self.packs(account, now)
            if pack.effective <= end and pack.invalid >= start and (name is None or pack.name == name)
        ]

    def clear(self) -> None:
        self._packs.clear()
