"""Many triggers, few requests: one reader of Kling's tasks per connection per event loop.

Where the host answers ``GET /tasks?task_ids=``, the lookups due within :data:`BATCH_WINDOW` go out
together, 20 ids a request, on the board's own hook. Elsewhere the triggers of one connection and
route share list rounds (the first :data:`MAX_PAGES` pages, newest first, at most
:data:`STALENESS` seconds old); a task not found that way is queried by id. Measured with
``benchmarks/triggerer_scale.py`` (see docs/sensors-and-triggers.rst).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.defaults import GENERATIONS_PATH, MAX_PAGE_SIZE
from airflow_provider_kling.errors import KlingConnectionError, KlingError
from airflow_provider_kling.hooks.core import time_left
from airflow_provider_kling.hooks.task_queries import TasksQuerySupport, tasks_support
from airflow_provider_kling.models.task import record_ids, task_from_data
from airflow_provider_kling.models.task_query import MAX_TASK_IDS, chunks

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models.task import KlingTask

#: Read statuses from the task list (True) or query each task by id (False, e.g. to compare).
LIST_POLLING = True
#: A round serves triggers that need a status from at most this many seconds ago.
STALENESS = 1.0
#: Pages a round reads at most; older tasks are queried by id.
MAX_PAGES = 4
#: Kling's largest page.
PAGE_SIZE_MAX = MAX_PAGE_SIZE
#: Listed beyond the watched tasks on each page, for tasks created by others in between.
PAGE_SLACK = 50
#: Read statuses with ``GET /tasks?task_ids=`` where the host has it (False: list rounds only).
TASKS_QUERY = True
#: Requests a board has in flight at most (batches, completions, queries by id). The HTTP client's pool
#: scans its queue and connections on every request, so thousands of waiting lookups must queue here.
IN_FLIGHT = 4
#: Seconds a lookup waits for others to share its ``GET /tasks`` (20 waiting lookups go at once).
BATCH_WINDOW = 0.5


@dataclass
class _Board:
    """The latest round's view of one connection's watched tasks."""

    endpoint: str = GENERATIONS_PATH  # whose task list the rounds read, in which API style
    api_style: str | None = None
    watched: dict[str, int] = field(default_factory=dict)  # Kling or external task id -> watchers
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # unparsed: each trigger parses its own
    round_for: set[str] = field(default_factory=set)  # the tasks watched when the last round began
    round_at: float = float("-inf")
    round_error: KlingError | None = None
    complete: bool = False  # the last round reached the end of the list
    refused: bool = False  # the host refused the list endpoint: query by id from now on
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    gate: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(IN_FLIGHT)
    )  # requests in flight
    task_queries: _TaskQueries | None = None  # GET /tasks batches, where the host has it

    def page_size(self) -> int:
        return min(PAGE_SIZE_MAX, len(self.watched) + PAGE_SLACK)

    async def look(
        self,
        hook: KlingHook,
        task_id: str,
        clock: Callable[[], float],
        deadline: float,
        max_wait: float | None = None,
    ) -> dict[str, Any] | None:
        """The task from a round no older than :data:`STALENESS`; None when the round did not list it."""
        asked_at = clock()
        async with self.lock:
            # A round that failed is shared only by those who were already waiting for it.
            fresh_after = asked_at if self.round_error is not None else asked_at - STALENESS
            if self.round_at < fresh_after or task_id not in self.round_for:
                await self._read_round(hook, clock(), deadline, max_wait)
            if self.round_error is not None:  # one error shared by many: do not let its traceback grow
                raise self.round_error.with_traceback(None)
            return self.seen.get(task_id)

    async def _read_round(
        self, hook: KlingHook, now: float, deadline: float, max_wait: float | None = None
    ) -> None:
        self.round_at, self.round_error, self.seen, self.complete = now, None, {}, False
        self.round_for = set(self.watched)
        size, missing = self.page_size(), set(self.watched)
        try:
            for page in range(1, MAX_PAGES + 1):
                items = await hook._alist_task_data(
                    page,
                    size,
                    deadline=deadline,
                    endpoint=self.endpoint,
                    max_wait=max_wait,
                    api_style=self.api_style,
                )
                for item in items:
                    keys = [key for key in record_ids(item) if key in self.watched]
                    if keys:
                        self.seen.update(dict.fromkeys(keys, item))
                        missing.difference_update(keys)
                if len(items) < size:
                    self.complete = True
                if self.complete or not missing:
                    return
        except KlingError as exc:
            if not exc.retryable:
                hook.log.warning("Kling refused its task list (%s); querying each task by id instead", exc)
                self.refused = True
                return
            self.round_error = exc
        except BaseException:  # cancelled mid-round: the next trigger to look reads a new one
            self.round_at = float("-inf")
            raise


class _TaskQueries:
    """
    The lookups of one board due within :data:`BATCH_WINDOW`, read together with
    :meth:`KlingHook.aget_tasks` (the one many-task reader: ``GET /tasks`` 20 ids a request where the
    host has it, a finished task completed by its style's own query, else one query per task).

    Requests go out on a hook of its own (so on the connection's one shared client), not on a
    trigger's, which may close while a batch it started is in flight; at most :data:`IN_FLIGHT` at
    once (``gate``).
    """

    def __init__(
        self,
        hook: KlingHook,
        endpoint: str = GENERATIONS_PATH,
        api_style: str | None = None,
        gate: asyncio.Semaphore | None = None,
    ) -> None:
        self.endpoint, self.api_style = endpoint, api_style
        self.gate = gate or asyncio.Semaphore(IN_FLIGHT)
        self.unknown: set[str] = set()  # ids /tasks did not know: queried by id from then on
        #: the trigger's clock (retries and their waits), when its hook takes one
        kwargs: dict[str, Any] = {"clock": hook.clock} if getattr(hook, "clock", None) is not None else {}
        self.hook = type(hook)(hook.kling_conn_id, **kwargs)
        self._pending: dict[str, list[asyncio.Future[Any]]] = {}
        #: the shortest poll interval among the pending lookups (a failed query is retried within it),
        #: and the earliest deadline (its retries end by then)
        self._max_wait: float | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def support(self) -> TasksQuerySupport:
        return tasks_support(self.hook)

    async def ask(
        self, task_id: str, max_wait: float | None = None, deadline: float | None = None
    ) -> KlingTask | None:
        """The task at the next batch; ``None`` when Kling does not know the id that way."""
        loop = asyncio.get_running_loop()
        if max_wait is not None:
            self._max_wait = max_wait if self._max_wait is None else min(self._max_wait, max_wait)
        if deadline is not None:
            self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)
        future: asyncio.Future[KlingTask | None] = loop.create_future()
        self._pending.setdefault(task_id, []).append(future)
        if len(self._pending) >= MAX_TASK_IDS:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(BATCH_WINDOW, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        bounds, self._max_wait, self._deadline = (self._max_wait, self._deadline), None, None
        for ids in chunks(pending):
            sending = asyncio.get_running_loop().create_task(
                self._send({i: pending[i] for i in ids}, *bounds)
            )
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)

    async def _send(
        self, batch: dict[str, list[asyncio.Future[Any]]], max_wait: float | None, deadline: float | None
    ) -> None:
        def settle(result_of: Callable[[str], Any], error: BaseException | None = None) -> None:
            for task_id, futures in batch.items():
                for future in futures:
                    if future.done():  # its trigger stopped waiting
                        continue
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(result_of(task_id))

        try:
            async with self.gate:
                tasks = await self.hook.aget_tasks(  # a finished /v1 task: completed on the worker
                    list(batch),
                    complete=False,
                    endpoint=self.endpoint,
                    api_style=self.api_style,
                    deadline=deadline,
                    max_wait=max_wait,
                )
        except KlingError as exc:  # one error shared by many: do not let its traceback grow
            settle(lambda _: None, exc.with_traceback(None))
            return
        except Exception as exc:  # a bug: the waiting lookups raise it, nobody waits forever
            settle(lambda _: None, exc)
            return
        except BaseException:  # cancelled (the board closed): so are its lookups
            settle(lambda _: None, KlingConnectionError("the task query was cancelled"))
            raise
        found = {key: task for task in tasks for key in (task.task_id, task.external_task_id) if key}
        self.unknown.update(task_id for task_id in batch if task_id not in found)
        settle(found.get)

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sending in list(self._sending):
            sending.cancel()
        for futures in self._pending.values():
            for future in futures:
                future.cancel()
        self._pending = {}
        await self.hook.aclose()


async def _task_queries(board: _Board, hook: KlingHook) -> _TaskQueries:
    """The board's batcher, built on first use (its hook reads the connection: does the host have /tasks)."""
    if board.task_queries is None:
        queries = _TaskQueries(hook, board.endpoint, board.api_style, board.gate)
        await queries.hook.aget_settings()
        if board.task_queries is None:
            board.task_queries = queries
    return board.task_queries


# event loop -> (connection id, endpoint, api style) -> board; weak, so a finished loop leaves nothing.
_boards: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, str | None], _Board]] = (
    weakref.WeakKeyDictionary()
)


class watch:  # lower case: used as a function, ``async with watch(...) as lookup``
    """
    Watch one task of ``endpoint`` (in ``api_style``) while the ``async with`` block runs; yields
    ``lookup(deadline) -> KlingTask``. A finished task read through ``GET /tasks`` comes as ``/tasks``
    gave it, with ``lookup.partial`` set: the worker completes it (:meth:`KlingHook.complete_task`,
    one query for a ``/v1`` task), so the triggerer sends no query per task.

    ``clock`` and ``deadline`` share one clock (the hook's monotonic one); a failed request is
    retried after at most ``max_wait`` (the poll interval). On exit, even by cancellation, the
    task is unwatched and a board nobody watches is dropped. One object per waiting trigger,
    with slots (10,000 waits in one triggerer: every object is traversed by each full collection).
    """

    __slots__ = ("api_style", "board", "clock", "endpoint", "hook", "max_wait", "partial", "task_id")

    def __init__(
        self,
        hook: KlingHook,
        task_id: str,
        clock: Callable[[], float],
        endpoint: str = GENERATIONS_PATH,
        max_wait: float | None = None,
        api_style: str | None = None,
    ) -> None:
        self.hook, self.task_id, self.clock, self.endpoint = hook, task_id, clock, endpoint
        self.max_wait, self.api_style, self.partial = max_wait, api_style, False

    async def __aenter__(self) -> watch:
        boards = _boards.setdefault(asyncio.get_running_loop(), {})
        key = (self.hook.kling_conn_id, self.endpoint, self.api_style)
        board = boards.get(key) or boards.setdefault(key, _Board(self.endpoint, self.api_style))
        board.watched[self.task_id] = board.watched.get(self.task_id, 0) + 1
        self.board = board
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        board, task_id = self.board, self.task_id
        board.watched[task_id] -= 1
        if board.watched[task_id] <= 0:
            del board.watched[task_id]
        boards = _boards.get(asyncio.get_running_loop(), {})
        key = (self.hook.kling_conn_id, self.endpoint, self.api_style)
        if not board.watched and boards.get(key) is board:
            del boards[key]
            if board.task_queries is not None:
                await board.task_queries.aclose()

    async def _query(self, deadline: float) -> KlingTask:
        self.partial = False
        async with self.board.gate:
            return await self.hook.aget_task(
                self.task_id,
                deadline=deadline,
                endpoint=self.endpoint,
                max_wait=self.max_wait,
                api_style=self.api_style,
            )

    async def __call__(self, deadline: float) -> KlingTask:
        board, task_id = self.board, self.task_id
        queries = await _task_queries(board, self.hook) if TASKS_QUERY else None
        if queries is not None and queries.support.usable:
            if task_id in queries.unknown:
                return await self._query(deadline)
            try:
                async with asyncio.timeout(time_left(deadline, self.clock(), float("inf"))):
                    task = await queries.ask(task_id, self.max_wait, deadline)
            except TimeoutError:
                raise KlingConnectionError("Timed out querying Kling's tasks") from None
            if task is not None:
                self.partial = task.task_status.is_final
                return task
            if queries.support.usable:  # not known by task id (an external id?): ask the endpoint
                return await self._query(deadline)
        if LIST_POLLING and not board.refused:
            try:
                # Bounded even while another trigger's round holds the board.
                async with asyncio.timeout(time_left(deadline, self.clock(), float("inf"))):
                    item = await board.look(self.hook, task_id, self.clock, deadline, self.max_wait)
            except TimeoutError:
                raise KlingConnectionError("Timed out reading Kling's task list") from None
            if item is not None:
                self.partial = False
                return task_from_data(item, f"task {task_id}", task_id)
        return await self._query(deadline)


def watched_tasks() -> int:
    """Tasks watched on the running loop, over all connections (for tests and benchmarks)."""
    return sum(len(board.watched) for board in _boards.get(asyncio.get_running_loop(), {}).values())
