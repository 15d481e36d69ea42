"""Many triggers, few requests: one reader of Kling's task list per connection per event loop.

Each Kling trigger asks :func:`watch` for its task's status. Instead of one query per task per poll,
the triggers of one connection and endpoint (each Kling endpoint lists only its own tasks) share
*rounds*: a round reads the first pages of the task list
(newest first, up to :data:`PAGE_SIZE_MAX` tasks a page) and serves every trigger that needs a
status at most :data:`STALENESS` seconds old. A task not on those pages (older than the newest
:data:`MAX_PAGES` pages, or an unknown id) is queried by id, as is every task when the list
endpoint is refused (some hosts do not offer it) or :data:`LIST_POLLING` is off.

Measured with ``benchmarks/triggerer_scale.py``: at equal lateness, rounds make far fewer requests
than one query per task per poll interval (see the README's benchmark section).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingConnectionError, KlingError
from airflow_provider_kling.models import task_from_data
from airflow_provider_kling.polling import time_left

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models import ImageTask

#: Read statuses from the task list (True) or query each task by id (False, e.g. to compare).
LIST_POLLING = True
#: A round serves triggers that need a status from at most this many seconds ago.
STALENESS = 1.0
#: Pages a round reads at most; older tasks are queried by id.
MAX_PAGES = 4
#: Kling's largest page.
PAGE_SIZE_MAX = 500
#: Listed beyond the watched tasks on each page, for tasks created by others in between.
PAGE_SLACK = 50

Lookup = Callable[[float], Awaitable["ImageTask"]]


@dataclass
class _Board:
    """The latest round's view of one connection's watched tasks."""

    endpoint: str = "/v1/images/generations"  # whose task list the rounds read
    watched: dict[str, int] = field(default_factory=dict)  # Kling or external task id -> watchers
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # unparsed: each trigger parses its own
    round_for: set[str] = field(default_factory=set)  # the tasks watched when the last round began
    round_at: float = float("-inf")
    round_error: KlingError | None = None
    complete: bool = False  # the last round reached the end of the list
    refused: bool = False  # the host refused the list endpoint: query by id from now on
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

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
                    page, size, deadline=deadline, endpoint=self.endpoint, max_wait=max_wait
                )
                for item in items:
                    external = (item.get("task_info") or {}).get("external_task_id")
                    keys = [key for key in (str(item.get("task_id")), external) if key in self.watched]
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


# event loop -> (connection id, endpoint) -> board; weak, so a finished loop leaves nothing behind.
_boards: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _Board]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def watch(
    hook: KlingHook,
    task_id: str,
    clock: Callable[[], float],
    endpoint: str = "/v1/images/generations",
    max_wait: float | None = None,
) -> AsyncIterator[Lookup]:
    """
    Watch one task of ``endpoint`` while the block runs; yields ``lookup(deadline) -> ImageTask``.

    ``clock`` and ``deadline`` share one clock (the hook's monotonic one); a failed request is
    retried after at most ``max_wait`` (the poll interval). On exit, even by cancellation, the
    task is unwatched and a board nobody watches is dropped.
    """
    boards = _boards.setdefault(asyncio.get_running_loop(), {})
    key = (hook.kling_conn_id, endpoint)
    board = boards.setdefault(key, _Board(endpoint=endpoint))
    board.watched[task_id] = board.watched.get(task_id, 0) + 1

    async def lookup(deadline: float) -> ImageTask:
        if LIST_POLLING and not board.refused:
            try:
                # Bounded even while another trigger's round holds the board.
                async with asyncio.timeout(time_left(deadline, clock(), float("inf"))):
                    item = await board.look(hook, task_id, clock, deadline, max_wait)
            except TimeoutError:
                raise KlingConnectionError("Timed out reading Kling's task list") from None
            if item is not None:
                return task_from_data(item, f"task {task_id}", task_id)
        return await hook.aget_task(task_id, deadline=deadline, endpoint=endpoint, max_wait=max_wait)

    try:
        yield lookup
    finally:
        board.watched[task_id] -= 1
        if board.watched[task_id] <= 0:
            del board.watched[task_id]
        if not board.watched and boards.get(key) is board:
            del boards[key]


def watched_tasks() -> int:
    """Tasks watched on the running loop, over all connections (for tests and benchmarks)."""
    return sum(len(board.watched) for board in _boards.get(asyncio.get_running_loop(), {}).values())
