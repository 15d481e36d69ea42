"""
Spend: what a Kling image request should cost in resource-pack units, and whether a budget allows it.

No I/O and no Airflow: the operators (single and batch) and DAG tasks call it with what they know.

Units
    Kling deducts *units* from the account's resource packs per task and reports them once the task
    has ended (``final_unit_deduction``, a decimal string; ``"0"`` for a failed task).
    :func:`units_of` reads that field. :class:`UnitEstimator` predicts a request's units: per image,
    the highest rate seen in finished tasks of the same model and resolution (so an estimate errs
    high), else :data:`PRICE_TABLE`, else ``fallback_per_image``; times ``n``.

    :data:`PRICE_TABLE` is a STAND-IN. Kling's API pages publish no unit price per image model (its
    pricing page sells packs of units; resellers price image models in their own currency, and one
    lists image-to-image at twice text-to-image). The table holds the simulator's stand-in figures
    (1 unit per kling-v1 image, 2 per kling-v1-5 image, 2 per 1k and 4 per 2k image of later
    models), so estimates against the simulator are exact; against Kling itself pass your own
    ``price_table`` or let the estimator learn from the first finished tasks.

Budget (a ledger the batch operator adopts)
    ``Budget(limit)`` keeps, per item key, the units *in flight* (estimated when created, not yet
    ended) and the units *deducted* (what Kling reported when it ended). It never lets the spend
    exceed the limit by its own decision::

        budget = Budget(limit=100)
        estimator = UnitEstimator()
        units = estimator.estimate(model_name, resolution, n)
        decision = budget.decide(key, units)       # allowed iff deducted + in flight + units <= limit
        if decision.allowed:
            budget.reserve(key, units)             # just before the create is sent
            ...                                    # create, wait
            budget.settle(key, units_of(task.final_unit_deduction))   # when it ends (None: keep the estimate)
            estimator.learn(model_name, resolution, n, units_of(task.final_unit_deduction))
        else:
            not_generated[key] = decision.reason   # e.g. "over budget: 98 deducted + 2 in flight + 4 > 100"
        budget.release(key)                        # a create that provably never reached Kling

    ``decide`` is per item: a cheaper item later in the queue may still fit after an expensive one
    did not. ``Budget.to_json()`` / ``Budget.from_json()`` (and the same on the estimator) carry the
    ledger through a deferral or a retry. An item whose actual deduction exceeds its estimate can
    take the spend past the limit by that difference: the estimator learns the real rate from the
    first finished task of each model and resolution, and a ``price_table`` that errs high closes it.

One budget across mapped single-operator tasks
    Airflow 3.3 has no shared counter a task can update safely: ``Variable.set`` and the asset state
    store are last-write-wins (two mapped tasks read the same spend and both create), the task state
    store belongs to one task instance, and a pool's slots come back when a task ends (it bounds the
    units *in flight*, ``pool_slots=ceil(estimate)`` in a pool of N slots, not the units spent). So
    the budget is decided once, before the fan-out: :func:`plan_within_budget` takes the mapped
    arguments and returns those that fit and those that do not, with the reason. A retry of a mapped
    task resumes its Kling task instead of paying again, so the plan holds, except that Kling-side
    failures may regenerate up to ``max_regenerations`` times (set it to 0 for a strict budget).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_kling.models import ImageTask

#: Kling's defaults for a request that leaves them out (the operator's ``model_name`` default too).
DEFAULT_MODEL = "kling-v1"
DEFAULT_RESOLUTION = "1k"
DEFAULT_N = 1

#: STAND-IN units per image, by model and resolution (see the module docstring for where they come from).
PRICE_TABLE: dict[str, dict[str, float]] = {
    "kling-v1": {"1k": 1.0},
    "kling-v1-5": {"1k": 2.0},
    "kling-v2": {"1k": 2.0, "2k": 4.0},
    "kling-v2-new": {"1k": 2.0, "2k": 4.0},
    "kling-v2-1": {"1k": 2.0, "2k": 4.0},
    "kling-v3": {"1k": 2.0, "2k": 4.0},
}
#: Tolerance for comparing sums of decimal units as floats.
_EPSILON = 1e-9


def units_of(value: Any) -> float | None:
    """Kling's ``final_unit_deduction`` (``"2"``, ``"0.5"``, ``2``) as a number, or ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        units = float(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return None
    return units if math.isfinite(units) and units >= 0 else None


def format_units(units: float | None) -> str:
    """``2``, ``0.5``, or ``unknown``: for logs, manifests and messages."""
    return "unknown" if units is None else f"{units:g}"


def describe_deduction(task: ImageTask) -> str:
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


def total_units(results: Iterable[Mapping[str, Any]]) -> float:
    """The units of a run: the sum of ``final_unit_deduction`` over the operator results (XCom dicts)."""
    return math.fsum(units_of(result.get("final_unit_deduction")) or 0.0 for result in results)


@dataclass(frozen=True)
class Estimate:
    """What a request is expected to deduct, and where the figure per image came from."""

    units: float
    per_image: float
    source: str  # "learned", "price table" or "fallback"


@dataclass
class UnitEstimator:
    """
    Units a request will deduct: learned from finished tasks, else the price table, else a fallback.

    :param price_table: units per image by model and resolution (default :data:`PRICE_TABLE`).
    :param fallback_per_image: for a model or resolution the table lacks; ``None`` makes such a
        request a :class:`ValueError` (an unknown cost cannot be budgeted).
    """

    price_table: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: PRICE_TABLE)
    fallback_per_image: float | None = None
    #: "model/resolution" -> highest units per image seen in a finished task
    learned: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def _key(model_name: str | None, resolution: str | None) -> str:
        return f"{model_name or DEFAULT_MODEL}/{resolution or DEFAULT_RESOLUTION}"

    def learn(self, model_name: str | None, resolution: str | None, n: int, units: float | None) -> None:
        """Record what a succeeded task of ``n`` images deducted (failed tasks deduct 0: do not pass them)."""
        if units is None or n < 1 or units <= 0:
            return
        key = self._key(model_name, resolution)
        self.learned[key] = max(self.learned.get(key, 0.0), units / n)

    def estimate(self, model_name: str | None, resolution: str | None, n: int | None = DEFAULT_N) -> Estimate:
        """The units a request of ``n`` images of this model and resolution should deduct."""
        count = DEFAULT_N if n is None else n
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"n must be a whole number of images >= 1 (got {n!r})")
        model, resolution = model_name or DEFAULT_MODEL, resolution or DEFAULT_RESOLUTION
        learned = self.learned.get(self._key(model, resolution))
        if learned is not None:
            per_image, source = learned, "learned"
        elif (table := self.price_table.get(model, {}).get(resolution)) is not None:
            per_image, source = float(table), "price table"
        elif self.fallback_per_image is not None:
            per_image, source = float(self.fallback_per_image), "fallback"
        else:
            raise ValueError(
                f"no unit price for model_name={model!r} resolution={resolution!r}: add it to price_table "
                "or set fallback_per_image"
            )
        return Estimate(units=per_image * count, per_image=per_image, source=source)

    def estimate_request(self, fields: Mapping[str, Any]) -> Estimate:
        """:meth:`estimate` from a request's fields (operator arguments or Kling's JSON body)."""
        return self.estimate(fields.get("model_name"), fields.get("resolution"), fields.get("n", DEFAULT_N))

    def to_json(self) -> dict[str, Any]:
        return {"fallback_per_image": self.fallback_per_image, "learned": dict(self.learned)}

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], price_table: Mapping[str, Mapping[str, float]] | None = None
    ) -> UnitEstimator:
        return cls(
            price_table=price_table if price_table is not None else PRICE_TABLE,
            fallback_per_image=data.get("fallback_per_image"),
            learned={str(k): float(v) for k, v in (data.get("learned") or {}).items()},
        )


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
        amount = units.units if isinstance(units, Estimate) else float(units)
        committed = self.committed_units
        if key in self.in_flight or key in self.deducted:
            return BudgetDecision(True, f"{key} is already counted", amount, committed, self.limit)
        figures = (
            f"{format_units(self.deducted_units)} deducted + {format_units(self.in_flight_units)} in flight "
            f"+ {format_units(amount)} estimated for this item"
        )
        if self.limit is None:
            return BudgetDecision(True, f"no budget: {figures}", amount, committed, None)
        if committed + amount <= self.limit + _EPSILON:
            return BudgetDecision(
                True, f"within budget: {figures} <= {format_units(self.limit)}", amount, committed, self.limit
            )
        return BudgetDecision(
            False,
            f"over budget: {figures} > {format_units(self.limit)} units",
            amount,
            committed,
            self.limit,
        )

    def reserve(self, key: str, units: float | Estimate) -> None:
        """Item ``key`` is being created: count its estimate as in flight."""
        if key not in self.deducted:
            self.in_flight[key] = units.units if isinstance(units, Estimate) else float(units)

    def settle(self, key: str, units: float | None) -> None:
        """Item ``key`` ended and Kling deducted ``units`` (``None``: unknown, keep the estimate)."""
        estimate = self.in_flight.pop(key, 0.0)
        self.deducted[key] = estimate if units is None else units

    def release(self, key: str) -> None:
        """Item ``key`` was never created (its create provably did not reach Kling): nothing to count."""
        self.in_flight.pop(key, None)

    def to_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "deducted": dict(self.deducted), "in_flight": dict(self.in_flight)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Budget:
        return cls(
            limit=data.get("limit"),
            deducted={str(k): float(v) for k, v in (data.get("deducted") or {}).items()},
            in_flight={str(k): float(v) for k, v in (data.get("in_flight") or {}).items()},
        )


@dataclass(frozen=True)
class BudgetPlan:
    """:func:`plan_within_budget`'s answer: the requests to map over, and those left out with why."""

    admitted: list[dict[str, Any]]
    not_generated: list[dict[str, Any]]
    estimated_units: float
    limit: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "admitted": self.admitted,
            "not_generated": self.not_generated,
            "estimated_units": self.estimated_units,
            "limit": self.limit,
        }


def plan_within_budget(
    requests: Iterable[Mapping[str, Any]],
    limit: float | None,
    *,
    estimator: UnitEstimator | None = None,
    spent: float = 0.0,
) -> BudgetPlan:
    """
    Which of a run's requests fit a unit budget, decided once before mapped tasks fan out.

    :param requests: operator arguments per mapped task (``model_name``, ``resolution``, ``n`` are
        read; Kling's defaults fill what is missing).
    :param limit: units the run may spend (``None``: every request is admitted, the estimate is still given).
    :param spent: units already spent against this limit (an earlier part of the run).
    :return: the requests that fit, in order, and the others (each with ``reason`` and ``estimated_units``).
    """
    estimator = estimator or UnitEstimator()
    budget = Budget(limit)
    if spent:
        budget.settle("spent before this plan", spent)
    admitted: list[dict[str, Any]] = []
    not_generated: list[dict[str, Any]] = []
    for position, request in enumerate(requests):
        estimate = estimator.estimate_request(request)
        decision = budget.decide(f"request {position}", estimate)
        if decision.allowed:
            budget.reserve(f"request {position}", estimate)
            admitted.append(dict(request))
        else:
            not_generated.append(
                {"request": dict(request), "estimated_units": estimate.units, "reason": decision.reason}
            )
    return BudgetPlan(admitted, not_generated, budget.in_flight_units, limit)
