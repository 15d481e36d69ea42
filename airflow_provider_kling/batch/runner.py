"""The loop that runs a batch: the HTTP calls :class:`~.admission.BatchAdmission` asks for.

One loop serves both modes: the operator runs it on the worker (``asyncio.run``), the trigger
runs it in the triggerer's event loop. Every call goes through one :class:`KlingHook` and so one
HTTP session for the whole batch, in a small thread pool of its own: the hook's create (with its
idempotency and reconciliation by external task id) and its retry policy are used as they are,
and nothing blocks the event loop.

Before creating anything, the loop lists the account's recent tasks once and resumes every item
an earlier try (or a triggerer that was restarted) already created, found by external task id;
a create of an item that exists anyway is refused by Kling as a duplicate and the hook finds the
task instead. So a create is never paid twice, however often the loop starts again.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.batch.admission import (
    DEFAULT_PROGRESS_INTERVAL,
    PENDING,
    BatchAdmission,
    ItemProgress,
    is_batch_fatal,
)
from airflow_provider_kling.errors import KlingError
from airflow_provider_kling.idempotency import generation_external_task_id, with_external_task_id
from airflow_provider_kling.lifecycle import FailurePolicy, decide, newest_generation

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models.requests import KlingTaskRequest

#: The clock (Unix seconds) of the loop; tests may replace it.
_now: Callable[[], float] = time.time
#: Page size of the listing that finds an earlier try's tasks (Kling's maximum).
LIST_PAGE_SIZE = 500
#: HTTP calls in flight at once (each on a thread of the batch's own pool).
MAX_WORKERS = 8


class BatchRunner:
    """
    Run ``admission`` to its end with ``hook``: reconcile, then create and poll until every item
    has ended or ``deadline`` (Unix seconds) passes.

    :param requests: Each item's validated request, carrying its generation-1 external task id.
    :param max_regenerations: New generations allowed for an item whose earlier Kling task failed
        (not refused); found at the start of a run, never within one.
    :param progress_every: Seconds between "k of N done, m running, ETA" lines.
    """

    def __init__(
        self,
        hook: KlingHook,
        admission: BatchAdmission,
        requests: Mapping[str, KlingTaskRequest],
        *,
        deadline: float,
        max_regenerations: int,
        log: Any,
        progress_every: float = DEFAULT_PROGRESS_INTERVAL,
    ) -> None:
        self.hook, self.admission, self.requests = hook, admission, requests
        #: The endpoint of every item (one request kind per batch): its lists, polls and creates.
        self.endpoint: str = type(next(iter(requests.values()))).path if requests else ""
        self.deadline, self.max_regenerations = deadline, max_regenerations
        self.log, self.progress_every = log, progress_every
        self.polls = 0
        self.lists = 0

    async def run(self) -> BatchAdmission:
        workers = min(MAX_WORKERS, max(2, self.admission.budget.slots + 1))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kling-batch")
        loop = asyncio.get_running_loop()

        async def call(function: Callable[..., Any], *args: Any) -> Any:
            return await loop.run_in_executor(pool, lambda: function(*args))

        try:
            await self._reconcile(call)
            await self._loop(call)
        finally:
            # Cancelled (a triggerer going away): never block the event loop on calls in flight.
            pool.shutdown(wait=False, cancel_futures=True)
        return self.admission

    # -- an earlier try's tasks -------------------------------------------------------------------

    async def _reconcile(self, call: Callable[..., Any]) -> None:
        """Resume items an earlier try created, found in the account's task list by external id:
        each item's newest generation there, then the lifecycle's :func:`decide`."""
        waiting = {i.external_task_id: i for i in self.admission.items if i.status == PENDING}
        if not waiting:
            return
        known: dict[str, dict[str, Any]] = {}
        pages = min(10, math.ceil(len(waiting) * (self.max_regenerations + 1) / LIST_PAGE_SIZE) + 1)
        list_page = functools.partial(self.hook.list_image_tasks, endpoint=self.endpoint)
        try:
            for page in range(1, pages + 1):
                listed = await call(list_page, page, LIST_PAGE_SIZE)
                self.lists += 1
                for task in listed:
                    if task.external_task_id:
                        known[task.external_task_id] = task.model_dump(mode="json")
                if len(listed) < LIST_PAGE_SIZE:
                    break
        except KlingError as exc:
            if is_batch_fatal(exc):
                self.admission.stop(exc, _now())
                return
            self.log.warning(
                "Could not list Kling's tasks to resume an earlier try's items (%s); creating them "
                "anyway (a create of an item that exists is found by its external task id)",
                exc,
            )
        now = _now()
        policy = FailurePolicy(max_regenerations=self.max_regenerations)
        found = 0
        for base, item in waiting.items():
            newest, generation = newest_generation(base, known)
            if newest is None:
                continue
            found += 1
            decision = decide(base, newest, generation, policy)
            if decision.action == "create":  # the newest failed, and the policy allows another
                item.generation = decision.generation
                self.log.warning(
                    "Batch item %r: Kling task %s (generation %d) of an earlier try failed (%s); "
                    "creating generation %d of at most %d",
                    item.key,
                    newest.get("task_id"),
                    generation,
                    newest.get("task_status_msg"),
                    item.generation,
                    self.max_regenerations + 1,
                )
                continue
            self.admission.resumed(item, newest, generation, now)  # running, succeeded or ended
        if found:
            self.log.info("Resumed %d of %d items from an earlier try", found, len(self.admission.items))

    # -- the loop ---------------------------------------------------------------------------------

    async def _loop(self, call: Callable[..., Any]) -> None:
        admission = self.admission
        in_flight: dict[asyncio.Future[Any], tuple[str, ItemProgress]] = {}
        last_progress = _now()
        self.log.info("Batch: %s", admission.progress_line(last_progress))
        while not admission.done() or in_flight:
            now = _now()
            if now >= self.deadline:
                if in_flight:  # let the calls in flight answer: a create's task id must be kept
                    await self._collect(in_flight, timeout=None)
                    continue
                admission.expire(now)
                break
            for item in admission.admit(now):
                in_flight[asyncio.ensure_future(call(self._create, item))] = ("create", item)
            for item in admission.due_polls(now):
                self.polls += 1
                in_flight[asyncio.ensure_future(call(self._poll, item.kling_task_id))] = (
                    "poll",
                    item,
                )
            if now - last_progress >= self.progress_every:
                last_progress = now
                self.log.info("Batch: %s", admission.progress_line(now))
            wake = min(admission.next_wakeup(now), self.deadline, now + self.progress_every)
            timeout = max(0.0, wake - _now())
            if in_flight:
                await self._collect(in_flight, timeout=timeout)
            elif not admission.done():
                await asyncio.sleep(max(timeout, 0.005))
        self.log.info("Batch: %s", admission.progress_line(_now()))

    async def _collect(
        self, in_flight: dict[asyncio.Future[Any], tuple[str, ItemProgress]], *, timeout: float | None
    ) -> None:
        done, _ = await asyncio.wait(in_flight, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            kind, item = in_flight.pop(future)
            now = _now()
            exc = future.exception()
            if exc is not None and not isinstance(exc, KlingError):
                raise exc
            if kind == "create":
                if isinstance(exc, KlingError):
                    self.admission.create_failed(item, exc, now)
                else:
                    self.admission.created(item, future.result().model_dump(mode="json"), now)
            elif isinstance(exc, KlingError):
                self.admission.poll_failed(item, exc, now)
            else:
                self.admission.polled(item, future.result().model_dump(mode="json"), now)

    def _poll(self, kling_task_id: str) -> Any:
        return self.hook.get_image_task(kling_task_id, endpoint=self.endpoint)

    def _create(self, item: ItemProgress) -> Any:
        request: KlingTaskRequest = self.requests[item.key]
        if item.generation > 1:
            external_id = generation_external_task_id(item.external_task_id, item.generation)
            request = with_external_task_id(request, external_id)
        return self.hook.create_image_task(request, retry_rate_limit=False)
