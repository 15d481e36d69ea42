"""The account side of :class:`~airflow_provider_kling.hooks.kling.KlingHook`: ``GET /account/costs``.

Kling asks for at most one query a second per account, and its figures lag by up to 12 hours.
The hook spaces these queries itself: every hook in this process that reaches the same host with
the same credentials waits until a second has passed since the last one was sent.
"""

from __future__ import annotations

import hashlib
import math
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.times import to_millis

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings
    from airflow_provider_kling.hooks.core import Clock

ACCOUNT_COSTS_PATH = "/account/costs"
#: Kling: "at most one query a second" for the account's costs.
MIN_COSTS_SPACING = 1.0
#: Without ``start_time``: the window reaches this far back from ``end_time`` (a day).
DEFAULT_COSTS_WINDOW = 86_400.0

_spacing_lock = threading.Lock()
#: (base URL, credential fingerprint) -> when the next costs query may be sent (monotonic seconds)
_next_costs_query: dict[tuple[str, str], float] = {}


def _account_key(settings: KlingConnectionSettings) -> tuple[str, str]:
    credential = settings.access_key or settings.api_key or ""
    return settings.base_url, hashlib.sha256(credential.encode()).hexdigest()[:16]


def costs_turn(settings: KlingConnectionSettings, clock: Clock) -> float:
    """Seconds until this account may send its next costs query (its turn is taken)."""
    key = _account_key(settings)
    with _spacing_lock:
        now = clock.monotonic()
        turn = max(now, _next_costs_query.get(key, now))
        _next_costs_query[key] = turn + MIN_COSTS_SPACING
    return turn - now


def time_window(
    start_time: datetime | float | int | None, end_time: datetime | float | int | None, now: float
) -> tuple[int, int]:
    """An account query's window in Kling's Unix milliseconds, checked before any HTTP call:
    ``end_time`` by default ``now`` (Unix seconds), ``start_time`` a day before it."""
    end = to_millis("end_time", end_time)
    end = math.ceil(now * 1000) if end is None else end
    start = to_millis("start_time", start_time)
    start = math.ceil(end - DEFAULT_COSTS_WINDOW * 1000) if start is None else start
    if start > end:
        raise KlingRequestValidationError(f"start_time must not be after end_time (got {start} > {end} ms)")
    return start, end


def costs_query(
    start_time: datetime | float | int | None,
    end_time: datetime | float | int | None,
    resource_pack_name: str | None,
    now: float,
) -> dict[str, Any]:
    """The query parameters (``now`` in Unix seconds), checked before any HTTP call."""
    start, end = time_window(start_time, end_time, now)
    params: dict[str, Any] = {"start_time": start, "end_time": end}
    if resource_pack_name is not None:
        if not isinstance(resource_pack_name, str) or not resource_pack_name.strip():
            raise KlingRequestValidationError(
                f"resource_pack_name must be a non-empty string (got {resource_pack_name!r})"
            )
        params["resource_pack_name"] = resource_pack_name
    return params
