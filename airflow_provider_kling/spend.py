"""
Spend: the units Kling deducted, their one sum, and whether a budget allows one more request.

No I/O and no Airflow. :func:`units_of` reads one deduction and :func:`sum_units` is the one sum of
them (a missing value makes the total unknown, never a silent 0); :class:`Budget` is the ledger of
units deducted and in flight against a limit (docs: ``spend.rst``). What a request *will* cost is
:mod:`airflow_provider_kling.estimates`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_provider_kling.models.task import KlingTask


class Estimate(Protocol):
    """Anything with ``units`` (an :class:`airflow_provider_kling.estimates.Estimate`)."""

    @property
    def units(self) -> float: ...


#: Tolerance for comparing sums of decimal units as floats.
_EPSILON = 1e-9


def exact_units(value: Any) -> Decimal | None:
    """Kling's ``final_unit_deduction`` (``"2"``, ``"0.5"``, ``2``) as an exact decimal, or ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        units = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return units if units.is_finite() and units >= 0 else None


def units_of(value: Any) -> float | None:
    """:func:`exact_units` as a number."""
    units = exact_units(value)
    return None if units is None else float(units)


def format_units(units: float | None) -> str:
    """``2``, ``0.5``, or ``unknown``: for logs, manifests and messages."""
    return "unknown" if units is None else f"{units:g}"


def describe_deduction(task: KlingTask) -> str:
    """What a finished task cost, for the log: ``4 units`` (plus the balance deduction when Kling sent it)."""
    units = units_of(task.final_unit_deduction)
    text = (
        "an unknown number of units (Kling sent no final_unit_deduction)"
        if units is None
        else f"{units:g} units"
    )
    balance = task.final_balance_deduction
    if balance is not None and (balance.quota or balance.list_price):
        text += f" (balance: quota {balance.quota or '?'}, list price {balance.list_price or '?'})"
    return text


def sum_units(values: Iterable[Any]) -> float | None:
    """
    THE sum of Kling unit deductions (every total in this provider is this function), rounded to 6
    decimals; nothing to sum is ``0.0``. A value that is absent or unreadable makes the sum unknown
    (``None``): a total that skipped a task would understate what was spent (callers pass only
    tasks that exist on Kling; a failed task reports ``"0"``).
    """
    total: list[float] = []
    for value in values:
        units = units_of(value)
        if units is None:
            return None
        total.append(units)
    return round(math.fsum(total), 6)


def total_units(results: Iterable[Mapping[str, Any]]) -> float | None:
    """:func:`sum_units` over operator results (XCom dicts): their ``final_unit_deduction``."""
    return sum_units(result.get("final_unit_deduction") for result in results)


def _amount(units: float | Estimate) -> float:
    return float(units) if isinstance(units, int | float) else units.units


@dataclass(frozen=True)
class BudgetDecision:
    """Whether one more item may be created, and why (``reason`` names the figures)."""

    allowed: bool
    reason: str
    units: float
    committed: float
    limit: float | None


@dataclass
class Budget:
    """
    A ledger of units against a limit: what ended (deducted) and what runs (in flight, estimated).

    :param limit: the most units this run may spend; ``None`` for no limit (the ledger still counts).
    """

    limit: float | None = None
    deducted: dict[str, float] = field(default_factory=dict)
    in_flight: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int | float) or not self.limit >= 0
        ):
            raise ValueError(f"budget limit must be a number of units >= 0, or None (got {self.limit!r})")

    @property
    def deducted_units(self) -> float:
        return math.fsum(self.deducted.values())

    @property
    def in_flight_units(self) -> float:
        return math.fsum(self.in_flight.values())

    @property
    def committed_units(self) -> float:
        """Deducted plus in flight: what the run has spent or may still be charged for."""
        return self.deducted_units + self.in_flight_units

    @property
    def remaining_units(self) -> float | None:
        return None if self.limit is None else max(0.0, self.limit - self.committed_units)

    def decide(self, key: str, units: float | Estimate) -> BudgetDecision:
        """May item ``key`` be created at an estimated ``units``? An item already counted is allowed."""
        amount = _amount(units)
        committed = self.committed_units
        if key in self.in_flight or key in self.deducted:
            return BudgetDecision(True, f"{key} is already counted", amount, committed, self.limit)
        figures = (
            f"{format_units(self.deducted_units)} deducted + {format_units(self.in_flight_units)} in flight "
            f"+ {format_units(amount)} estimated for this item"
        )
        if self.limit is None:
            return BudgetDecision(True, f"no budget: {figures}", amount, committed, None)
        limit = format_units(self.limit)
        if committed + amount <= self.limit + _EPSILON:
            return BudgetDecision(True, f"within budget: {figures} <= {limit}", amount, committed, self.limit)
        return BudgetDecision(False, f"over budget: {figures} > {limit} units", amount, committed, self.limit)

    def reserve(self, key: str, units: float | Estimate) -> None:
        """Item ``key`` is being created: count its estimate as in flight."""
        if key not in self.deducted:
            self.in_flight[key] = _amount(units)

    def settle(self, key: str, units: float | None) -> None:
        """Item ``key`` ended and Kling deducted ``units`` (``None``: unknown, keep the estimate)."""
        estimate = self.in_flight.pop(key, 0.0)
        self.deducted[key] = estimate if units is None else units

    def release(self, key: str) -> None:
        """Item ``key`` was never created (its create provably did not reach Kling): nothing to count."""
        self.in_flight.pop(key, None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Budget:
        return cls(
            limit=data.get("limit"),
            deducted={str(k): float(v) for k, v in (data.get("deducted") or {}).items()},
            in_flight={str(k): float(v) for k, v in (data.get("in_flight") or {}).items()},
        )
