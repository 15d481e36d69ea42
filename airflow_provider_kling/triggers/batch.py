"""KlingBatchTrigger: a whole batch in the triggerer: admission of the next items and their polls.

Why a trigger may send creates here (the style guide warns against a POST inside a trigger): a
triggerer that restarts runs ``run()`` again from the serialized arguments, which hold only the
items' requests and external task ids. Every create carries its item's external task id, so the
restarted trigger first lists the account's tasks and resumes the items it finds; an item it
misses and creates again is refused by Kling as a duplicate and the hook returns the existing
task. Nothing is paid twice, and no credential is serialized.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kling.batch.admission import (
    DEFAULT_BATCH_POLL_INTERVAL,
    DEFAULT_BATCH_TIMEOUT,
    DEFAULT_PROGRESS_INTERVAL,
)
from airflow_provider_kling.batch.manifest import read_lines, write_lines
from airflow_provider_kling.batch.runner import BatchRunner
from airflow_provider_kling.defaults import DEFAULT_CONN_ID
from airflow_provider_kling.errors import KlingError
from airflow_provider_kling.hooks.core import Clock
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.lifecycle.policy import (
    DEFAULT_MAX_REGENERATIONS,
    DEFAULT_ON_CONTENT_POLICY,
    FailurePolicy,
)
from airflow_provider_kling.models.requests import request_class
from airflow_provider_kling.storage import to_storage_path

#: The arguments a trigger is rebuilt from, besides ``on_content_policy`` (no credential among them).
_SERIALIZED = (
    "items",
    "output_conn_id",
    "kling_conn_id",
    "slots",
    "poll_interval",
    "deadline",
    "max_regenerations",
    "progress_every",
    "max_units",
    "price_table",
    "request_kind",
)


class KlingBatchTrigger(BaseTrigger):
    """
    Run a batch of requests of one kind at a slot budget; yield one event with every item's outcome.

    :param items: Each item's ``key`` and its validated ``request`` fields (with its external task id),
        or the URI of a JSON-lines file of them (what the operator stages: read as a stream, and
        the outcomes are written beside it, ``..._outcomes.jsonl``, the event naming that file).
    :param output_conn_id: The connection of the store ``items`` is in, when it is a URI.
    :param kling_conn_id: The ``kling`` connection.
    :param slots: The slot budget (Kling slots, weighted by ``n``).
    :param poll_interval: Seconds between polls of one running item.
    :param deadline: Absolute deadline, Unix seconds.
    :param max_regenerations: New generations allowed for an item whose earlier task failed.
    :param on_content_policy: The failure policy's ``on_content_policy`` (the batch's own): a
        refused item is never generated again, and ends ``refused``.
    :param progress_every: Seconds between progress lines.
    :param max_units: The most units the batch may spend (its items' estimates decide), or None.
    :param price_table: Your unit prices for the estimates (see :mod:`airflow_provider_kling.estimates`).
    :param request_kind: The items' request kind (``models.requests.REQUEST_KINDS``).
    """

    def __init__(
        self,
        items: list[dict[str, Any]] | str,
        kling_conn_id: str = DEFAULT_CONN_ID,
        slots: int = 1,
        poll_interval: float = DEFAULT_BATCH_POLL_INTERVAL,
        deadline: float | None = None,
        max_regenerations: int = DEFAULT_MAX_REGENERATIONS,
        progress_every: float = DEFAULT_PROGRESS_INTERVAL,
        max_units: float | None = None,
        price_table: dict[str, Any] | None = None,
        request_kind: str = RequestKind.GENERATIONS.value,
        on_content_policy: str = DEFAULT_ON_CONTENT_POLICY,
        output_conn_id: str | None = None,
    ) -> None:
        super().__init__()
        self.items = items
        self.output_conn_id = output_conn_id
        self.kling_conn_id = kling_conn_id
        self.slots = int(slots)
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else time.time() + DEFAULT_BATCH_TIMEOUT
        self.max_regenerations = int(max_regenerations)
        self.progress_every = float(progress_every)
        self.max_units = None if max_units is None else float(max_units)
        self.price_table = price_table
        #: Where the batch reads time and sleeps (not serialized; tests set a fake one).
        self.clock = Clock()
        self.request_kind = request_kind
        self.policy = FailurePolicy(on_content_policy, int(max_regenerations))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        arguments = {name: getattr(self, name) for name in _SERIALIZED}
        arguments["on_content_policy"] = self.policy.on_content_policy
        return f"{type(self).__module__}.{type(self).__qualname__}", arguments

    def _source(self) -> Any:
        """The items' ``(key, request)``, read again on each call (from the staged file, if any)."""
        build = request_class(self.request_kind).build
        if isinstance(self.items, str):
            uri, conn_id = self.items, self.output_conn_id
            return lambda: ((row["key"], build(**row["request"])) for row in read_lines(uri, conn_id))
        return lambda: ((item["key"], build(**item["request"])) for item in self.items)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = KlingHook(self.kling_conn_id, clock=self.clock)
        runner = await asyncio.to_thread(  # a staged file is read through once: off the event loop
            BatchRunner.of,
            hook,
            self._source(),
            slots=self.slots,
            poll_interval=self.poll_interval,
            deadline=self.deadline,
            policy=self.policy,
            log=self.log,
            max_units=self.max_units,
            price_table=self.price_table,
            progress_every=self.progress_every,
        )
        admission = runner.admission
        try:
            await hook.aget_settings()  # read once, async-safe; the hook's calls reuse it
            await runner.run()  # on the loop's shared client: no thread, no requests session
        except KlingError as exc:
            event = self._event(admission, "error", str(exc), retryable=exc.airflow_retryable)
        else:
            event = self._event(admission, "done", admission.progress_line(self.clock.time()))
        if isinstance(self.items, str):  # the outcomes beside the staged items, the event naming them
            path = to_storage_path(self.items.replace("_items.jsonl", "_outcomes.jsonl"), self.output_conn_id)
            rows = (item.to_json() for item in admission.items)
            event["items"] = await asyncio.to_thread(write_lines, path, rows)
        yield TriggerEvent(event)

    def _event(self, admission: Any, status: str, message: str, **extra: Any) -> dict[str, Any]:
        return {
            "status": status,
            "message": message,
            "rate_limited": admission.budget.rate_limited,
            "creates_sent": admission.creates_sent,
            "fatal": admission.fatal,
            "items": [] if isinstance(self.items, str) else [item.to_json() for item in admission.items],
            **extra,
        }
