"""
Spend reconciliation: what Kling's billing export charged each of a run's tasks, against what the
run recorded (operator results in XCom, batch manifests, asset events), task by task.

No I/O and no Airflow. Amounts are summed as decimals, so a difference is exact (``0.1 + 0.2``
charged against ``0.3`` recorded is 0). A task the export does not list yet is ``not billed``
(Kling's figures are not real-time); a charge is ``charged - recorded`` (positive: Kling took more).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_kling.models.account import BillingDeduction
from airflow_provider_kling.spend import exact_units

#: Where a recorded figure came from (a task's row names each source that recorded it).
XCOM, MANIFEST = "xcom", "manifest"
MATCHES, DIFFERS, NOT_BILLED = "matches", "differs", "not billed"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class RecordedSpend:
    """What a run recorded per Kling task id: units by source, the list price, what it bought."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.asset_events: list[dict[str, Any]] = []

    def _task(self, task_id: Any, external_task_id: Any = None) -> dict[str, Any]:
        row = self.tasks.setdefault(str(task_id), {"task_id": str(task_id), "recorded_units": {}})
        if external_task_id and not row.get("external_task_id"):
            row["external_task_id"] = str(external_task_id)
        return row

    def add_results(self, results: Iterable[Mapping[str, Any]]) -> RecordedSpend:
        """Operator results (XCom): ``task_id``, ``final_unit_deduction``, ``final_balance_deduction``."""
        for result in results:
            if not isinstance(result, Mapping) or not result.get("task_id"):
                continue
            row = self._task(result["task_id"], result.get("external_task_id"))
            row["recorded_units"][XCOM] = exact_units(result.get("final_unit_deduction"))
            balance = result.get("final_balance_deduction") or {}
            row.setdefault("recorded_list_price", exact_units(balance.get("list_price")))
        return self

    def add_manifest(self, manifest: Mapping[str, Any]) -> RecordedSpend:
        """A batch manifest's items that reached Kling: ``kling_task_id``, ``units``, ``priced_as``."""
        for item in manifest.get("items") or ():
            if not isinstance(item, Mapping) or not item.get("kling_task_id"):
                continue
            row = self._task(item["kling_task_id"], item.get("external_task_id"))
            row["recorded_units"][MANIFEST] = exact_units(item.get("units"))
            if isinstance(item.get("priced_as"), Mapping):
                row["priced_as"] = dict(item["priced_as"])
            balance = item.get("balance") or {}
            row.setdefault("recorded_list_price", exact_units(balance.get("list_price")))
        return self

    def add_asset_events(self, extras: Iterable[Mapping[str, Any]]) -> RecordedSpend:
        """Asset events' ``extra`` (``kling_task_ids``, ``units``): checked as totals per event."""
        for extra in extras:
            ids = [str(task_id) for task_id in (extra.get("kling_task_ids") or ())]
            if ids:
                self.asset_events.append(
                    {"kling_task_ids": ids, "recorded_units": exact_units(extra.get("units"))}
                )
        return self


def _charges(deductions: Iterable[BillingDeduction], cash: bool) -> dict[str, tuple[Decimal, str | None]]:
    """Each task's charge summed over its deductions (units, or cash with its currency)."""
    charged: dict[str, tuple[Decimal, str | None]] = {}
    for deduction in deductions:
        if deduction.task_id is None:
            continue
        amount = deduction.deduction_amount
        if amount is None and cash and deduction.balance_before_deduction is not None:
            amount = deduction.balance_before_deduction - (deduction.balance_after_deduction or Decimal(0))
        total, currency = charged.get(deduction.task_id, (Decimal(0), None))
        charged[deduction.task_id] = (total + (amount or Decimal(0)), currency or deduction.currency)
    return charged


def reconcile_spend(
    recorded: RecordedSpend,
    package: Iterable[BillingDeduction],
    balance: Iterable[BillingDeduction] = (),
) -> dict[str, Any]:
    """
    The report (JSON): one row per recorded task with ``recorded_units`` (by source),
    ``charged_units`` (the package export), ``difference_units`` (charged minus the first recorded
    source: XCom, else the manifest), ``status`` (``matches``, ``differs``, ``not billed``), and the
    cash the balance export took; each asset event's total against its tasks' charges; the totals.
    """
    units, cash = _charges(package, cash=False), _charges(balance, cash=True)
    rows, total_recorded, total_charged = [], Decimal(0), Decimal(0)
    for task_id, row in recorded.tasks.items():
        sources = row["recorded_units"]
        first = next((sources[s] for s in (XCOM, MANIFEST) if sources.get(s) is not None), None)
        charged = units.get(task_id, (None, None))[0]
        paid, currency = cash.get(task_id, (None, None))
        differences = {s: charged - v for s, v in sources.items() if v is not None and charged is not None}
        status = NOT_BILLED if charged is None else DIFFERS if any(differences.values()) else MATCHES
        total_recorded += first or 0
        total_charged += charged or 0
        rows.append(
            {
                "task_id": task_id,
                "external_task_id": row.get("external_task_id"),
                "status": status,
                "recorded_units": {s: _number(v) for s, v in sources.items()},
                "charged_units": _number(charged),
                "difference_units": _number(None if charged is None or first is None else charged - first),
                "differences_by_source": {s: _number(d) for s, d in differences.items()},
                "charged_cash": _number(paid),
                "currency": currency,
                "recorded_list_price": _number(row.get("recorded_list_price")),
                "priced_as": row.get("priced_as"),
            }
        )
    events = []
    for event in recorded.asset_events:
        charged_ids = [units[t][0] for t in event["kling_task_ids"] if t in units]
        charged_total = (
            sum(charged_ids, Decimal(0)) if len(charged_ids) == len(event["kling_task_ids"]) else None
        )
        noted = event["recorded_units"]
        events.append(
            {
                **event,
                "recorded_units": _number(noted),
                "charged_units": _number(charged_total),
                "difference_units": _number(
                    None if charged_total is None or noted is None else charged_total - noted
                ),
            }
        )
    return {
        "tasks": rows,
        "asset_events": events,
        "recorded_units": _number(total_recorded),
        "charged_units": _number(total_charged),
        "difference_units": _number(total_charged - total_recorded),
        "counts": {s: sum(1 for r in rows if r["status"] == s) for s in (MATCHES, DIFFERS, NOT_BILLED)},
    }


def describe_report(report: Mapping[str, Any]) -> str:
    """One line for the log: ``3 tasks: 2 match, 1 differs (+1.5 units), 0 not billed yet``."""
    counts = report["counts"]
    return (
        f"{len(report['tasks'])} task(s): {counts[MATCHES]} match, {counts[DIFFERS]} differ "
        f"({report['difference_units']:+g} units charged beyond what was recorded), "
        f"{counts[NOT_BILLED]} not billed yet"
    )
