"""Unit estimates for requests of any kind (:class:`UnitEstimator` says where a price comes from).

No I/O here except :func:`learn_from_account`, which only calls the hook it is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_kling.errors import KlingError, KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.requests import REQUEST_KINDS, kind_defaults
from airflow_provider_kling.models.task import KlingTask, TaskStatus
from airflow_provider_kling.spend import Budget, format_units, sum_units, units_of
from airflow_provider_kling.unit_prices import (
    STAND_IN_LABEL,
    Prices,
    Purchase,
    UnitRule,
    check_price_table,
    price_in,
)

#: Every kind's unit rule and stand-in prices, as its request class declares them.
UNIT_RULES: Mapping[str, UnitRule] = {kind: cls.unit_rule for kind, cls in REQUEST_KINDS.items()}
STAND_IN_PRICES: Mapping[str, Prices] = {
    kind: cls.stand_in_prices for kind, cls in REQUEST_KINDS.items() if cls.stand_in_prices
}


#: Where an estimate's price came from, and how messages name it.
LEARNT, PRICE_TABLE_SOURCE, STAND_IN, FALLBACK = "learnt", "price table", "stand-in", "fallback"
SOURCE_LABELS = {
    LEARNT: "prices learnt from this account's finished tasks",
    PRICE_TABLE_SOURCE: "your price table's prices",
    STAND_IN: STAND_IN_LABEL,
    FALLBACK: "the fallback price",
}
#: A learnt rate for a kind whose tasks came without their request (model and tier unknown).
_ANY_OF_KIND = "?"


def request_fields(request: Any) -> tuple[str, dict[str, Any]]:
    """A request's kind and fields (Kling's defaults filled in for a known kind): a request model,
    or a mapping of operator arguments / Kling's body (``kind`` or ``request_kind``; default
    ``generations``)."""
    if isinstance(request, Mapping):
        fields = dict(request)
        kind = str(fields.pop("kind", None) or fields.pop("request_kind", None) or RequestKind.GENERATIONS)
    elif hasattr(request, "model_dump") and getattr(request, "kind", None):
        kind, fields = str(request.kind), request.model_dump(mode="json", exclude_none=True)
        # A video request says what its units depend on, Kling's defaults applied (mode, duration).
        basis = getattr(request, "units_basis", None)
        if isinstance(basis, Mapping):
            fields.update({name: value for name, value in basis.items() if value is not None})
    else:
        raise ValueError(
            f"cannot estimate {type(request).__name__}: pass a request model or a mapping of its fields"
        )
    model = REQUEST_KINDS.get(kind)
    if model is not None:
        if isinstance(request, Mapping):
            # What the fields leave unset is priced as the request will really run (omni-video: pro).
            for name, value in _units_basis(model, fields).items():
                if value is not None:
                    fields.setdefault(name, value)
        fields = {**kind_defaults(kind), **fields}
    return kind, fields


def _units_basis(model: type[Any], fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``units_basis`` a request of ``model`` with ``fields`` has (Kling's defaults applied, as
    its request model applies them); empty for a kind without one. From the validated request, else
    (an estimate may be asked of incomplete fields) from the fields as given, unchecked."""
    if not isinstance(getattr(model, "units_basis", None), property):
        return {}
    try:
        basis = model.build(**fields).units_basis
    except KlingRequestValidationError:
        try:
            basis = model.model_construct(**fields).units_basis
        except (AttributeError, TypeError, ValueError):  # fields too odd to read: Kling's defaults
            return {}
    return basis if isinstance(basis, Mapping) else {}


def purchase_of(request: Any) -> Purchase:
    """What ``request`` buys, by its kind's unit rule (ValueError for a kind without one)."""
    kind, fields = request_fields(request)
    rule = UNIT_RULES.get(kind)
    if rule is None:
        raise ValueError(f"no unit rule for request kind {kind!r}: one of {', '.join(UNIT_RULES)}")
    return rule(kind, fields)


def priced_as(request: Any) -> dict[str, Any] | None:
    """What ``request`` buys, as JSON (a batch manifest row keeps it, so its units teach the price
    of exactly that); None for a kind without a unit rule."""
    try:
        return purchase_of(request).to_json()
    except ValueError:
        return None


@dataclass(frozen=True)
class Estimate:
    """What a request is expected to deduct, and where its price came from (:data:`SOURCE_LABELS`)."""

    units: float
    per_unit: float
    source: str
    purchase: Purchase | None = None

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)


@dataclass
class UnitEstimator:
    """
    Units a request of any kind will deduct, from (in this order) what this account's finished
    tasks deducted (:meth:`learn_request`, :meth:`learn_from_tasks`), your ``price_table``, the
    :data:`STAND_IN_PRICES` (labelled as such in every message), else ``fallback_per_image``.

    :param price_table: your prices: ``{kind: {model: {tier: units per image/second/task}}}``,
        ``"*"`` for any model or tier; e.g. ``{RequestKind.GENERATIONS: {"kling-v3": {"1k": 8, "2k": 8}}}``.
    :param fallback_per_image: for a purchase no table prices (per image, second or task); ``None``
        makes such a request a :class:`ValueError` (an unknown cost cannot be budgeted).

    Learnt prices keep the highest rate seen per price key (so an estimate errs high), and the
    units of each exact quantity seen (``n``, seconds), for prices that are not linear in it.
    """

    price_table: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None
    fallback_per_image: float | None = None
    #: "kind/model/tier" -> units per image/second/task; "kind/model/tier#quantity" -> units
    learned: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.price_table is not None:
            self.price_table = check_price_table(self.price_table)

    def learn_purchase(self, purchase: Purchase, units: float | None) -> None:
        """Record what a succeeded task deducted (failed tasks deduct 0: they teach no price)."""
        if units is None or units <= 0 or purchase.quantity <= 0:
            return
        for key, value in (
            (purchase.key, units / purchase.quantity),
            (f"{purchase.key}#{purchase.quantity:g}", units),
        ):
            self.learned[key] = max(self.learned.get(key, 0.0), value)

    def learn_request(self, request: Any, units: float | None) -> None:
        """Record what the succeeded task of ``request`` (a model or a mapping, any kind) deducted."""
        self.learn_purchase(purchase_of(request), units)

    def learn_from_tasks(
        self,
        tasks: Iterable[KlingTask],
        *,
        kind: str = RequestKind.GENERATIONS,
        requests: Mapping[str, Any] | None = None,
    ) -> int:
        """
        Learn from Kling's tasks of ``kind`` (as the hook reads them); returns how many taught a price.

        A task's request is ``requests[task id]`` or ``requests[external task id]`` when given (the
        price is then learnt by model and tier); otherwise only the kind's rate per image or second
        of video the task made. Only succeeded tasks teach a price.
        """
        learnt, requests = 0, requests or {}
        for task in tasks:
            units = units_of(task.final_unit_deduction)
            if task.task_status is not TaskStatus.SUCCEED or not units:
                continue
            keys = (task.task_id, task.external_task_id)
            request = next((requests[key] for key in keys if key is not None and key in requests), None)
            if request is not None:
                found = dict(request) if isinstance(request, Mapping) else request_fields(request)[1]
                self.learn_request({"kind": kind, **found}, units)
            elif made := _made_by(task):
                key = f"{kind}/{_ANY_OF_KIND}"
                self.learned[key] = max(self.learned.get(key, 0.0), units / made)
            else:
                continue
            learnt += 1
        return learnt

    def learn_from_manifest(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Learn from a batch manifest's items: each succeeded item's units at the price it was
        ``priced_as`` (kind, model, tier, quantity); returns how many taught a price."""
        return sum(self._learn_priced(row, "units") for row in rows if row.get("status") == "succeeded")

    def learn_from_reconciliation(self, report: Mapping[str, Any]) -> int:
        """Learn what Kling's billing export charged each task of a reconciliation report
        (:func:`~airflow_provider_kling.spend_reconcile.reconcile_spend`) whose purchase its manifest
        kept (``priced_as``); returns how many taught a price."""
        return sum(self._learn_priced(row, "charged_units") for row in report.get("tasks") or ())

    def _learn_priced(self, row: Mapping[str, Any], units_key: str) -> bool:
        priced, units = row.get("priced_as"), units_of(row.get(units_key))
        if not isinstance(priced, Mapping) or not units:
            return False
        try:
            purchase = Purchase(**priced)
        except TypeError:
            return False
        self.learn_purchase(purchase, units)
        return True

    def estimate_purchase(self, purchase: Purchase) -> Estimate:
        """The units ``purchase`` should deduct, and from which source."""
        quantity = purchase.quantity
        exact = self.learned.get(f"{purchase.key}#{quantity:g}")
        if exact is not None:
            return Estimate(exact, exact / quantity, LEARNT, purchase)
        for rate, source in (
            (self.learned.get(purchase.key), LEARNT),
            (price_in(self.price_table, purchase) if self.price_table else None, PRICE_TABLE_SOURCE),
            (self.learned.get(f"{purchase.kind}/{_ANY_OF_KIND}"), LEARNT),
            (price_in(STAND_IN_PRICES, purchase), STAND_IN),
            (self.fallback_per_image, FALLBACK),
        ):
            if rate is not None:
                return Estimate(float(rate) * quantity, float(rate), source, purchase)
        raise ValueError(
            f"no unit price for {purchase.describe()} (price key {purchase.key!r}): add it to price_table "
            "or set fallback_per_image"
        )

    def estimate_request(self, request: Any) -> Estimate:
        """:meth:`estimate_purchase` of a request model or a mapping of its fields (any kind)."""
        return self.estimate_purchase(purchase_of(request))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any],
        price_table: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    ) -> UnitEstimator:
        return cls(
            price_table=price_table if price_table is not None else data.get("price_table"),
            fallback_per_image=data.get("fallback_per_image"),
            learned={str(k): float(v) for k, v in (data.get("learned") or {}).items()},
        )


def _made_by(task: KlingTask) -> float:
    """Images, or seconds of video, a finished task made."""
    if task.videos:
        return math.fsum(units_of(video.duration) or 0.0 for video in task.videos)
    return float(len(task.images))


def learn_from_account(
    hook: Any,
    estimator: UnitEstimator | None = None,
    *,
    kinds: Iterable[str] | None = None,
    requests: Mapping[str, Any] | None = None,
    page_size: int = 100,
    log: Any = None,
) -> UnitEstimator:
    """
    Teach ``estimator`` (a new one by default) the account's prices from its recent finished tasks:
    one page (``page_size`` newest) of the hook's task list per kind's endpoint. A kind whose list
    cannot be read (no permission, an endpoint the host lacks) is skipped with a warning.
    """
    estimator = estimator if estimator is not None else UnitEstimator()
    for kind in kinds if kinds is not None else REQUEST_KINDS:
        try:
            tasks = hook.list_tasks(page_num=1, page_size=page_size, endpoint=REQUEST_KINDS[kind].path)
        except KlingError as exc:
            if log is not None:
                log.warning("Could not read the account's %s tasks to learn their prices: %s", kind, exc)
            continue
        learnt = estimator.learn_from_tasks(tasks, kind=kind, requests=requests)
        if log is not None:
            log.info("Learnt %s prices from %d of the account's %d latest tasks", kind, learnt, len(tasks))
    return estimator


@dataclass(frozen=True)
class ItemEstimate:
    """One request of a list: its position, what it buys, its units and their source."""

    index: int
    label: str
    units: float
    source: str


@dataclass(frozen=True)
class SpendEstimate:
    """:func:`estimate_requests`' answer: the total, and each request's share."""

    items: tuple[ItemEstimate, ...]

    @property
    def units(self) -> float:
        return sum_units(item.units for item in self.items) or 0.0

    def units_by_source(self) -> dict[str, float]:
        shares: dict[str, list[float]] = {}
        for item in self.items:
            shares.setdefault(item.source, []).append(item.units)
        return {source: sum_units(values) or 0.0 for source, values in shares.items()}

    def most_expensive(self, count: int = 10) -> list[ItemEstimate]:
        return sorted(self.items, key=lambda item: (-item.units, item.index))[:count]

    def describe(self) -> str:
        """``about 120 units for 40 requests (100 at ..., 20 at stand-in prices, not your account's)``."""
        shares = ", ".join(
            f"{format_units(units)} at {SOURCE_LABELS.get(source, source)}"
            for source, units in self.units_by_source().items()
        )
        count = len(self.items)
        return f"about {format_units(self.units)} units for {count} request{'' if count == 1 else 's'}" + (
            f" ({shares})" if shares else ""
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "by_source": self.units_by_source(),
            "description": self.describe(),
            "most_expensive": [vars(item) for item in self.most_expensive()],
        }


def estimate_requests(requests: Iterable[Any], estimator: UnitEstimator | None = None) -> SpendEstimate:
    """The units a list of requests (any kinds, models or mappings) should deduct, item by item."""
    estimator = estimator if estimator is not None else UnitEstimator()
    items = []
    for index, request in enumerate(requests):
        estimate = estimator.estimate_request(request)
        label = estimate.purchase.describe() if estimate.purchase else f"request {index}"
        prompt = request.get("prompt") if isinstance(request, Mapping) else getattr(request, "prompt", None)
        if prompt:
            label += f": {prompt[:60]}{'...' if len(prompt) > 60 else ''}"
        items.append(ItemEstimate(index, label, estimate.units, estimate.source))
    return SpendEstimate(tuple(items))


@dataclass(frozen=True)
class BudgetPlan:
    """:func:`plan_within_budget`'s answer: the requests to map over, and those left out with why."""

    admitted: list[dict[str, Any]]
    not_generated: list[dict[str, Any]]
    estimated_units: float
    limit: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
