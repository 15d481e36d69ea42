"""The loop that runs a batch: the HTTP calls :class:`~.admission.BatchAdmission` asks for.

One loop for the worker (``asyncio.run``) and the trigger, on the hook's async calls and clock.
Before creating anything it lists the account's recent tasks and resumes every item an earlier
try created (found by external task id), so a create is never paid twice however often it starts.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.batch.admission import (
    DEFAULT_PROGRESS_INTERVAL,
    FINAL,
    PENDING,
    RUNNING,
    BatchAdmission,
    ItemProgress,
    QuietLog,
    is_batch_fatal,
)
from airflow_provider_kling.batch.items import slots_of
from airflow_provider_kling.defaults import MAX_PAGE_SIZE
from airflow_provider_kling.errors import KlingError, KlingNotFoundError
from airflow_provider_kling.hooks.task_queries import tasks_support
from airflow_provider_kling.hooks.wire import MODEL_PATH, Route
from airflow_provider_kling.idempotency import generation_external_task_id, with_external_task_id
from airflow_provider_kling.lifecycle.policy import FailurePolicy
from airflow_provider_kling.lifecycle.reconcile import decide, newest_generation
from airflow_provider_kling.models.task_query import MAX_LIMIT, MAX_TASK_IDS, TASKS_PATH, TaskSearch

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models.requests import KlingTaskRequest

#: Page size of the listing that finds an earlier try's tasks (Kling's maximum).
LIST_PAGE_SIZE = MAX_PAGE_SIZE
#: The items of a batch, read again from their source whenever asked: ``(key, request)`` in order.
Source = Callable[[], Iterable[tuple[str, "KlingTaskRequest"]]]


class ItemRequests(Mapping[str, "KlingTaskRequest"]):
    """
    Each item's request by key, read from the batch's ``source`` as the admission reaches it (in
    order; an item read past on the way is kept until asked) and forgotten once the item has ended:
    a batch holds the requests of its running and next items, not all of them.
    """

    def __init__(self, source: Source, progress: Mapping[str, ItemProgress]) -> None:
        self._source, self._progress = source, progress
        self._rows: Iterator[tuple[str, KlingTaskRequest]] | None = None
        self._kept: dict[str, KlingTaskRequest] = {}

    def __getitem__(self, key: str) -> KlingTaskRequest:
        if key in self._kept:
            return self._kept[key]
        if key not in self._progress:
            raise KeyError(key)
        for restarted in (False, True):  # an item forgotten and asked for again: read from the start
            if self._rows is None or restarted:
                self._rows = iter(self._source())
            for read, request in self._rows:
                if read == key:
                    self._kept[key] = request
                    return request
                item = self._progress.get(read)
                if item is not None and item.status not in FINAL:
                    self._kept[read] = request
        raise KeyError(key)

    def forget(self, key: str) -> None:
        self._kept.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._progress)

    def __len__(self) -> int:
        return len(self._progress)


class BatchRunner:
    """
    Run ``admission`` to its end with ``hook``: reconcile, then create and poll until every item
    has ended or ``deadline`` (Unix seconds) passes.

    :param requests: Each item's validated request, carrying its generation-1 external task id.
    :param policy: The failure policy: ``max_regenerations`` new generations are allowed for an
        item whose earlier Kling task failed (not refused), found at the start of a run, never
        within one; a refused item is never generated again.
    :param progress_every: Seconds between "k of N done, m running, ETA" lines.
    :param completions: Fire and forget: instead of polling Kling, read the tasks that ended from
        this (the callback asset's events, every ``poll_interval``: one read for all items), and
        stop once every item is created; the callbacks bring the results to whoever stores them.
    """

    def __init__(
        self,
        hook: KlingHook,
        admission: BatchAdmission,
        requests: Mapping[str, KlingTaskRequest],
        *,
        deadline: float,
        policy: FailurePolicy,
        log: Any,
        progress_every: float = DEFAULT_PROGRESS_INTERVAL,
        completions: Callable[[], list[dict[str, Any]]] | None = None,
        routes: Mapping[Any, Route] | None = None,
    ) -> None:
        self.hook, self.admission, self.requests = hook, admission, requests
        if not isinstance(hook.log, QuietLog):
            hook._log = QuietLog(hook.log)  # its "Created Kling task" line per item at debug
        self.completions = completions
        self.completion_reads = 0
        #: Where each item's task lives: one kind may take both API styles, chosen by each model.
        self.routes = routes or {key: Route.of(request) for key, request in requests.items()}
        self.deadline, self.policy = deadline, policy
        self.log, self.progress_every = log, progress_every
        self.polls = 0
        self.lists = 0
        self._answered: asyncio.Queue[asyncio.Future[Any]] = asyncio.Queue()
        self.clock = hook.clock

    def _now(self) -> float:
        """Unix seconds on the hook's clock (the admission's times and the deadline)."""
        return self.clock.time()

    @classmethod
    def of(
        cls,
        hook: KlingHook,
        requests: Mapping[str, KlingTaskRequest] | Source,
        *,
        slots: int,
        poll_interval: float,
        deadline: float,
        policy: FailurePolicy,
        log: Any,
        max_units: float | None = None,
        price_table: dict[str, Any] | None = None,
        progress_every: float = DEFAULT_PROGRESS_INTERVAL,
        completions: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> BatchRunner:
        """The runner of a batch of ``requests`` by key (each with its generation-1 external task
        id), or of a source that reads them again when asked (read once here for each item's
        progress, then as the items are admitted), with its admission at ``slots``: what the worker,
        the trigger and fire and forget run."""
        source: Source = requests.items if isinstance(requests, Mapping) else requests
        progress, routes, interned = [], {}, {}  # type: ignore[var-annotated]
        for key, request in source():
            progress.append(
                ItemProgress(
                    key=key,
                    n=slots_of(request),
                    external_task_id=str(request.external_task_id),
                    model_name=getattr(request, "model_name", None),
                    resolution=getattr(request, "resolution", None),
                )
            )
            route = Route.of(request)
            routes[key] = interned.setdefault(route, route)
        admission = BatchAdmission(
            progress,
            slots=slots,
            poll_interval=poll_interval,
            max_units=max_units,
            price_table=price_table,
            log=log,
        )
        admission.requests = ItemRequests(source, admission.by_key)
        return cls(
            hook,
            admission,
            admission.requests,
            deadline=deadline,
            policy=policy,
            log=log,
            progress_every=progress_every,
            completions=completions,
            routes=routes,
        )

    async def run(self) -> BatchAdmission:
        try:
            await self._reconcile()
            await self._loop()
        finally:
            await self.hook.aclose()  # the shared client loses a user (closed with the last)
        return self.admission

    # -- an earlier try's tasks -------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Resume items an earlier try created, found in the account's task list by external id:
        each item's newest generation there, then the lifecycle's :func:`decide`."""
        waiting = {i.external_task_id: i for i in self.admission.items if i.status == PENDING}
        if not waiting:
            return
        known: dict[str, dict[str, Any]] = {}
        per_route = Counter(self.routes[item.key] for item in waiting.values())
        requests_before = self.lists
        try:
            await self.hook.aget_settings()
            support = tasks_support(self.hook)
            try:
                if not support.usable:
                    raise LookupError("no POST /tasks")
                await self._search_into(known, waiting)
            except (KlingError, LookupError) as exc:
                if isinstance(exc, KlingError) and not support.saw_error(exc):
                    raise
                for route, count in per_route.items():
                    await self._list_into(known, route, count)
        except KlingError as exc:
            if is_batch_fatal(exc):
                self.admission.stop(exc, self._now())
                return
            self.log.warning(
                "Could not list Kling's tasks to resume an earlier try's items (%s); creating them "
                "anyway (a create of an item that exists is found by its external task id)",
                exc,
            )
        self.log.info(
            "Looked for an earlier try's tasks: %d found in %d requests",
            len(known),
            self.lists - requests_before,
        )
        now = self._now()
        policy = self.policy
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
                    policy.max_regenerations + 1,
                )
                continue
            self.admission.resumed(item, newest, generation, now)  # running, succeeded or ended
        if found:
            self.log.info("Resumed %d of %d items from an earlier try", found, len(self.admission.items))

    async def _search_into(self, known: dict[str, dict[str, Any]], waiting: Mapping[str, Any]) -> None:
        """The account's tasks of the last 30 days (``POST /tasks``, 500 a page, by cursor), those of
        the ``waiting`` items (by external task id, or one of its later generations) kept."""
        cursor: str | None = None
        while True:
            body = TaskSearch(cursor=cursor, limit=MAX_LIMIT).to_json()
            page = await self.hook._arun(self.hook.call("POST", TASKS_PATH, body=body))
            self.lists += 1
            page = page if isinstance(page, dict) else {}
            for record in page.get("result") or ():
                task = MODEL_PATH.decode(record, "a task of the account's task list")
                external = task.external_task_id
                if external and (external in waiting or external.rsplit("-", 1)[0] in waiting):
                    known[external] = task.model_dump(mode="json", exclude_none=True)
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    async def _list_into(self, known: dict[str, dict[str, Any]], route: Route, waiting: int) -> None:
        """The recent tasks at ``route`` by external task id (list rounds, where ``POST /tasks`` is
        missing), enough pages for ``waiting`` items."""
        pages = math.ceil(waiting * (self.policy.max_regenerations + 1) / LIST_PAGE_SIZE) + 1
        for page in range(1, pages + 1):
            listed = await self.hook.alist_tasks(
                page, LIST_PAGE_SIZE, endpoint=route.endpoint, api_style=route.api_style
            )
            self.lists += 1
            for listed_task in listed:
                if listed_task.external_task_id:
                    known[listed_task.external_task_id] = listed_task.model_dump(
                        mode="json", exclude_none=True
                    )
            if len(listed) < LIST_PAGE_SIZE:
                break

    # -- the loop ---------------------------------------------------------------------------------

    async def _loop(self) -> None:
        admission = self.admission
        in_flight: dict[asyncio.Future[Any], tuple[str, Any]] = {}
        last_progress = self._now()
        self.log.info("Batch: %s", admission.progress_line(last_progress))
        finished = admission.all_created if self.completions else admission.done
        next_read = self._now()
        try:
            while not finished() or in_flight:
                now = self._now()
                if now >= self.deadline:
                    if in_flight:  # let the calls in flight answer: a create's task id must be kept
                        await self._collect(in_flight, timeout=None)
                        continue
                    admission.expire(now)
                    break
                for item in admission.admit(now):
                    self._start(in_flight, self._create(item), ("create", item))
                if self.completions is None:
                    for polls in await self._poll_groups(admission.due_polls(now)):
                        self.polls += 1
                        if isinstance(polls, list):  # many items in one GET /tasks
                            self._start(in_flight, self._poll_many(polls), ("polls", polls))
                        else:
                            self._start(in_flight, self._poll(polls), ("poll", polls))
                elif now >= next_read:
                    await self._read_completions(now)
                    next_read = now + admission.poll_interval
                if now - last_progress >= self.progress_every:
                    last_progress = now
                    self.log.info("Batch: %s", admission.progress_line(now))
                polling = self.completions is None
                wake = min(admission.next_wakeup(now, polling), self.deadline, now + self.progress_every)
                if self.completions is not None:
                    wake = min(wake, next_read)
                timeout = max(0.0, wake - self._now())
                if in_flight:
                    await self._collect(in_flight, timeout=timeout)
                elif not finished():
                    await self.clock.asleep(max(timeout, 0.005))
        finally:
            for future in in_flight:  # cancelled (a triggerer going away): stop the calls in flight
                future.cancel()
        self.log.info("Batch: %s", admission.progress_line(self._now()))

    async def _read_completions(self, now: float) -> None:
        """Running items whose task ended, by the callbacks recorded (no request to Kling)."""
        assert self.completions is not None
        self.completion_reads += 1
        ended = await asyncio.to_thread(self.completions)
        running = {item.kling_task_id: item for item in self.admission.items if item.status == RUNNING}
        for task in ended:
            item = running.pop(str(task.get("task_id")), None)
            if item is not None:
                self.admission.polled(item, task, now)

    def _start(
        self, in_flight: dict[asyncio.Future[Any], tuple[str, Any]], call: Any, what: tuple[str, Any]
    ) -> None:
        future = asyncio.ensure_future(call)
        in_flight[future] = what
        future.add_done_callback(self._answered.put_nowait)

    async def _collect(
        self, in_flight: dict[asyncio.Future[Any], tuple[str, Any]], *, timeout: float | None
    ) -> None:
        try:  # the calls that answered, as they did (not a wait on every call in flight: O(1) each)
            done = [await asyncio.wait_for(self._answered.get(), timeout)]
        except TimeoutError:
            return
        while not self._answered.empty():
            done.append(self._answered.get_nowait())
        for future in done:
            if future not in in_flight:
                continue
            kind, item = in_flight.pop(future)
            now = self._now()
            exc = future.exception()
            if exc is not None and not isinstance(exc, KlingError):
                raise exc
            if kind == "polls":
                self._polled_many(item, future, now)
            elif kind == "create":
                if isinstance(exc, KlingError):
                    self.admission.create_failed(item, exc, now)
                else:
                    self.admission.created(
                        item, future.result().model_dump(mode="json", exclude_none=True), now
                    )
            elif isinstance(exc, KlingError):
                self.admission.poll_failed(item, exc, now)
            else:
                self.admission.polled(item, future.result().model_dump(mode="json", exclude_none=True), now)
            self._forget_ended(item)

    def _forget_ended(self, items: ItemProgress | list[ItemProgress]) -> None:
        """An ended item's request is read no more (a streamed batch holds only the live ones)."""
        if isinstance(self.requests, ItemRequests):
            for item in items if isinstance(items, list) else (items,):
                if item.status in FINAL:
                    self.requests.forget(item.key)

    async def _create(self, item: ItemProgress) -> Any:
        request: KlingTaskRequest = self.requests[item.key]
        if item.generation > 1:
            external_id = generation_external_task_id(item.external_task_id, item.generation)
            request = with_external_task_id(request, external_id)
        return await self.hook.acreate_task(request, retry_rate_limit=False)

    async def _poll_groups(self, due: list[ItemProgress]) -> list[ItemProgress | list[ItemProgress]]:
        """The due polls as calls: per route, 20 items per ``GET /tasks`` where the host has it,
        else one each. An item polled at its expected end is polled alone where ``/tasks`` lacks
        what its own query says of an ended task (a ``/v1`` task's spend): one request, not two."""
        if not due:
            return []
        await self.hook.aget_settings()
        if not tasks_support(self.hook).usable:
            return list(due)
        by_route: dict[Route, list[ItemProgress]] = {}
        alone: list[ItemProgress | list[ItemProgress]] = []
        now = self._now()
        for item in due:
            route = self.routes[item.key]
            end = self.admission.expected_end(item)
            if not route.wire.tasks_query_is_complete and end is not None and now >= end:
                alone.append(item)
            else:
                by_route.setdefault(route, []).append(item)
        return alone + [
            group[start : start + MAX_TASK_IDS]
            for group in by_route.values()
            for start in range(0, len(group), MAX_TASK_IDS)
        ]

    async def _poll_many(self, items: list[ItemProgress]) -> dict[str, Any]:
        """One poll of many items of one route (``GET /tasks``): their tasks by Kling task id."""
        route = self.routes[items[0].key]
        ids = [item.kling_task_id for item in items if item.kling_task_id]
        tasks = await self.hook.aget_tasks(
            ids, endpoint=route.endpoint, max_wait=self.admission.poll_interval, api_style=route.api_style
        )
        return {task.task_id: task for task in tasks}

    def _polled_many(self, items: list[ItemProgress], future: asyncio.Future[Any], now: float) -> None:
        exc = future.exception()
        for item in items:
            if isinstance(exc, KlingError):
                self.admission.poll_failed(item, exc, now)
            elif (task := future.result().get(item.kling_task_id)) is not None:
                self.admission.polled(item, task.model_dump(mode="json", exclude_none=True), now)
            else:
                missing = KlingNotFoundError(
                    f"Kling knows no task {item.kling_task_id}", task_id=item.kling_task_id
                )
                self.admission.poll_failed(item, missing, now)

    async def _poll(self, item: ItemProgress) -> Any:
        """One poll; its retries wait at most a poll interval (the admission re-polls after that)."""
        assert item.kling_task_id is not None
        route = self.routes[item.key]
        return await self.hook.aget_task(
            item.kling_task_id,
            endpoint=route.endpoint,
            max_wait=self.admission.poll_interval,
            api_style=route.api_style,
        )
