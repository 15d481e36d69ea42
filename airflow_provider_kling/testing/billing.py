"""The billing export, as the simulator's own: ``POST /account/billing/package`` (units taken from
resource packs) and ``POST /account/billing/balance`` (cash), paged by cursor.

Written from Kling's ``assets-package``/``assets-balance`` pages, never imported from the client.
Each succeeded task of the caller's account that ended inside ``[start_time, end_time]`` (ms) is one
``detail`` entry, oldest first. The package ledger bills ``charge_factor`` (a setting, default 1)
times the units the task's own record shows, so a test can make Kling's bill differ from the
stand-in prices; the balance ledger bills the task's list price (units x 0.14 USD) likewise.
Filters AND their keys and OR their values (the page's reading; the changelog says the reverse,
UNCONFIRMED); ``package_name``/``package_id`` exclude each other; the balance ledger takes only
``api_key_name``. A non-empty ``cursor`` stands for its whole query. Not rate limited here.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from airflow_provider_kling.testing.accounts import key_fingerprint
from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.tasks import UNIT_LIST_PRICE

MAX_LIMIT = 500
FILTER_KEYS = {
    "package": ("api_key_name", "product_type", "package_name", "package_id"),
    "balance": ("api_key_name",),
}
PRODUCT_TYPES = {"image": "image", "video": "video", "try_on": "try-on"}
#: STAND-IN: the cash balance the balance ledger counts down from.
STARTING_BALANCE = Decimal(1000)


def api_key_name(owner: str) -> str:
    """How the export names a key (never the key itself)."""
    return f"key-{key_fingerprint(owner)}"


def _bad(rule: str) -> ApiError:
    return ApiError.of(1201, f"Invalid billing query: {rule}")


def _query(body: Any, ledger: str) -> dict[str, Any]:
    """The query a body asks (a cursor's own query when it has one), checked as Kling checks it."""
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    cursor = body.get("cursor")
    if cursor:
        try:
            query = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
            assert isinstance(query, dict) and query["ledger"] == ledger
        except Exception:
            raise _bad(f"cursor: not a cursor of this ledger (got {cursor!r})") from None
        return query
    times = [body.get(name) for name in ("start_time", "end_time")]
    if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in times):
        raise _bad("start_time and end_time (Unix ms) are required without a cursor")
    if times[0] > times[1]:  # type: ignore[operator]
        raise _bad("start_time must not be after end_time")
    limit = body.get("limit", MAX_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise _bad(f"limit must be an integer from 1 to {MAX_LIMIT} (got {limit!r})")
    filters: dict[str, list[str]] = {}
    for item in body.get("filters") or ():
        key, values = (item.get("key"), item.get("values")) if isinstance(item, dict) else (None, None)
        if key not in FILTER_KEYS[ledger]:
            raise _bad(f"filters: key must be one of {', '.join(FILTER_KEYS[ledger])} (got {key!r})")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _bad(f"filters: values of {key} must be a non-empty list of strings")
        filters[key] = values
    if {"package_name", "package_id"} <= set(filters):
        raise _bad("filters: package_name and package_id exclude each other")
    return {
        "ledger": ledger,
        "start": times[0],
        "end": times[1],
        "limit": limit,
        "filters": filters,
        "offset": 0,
    }


def deductions(
    state: SimulatorState, owner: str, ledger: str, start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Every deduction of the caller's account in the window, oldest first."""
    now, factor = time.time(), Decimal(str(state.settings.charge_factor))
    account = state.account_of(owner)
    pack = next(iter(state.resource_packs(account)), {})
    ended = [
        task
        for task in state.account_tasks(owner)
        if task.succeeded_by(now) and task.ends_at is not None and start_ms <= task.ends_at * 1000 <= end_ms
    ]
    ended.sort(key=lambda task: (task.ends_at, task.task_id))
    left = Decimal(str(pack.get("total_quantity", 0))) if ledger == "package" else STARTING_BALANCE
    rows = []
    for task in ended:
        request = task.request
        units = Decimal(str(request.units)) * factor
        amount = units if ledger == "package" else units * Decimal(str(UNIT_LIST_PRICE))
        seconds = getattr(request, "seconds", None)
        row: dict[str, Any] = {
            "task_id": task.task_id,
            "api_key_name": api_key_name(task.owner),
            "product_type": PRODUCT_TYPES.get(request.product_type, request.product_type),
            "product_function": request.endpoint,
            "model_name": request.model_name,
            "resolution": getattr(request, "resolution", None),
            "duration": str(int(seconds * 1000)) if seconds else "0",
            "deduction_time": str(int(task.ends_at * 1000)),  # type: ignore[operator]
            "deduction_amount": float(amount),
        }
        if ledger == "package":
            row |= {
                "package_id": pack.get("resource_pack_id"),
                "package_name": pack.get("resource_pack_name"),
            }
            row |= {"unit_before_deduction": float(left), "unit_after_deduction": float(left - amount)}
        else:
            row |= {"cash_type": "balance", "currency": "USD", "list_price": float(amount)}
            row |= {"balance_before_deduction": float(left), "balance_after_deduction": float(left - amount)}
        left -= amount
        rows.append(row)
    return rows


def _matches(row: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    return all(str(row.get(key)) in values for key, values in filters.items())


def routes(prefix: str, api_call: Callable[..., Any]) -> list[Route]:
    """The two ledgers' routes under ``prefix``, through the app's ``api_call`` (auth, faults, envelope)."""

    def ledger_route(ledger: str) -> Route:
        async def handler(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
            try:
                body = await request.json()
            except ValueError:
                body = None
            query = _query(body, ledger)
            rows = [
                row
                for row in deductions(state, owner, ledger, query["start"], query["end"])
                if _matches(row, query["filters"])
            ]
            offset, limit = query["offset"], query["limit"]
            more = offset + limit < len(rows)
            cursor = json.dumps({**query, "offset": offset + limit}).encode()
            return {
                "result": {"detail": rows[offset : offset + limit], "count": len(rows)},
                "next_cursor": base64.urlsafe_b64encode(cursor).decode() if more else "",
                "has_more": more,
            }

        async def endpoint(request: Request) -> Any:
            return await api_call(request, "billing", handler)

        return Route(f"{prefix}/account/billing/{ledger}", endpoint, methods=["POST"])

    return [ledger_route("package"), ledger_route("balance")]
