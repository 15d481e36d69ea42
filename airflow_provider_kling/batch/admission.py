"""Slot-aware admission of a batch's items: which to create or poll next, and what an answer means.

No I/O (the runner does the HTTP calls); times are Unix seconds passed in. An item is created only
when the ``n`` of the items running plus its own fit the slot budget; a 1303 that still comes
(another pipeline on the account) shrinks the budget for a doubling cool-down.
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_kling.defaults import (  # re-exported: the runner and trigger read them here
    DEFAULT_BATCH_POLL_INTERVAL as DEFAULT_BATCH_POLL_INTERVAL,
)
from airflow_provider_kling.defaults import (
    DEFAULT_BATCH_TIMEOUT as DEFAULT_BATCH_TIMEOUT,
)
from airflow_provider_kling.defaults import (
    DEFAULT_PROGRESS_INTERVAL as DEFAULT_PROGRESS_INTERVAL,
)
from airflow_provider_kling.errors import (
    KlingAccountError,
    KlingAuthError,
    KlingContentPolicyError,
    KlingError,
    KlingIPWhitelistError,
    KlingPermissionError,
    KlingRateLimitError,
    create_never_reached_kling,
)
from airflow_provider_kling.lifecycle.policy import Outcome, outcome_of
from airflow_provider_kling.lifecycle.poll import over_error_budget, poll_step
from airflow_provider_kling.spend import Budget, units_of

PENDING, CREATING, RUNNING = "pending", "creating", "running"
SUCCEEDED, FAILED, REFUSED, ERROR, UNFINISHED = "succeeded", "failed", "refused", "error", "unfinished"
#: Not created: its estimated units would take the batch past ``max_units``.
OVER_BUDGET = "over_budget"
#: Outcomes an item ends with in one run of the batch.
FINAL = frozenset({SUCCEEDED, FAILED, REFUSED, ERROR, UNFINISHED, OVER_BUDGET})
#: Errors that stop the whole batch: every other create would be refused the same way.
_BATCH_FATAL = (KlingAuthError, KlingAccountError, KlingPermissionError, KlingIPWhitelistError)
#: A create that failed in a way a resend can fix is tried again after this backoff (doubling, at
#: most a poll interval; a ``Retry-After`` is waited exactly instead).
_CREATE_BACKOFF = 1.0
#: Creates of one item that fail in a retryable way before the item is given up for this run.
MAX_CREATE_ATTEMPTS = 8


def kling_duration(task: dict[str, Any]) -> float | None:
    """How long a succeeded task took by Kling's own clock (``updated_at - created_at``), if it says."""
    from datetime import datetime

    try:
        created = datetime.fromisoformat(str(task["created_at"]))
        updated = datetime.fromisoformat(str(task["updated_at"]))
    except (KeyError, TypeError, ValueError):
        return None
    seconds = (updated - created).total_seconds()
    return seconds if seconds > 0 else None


class QuietLog:
    """A batch's logger for its hook and its store: their line per task at debug (a batch's task
    log grows with its progress lines, not with its items); warnings and errors as they are."""

    def __init__(self, log: Any) -> None:
        self.inner = log

    def info(self, *args: Any, **kwargs: Any) -> None:
        self.inner.debug(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def is_batch_fatal(exc: KlingError) -> bool:
    """Whether every other create would be refused the same way (auth, balance, permission, IP)."""
    return isinstance(exc, _BATCH_FATAL)


@dataclass(slots=True)
class ItemProgress:
    """Where one item stands; JSON-serialisable (it travels to the trigger and back). Slotted: a
    batch of 100,000 holds 100,000 of them."""

    key: str
    n: int
    external_task_id: str
    model_name: str | None = None
    resolution: str | None = None
    status: str = PENDING
    generation: int = 1
    kling_task_id: str | None = None
    message: str | None = None
    task: dict[str, Any] | None = None
    admitted_at: float | None = None
    ended_at: float | None = None
    not_before: float = 0.0
    next_poll: float = 0.0
    create_attempts: int = 0
    poll_errors: int = 0
    #: Polls in a row that found the task still queued (``submitted``): the poll plan backs off.
    queued_polls: int = 0
    busy: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemProgress:
        return cls(**{name: value for name, value in data.items() if name in cls.__dataclass_fields__})


@dataclass
class SlotBudget:
    """The slots this batch may fill: ``slots``, or less for a cool-down after a 1303."""

    slots: int
    cooldown: float = 30.0
    max_cooldown: float = 300.0
    limit: int = -1
    until: float = 0.0
    next_cooldown: float = -1.0
    rate_limited: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0:
            self.limit = self.slots
        if self.next_cooldown < 0:
            self.next_cooldown = self.cooldown

    def available(self, now: float) -> int:
        if self.limit < self.slots and now >= self.until:
            self.limit = self.slots  # the cool-down is over: try the whole budget again
        return self.limit

    def shrink(self, in_use: int, now: float, retry_after: float | None = None) -> float:
        """A 1303: hold the budget at ``in_use`` for a while; return how long."""
        self.rate_limited += 1
        wait = self.next_cooldown if retry_after is None else retry_after  # what Kling asked, no longer
        self.limit = min(self.slots, max(0, in_use))
        self.until = now + wait
        self.next_cooldown = min(self.max_cooldown, self.next_cooldown * 2)
        return wait

    def create_went_through(self) -> None:
        if self.limit == self.slots:
            self.next_cooldown = self.cooldown


class BatchAdmission:
    """
    The items of one batch and the slot budget; the runner asks :meth:`admit` and
    :meth:`due_polls` what to send, and reports each answer back.
    """

    def __init__(
        self,
        items: list[ItemProgress],
        *,
        slots: int,
        poll_interval: float,
        budget: SlotBudget | None = None,
        max_units: float | None = None,
        price_table: dict[str, Any] | None = None,
        requests: Mapping[str, Any] | None = None,
        log: Any = None,
    ) -> None:
        # request models, ~50 ms: operators.batch imports this module at DAG parse, a run needs them
        from airflow_provider_kling.estimates import UnitEstimator

        self.items = items
        self.by_key = {item.key: item for item in items}
        self.poll_interval = poll_interval
        # Kept as answers come (O(log N) an event, not a scan of every item): the slots held, the
        # items by status, the pending queue in order, creates waiting for a time, polls by time.
        self._in_use = sum(item.n for item in items if item.status in (CREATING, RUNNING))
        self._counts = Counter(item.status for item in items)
        self._queue = deque(item for item in items if item.status == PENDING)
        self._later: list[tuple[float, int, ItemProgress]] = []
        self._polls: list[tuple[float, int, ItemProgress]] = []
        self._order = {item.key: number for number, item in enumerate(items)}
        self._smallest = min((item.n for item in items), default=1)
        self._took = [0.0, 0]
        self.budget = budget or SlotBudget(slots)
        self.log = log
        self.fatal: str | None = None
        self.creates_sent = 0
        #: Units: deducted by ended tasks, estimated for running ones (the spend module's ledger).
        self.ledger = Budget(limit=max_units)
        self.estimator = UnitEstimator(price_table=price_table)
        #: Each item's request by key (any kind), priced by its kind's rule; without it an item is
        #: priced as image generation from its model_name, resolution and n.
        self.requests: Mapping[str, Any] = requests or {}

    # -- what to send ---------------------------------------------------------------------------

    def in_use(self) -> int:
        """Slots held by this batch's tasks (and creates in flight, which may hold them already)."""
        return self._in_use

    def _set(self, item: ItemProgress, status: str) -> None:
        """Every change of an item's status: the counts and the slots held follow it."""
        holds = (CREATING, RUNNING)
        self._in_use += item.n * ((status in holds) - (item.status in holds))
        self._counts[item.status] -= 1
        self._counts[status] += 1
        item.status = status
        if status == PENDING:  # requeued: in line again at its place once its wait is over
            heapq.heappush(self._later, (item.not_before, self._order[item.key], item))

    def admit(self, now: float) -> list[ItemProgress]:
        """Items to create now: the queue in order, each one that fits in the budget's free slots."""
        if self.fatal is not None:
            return []
        ready = []
        while self._later and self._later[0][0] <= now:  # their wait is over: first in line, in order
            ready.append(heapq.heappop(self._later)[2])
        self._queue.extendleft(sorted(ready, key=lambda i: self._order[i.key], reverse=True))
        free = self.budget.available(now) - self.in_use()
        admitted, skipped = [], []
        while self._queue and free >= self._smallest:
            item = self._queue.popleft()
            if item.status != PENDING or item.not_before > now:
                if item.status == PENDING:
                    heapq.heappush(self._later, (item.not_before, self._order[item.key], item))
                continue
            if item.n > free:
                skipped.append(item)
                continue
            if not self._within_budget(item, now):
                if item.status == PENDING:
                    skipped.append(item)
                continue
            self._set(item, CREATING)
            item.busy, item.admitted_at = True, now
            item.create_attempts += 1
            free -= item.n
            self.creates_sent += 1
            admitted.append(item)
        self._queue.extendleft(reversed(skipped))
        return admitted

    def _ledger_key(self, item: ItemProgress) -> str:
        return f"{item.key}#{item.generation}"  # a regeneration is a new paid task

    def _within_budget(self, item: ItemProgress, now: float) -> bool:
        """Reserve the item's estimated units, or leave it waiting (units in flight may settle
        lower) or end it ``over_budget`` (nothing in flight: it can never fit)."""
        try:
            estimate: Any = self._estimate(item)
        except ValueError as exc:  # no price for this model: it cannot be held to max_units
            self._end(item, OVER_BUDGET, f"not created: {exc}", now)
            return False
        decision = self.ledger.decide(self._ledger_key(item), estimate)
        if decision.allowed:
            self.ledger.reserve(self._ledger_key(item), estimate)
            return True
        if not self.ledger.in_flight:
            self._end(item, OVER_BUDGET, f"not created: {decision.reason}", now)
        return False

    def _estimate(self, item: ItemProgress) -> Any:
        """The item's estimated units; 0 for a model without a price when no ``max_units`` is set."""
        try:
            return self.estimator.estimate_request(self._request_of(item))
        except ValueError:
            if self.ledger.limit is not None:
                raise
            return 0.0

    def _request_of(self, item: ItemProgress) -> Any:
        request = self.requests.get(item.key)
        if request is None:
            return {"model_name": item.model_name, "resolution": item.resolution, "n": item.n}
        return request

    def due_polls(self, now: float) -> list[ItemProgress]:
        """Running items whose next poll is due (and that have no call in flight)."""
        due = []
        while self._polls and self._polls[0][0] <= now:
            at, _, item = heapq.heappop(self._polls)
            if item.status == RUNNING and not item.busy and item.next_poll == at:
                item.busy = True
                due.append(item)
        return due

    def _poll_at(self, item: ItemProgress, at: float) -> None:
        item.next_poll = at
        heapq.heappush(self._polls, (at, self._order[item.key], item))

    def next_wakeup(self, now: float, polls: bool = True) -> float:
        """When something may be due next (a poll, a requeued create, the end of a cool-down);
        ``polls=False`` for a runner that learns of ends otherwise (fire and forget)."""
        while self._polls and not self._is_due_entry(self._polls[0]):
            heapq.heappop(self._polls)  # a stale entry: polled since, or ended
        times = [self._polls[0][0]] if polls and self._polls else []
        times += [self._later[0][0]] if self._later else []
        if self._counts[PENDING] and self.budget.limit < self.budget.slots:
            times.append(self.budget.until)
        return min(times, default=now + self.poll_interval)

    @staticmethod
    def _is_due_entry(entry: tuple[float, int, ItemProgress]) -> bool:
        at, _, item = entry
        return item.status == RUNNING and not item.busy and item.next_poll == at

    def done(self) -> bool:
        return sum(self._counts[status] for status in FINAL) == len(self.items)

    def all_created(self) -> bool:
        """Every item has a Kling task (running or ended) or has ended without one."""
        return not self._counts[PENDING] and not self._counts[CREATING]

    # -- answers --------------------------------------------------------------------------------

    def created(self, item: ItemProgress, task: dict[str, Any], now: float) -> None:
        """The create answered (or an earlier create was found): the item runs, or has ended."""
        item.busy = False
        item.kling_task_id = str(task["task_id"])
        item.admitted_at = (
            now  # its task runs from about now: its expected end is from here, not from the send
        )
        self.budget.create_went_through()
        self._say(item, f"Kling task {item.kling_task_id} is {task.get('task_status')}")
        self._observe(item, task, now, first=True)

    def create_failed(self, item: ItemProgress, exc: KlingError, now: float) -> None:
        item.busy = False
        if isinstance(exc, KlingRateLimitError | KlingContentPolicyError) or is_batch_fatal(exc):
            self.ledger.release(self._ledger_key(item))  # refused before any task existed
        if isinstance(exc, KlingRateLimitError):
            self._set(item, PENDING)
            wait = self.budget.shrink(self.in_use(), now, exc.retry_after)
            self._say(
                item,
                f"Kling answered 429 (code {exc.code}): the account's slots are taken by another "
                f"pipeline; holding this batch at {self.budget.limit} of {self.budget.slots} slots "
                f"for {wait:.0f}s",
                warning=True,
            )
        elif isinstance(exc, KlingContentPolicyError):
            self._end(item, REFUSED, str(exc), now)
        elif is_batch_fatal(exc):
            self._end(item, ERROR, str(exc), now)
            self.stop(exc, now)
        elif (
            exc.retryable or create_never_reached_kling(exc)
        ) and item.create_attempts < MAX_CREATE_ATTEMPTS:
            backoff = min(self.poll_interval, _CREATE_BACKOFF * 2 ** (item.create_attempts - 1))
            item.not_before = now + (backoff if exc.retry_after is None else exc.retry_after)
            self._set(item, PENDING)
            self._say(item, f"create failed ({exc}); trying again later", warning=True)
        else:
            self._end(item, ERROR, str(exc), now)

    def stop(self, exc: KlingError, now: float) -> None:
        """Kling refuses this account (auth, balance, permission): create nothing more."""
        self.fatal = str(exc)
        for other in self.items:
            if other.status == PENDING:
                self._end(other, ERROR, f"not created: the batch stopped ({exc})", now, quiet=True)

    def polled(self, item: ItemProgress, task: dict[str, Any], now: float) -> None:
        item.busy = False
        item.poll_errors = 0
        self._observe(item, task, now, first=False)

    def poll_failed(self, item: ItemProgress, exc: KlingError, now: float) -> None:
        item.busy = False
        item.poll_errors += 1
        if is_batch_fatal(exc):
            self.fatal = str(exc)
        if over_error_budget(exc, item.poll_errors):  # the one poll plan's budget (it may still finish)
            self._end(item, UNFINISHED, f"polling failed: {exc}", now)
        else:
            self._poll_at(item, now + self.poll_interval)

    def resumed(self, item: ItemProgress, task: dict[str, Any], generation: int, now: float) -> None:
        """An earlier try's task of this item, found by external id before anything is created."""
        item.generation = generation
        item.kling_task_id = str(task["task_id"])
        if self.ledger.limit is not None:
            with contextlib.suppress(ValueError):  # no price: counted when it ends, from what Kling deducted
                self.ledger.reserve(self._ledger_key(item), self._estimate(item))
        self._say(
            item, f"resuming Kling task {item.kling_task_id} ({task.get('task_status')}) of an earlier try"
        )
        self._set(item, RUNNING)
        self._observe(item, task, now, first=True)

    def expire(self, now: float) -> None:
        """The deadline passed: every item not ended is unfinished (a retry resumes it)."""
        for item in self.items:
            if item.status not in FINAL:
                was_created = item.kling_task_id is not None
                why = f"still running as Kling task {item.kling_task_id}" if was_created else "not created"
                self._end(item, UNFINISHED, f"timed out: {why}", now, quiet=True)

    def _observe(self, item: ItemProgress, task: dict[str, Any], now: float, *, first: bool) -> None:
        status = task.get("task_status")
        outcome = outcome_of(status, task.get("task_status_msg"))
        if outcome is Outcome.SUCCEEDED:
            item.task = task
            self._end(item, SUCCEEDED, None, now)
        elif outcome in (Outcome.FAILED, Outcome.REFUSED):
            item.task = task
            reason = task.get("task_status_msg") or "Kling gave no reason"
            self._end(item, REFUSED if outcome is Outcome.REFUSED else FAILED, reason, now)
        else:
            if item.status != RUNNING and not first:
                self._say(item, f"Kling task {item.kling_task_id} is {status}")
            if item.status != RUNNING:
                self._set(item, RUNNING)
            item.queued_polls = item.queued_polls + 1 if status == "submitted" else 0
            self._poll_at(item, now + self.poll_delay(item, now))

    def expected_duration(self) -> float | None:
        """The mean time of this batch's tasks so far (Kling's clock when it says, else seen here)."""
        total, count = self._took
        return total / count if count else None

    def expected_end(self, item: ItemProgress) -> float | None:
        """When the item's task should end: its start plus the batch's mean task time so far."""
        expected = self.expected_duration()
        return None if expected is None or item.admitted_at is None else item.admitted_at + expected

    def poll_delay(self, item: ItemProgress, now: float) -> float:
        """The poll plan's step (:func:`~airflow_provider_kling.lifecycle.poll.poll_step`), with the batch's
        mean task time so far as the hint of the item's expected end, and its queued backoff."""
        return poll_step(
            self.poll_interval, now, expected_end=self.expected_end(item), queued_polls=item.queued_polls
        )

    def _end(
        self, item: ItemProgress, status: str, message: str | None, now: float, *, quiet: bool = False
    ) -> None:
        self._set(item, status)
        item.message, item.ended_at, item.busy = message, now, False
        if item.task is not None and status in (SUCCEEDED, FAILED, REFUSED) and self.ledger.limit is not None:
            units = units_of(item.task.get("final_unit_deduction"))
            self.ledger.settle(self._ledger_key(item), units)
            if status == SUCCEEDED:
                self.estimator.learn_request(self._request_of(item), units)
        if status == SUCCEEDED and item.task is not None:
            took = kling_duration(item.task)
            if took is None and item.admitted_at is not None:
                took = now - item.admitted_at
            if took is not None:
                self._took[0] += took
                self._took[1] += 1
        if not quiet:
            detail = f": {message}" if message else ""
            self._say(item, f"{status}{detail}", warning=status in (FAILED, ERROR, UNFINISHED))

    def _say(self, item: ItemProgress, text: str, *, warning: bool = False) -> None:
        """An item's news: a warning in the task log, the rest at debug (the log stays the size of
        its progress lines, not of the batch)."""
        if self.log is not None:
            (self.log.warning if warning else self.log.debug)("Batch item %r: %s", item.key, text)

    # -- progress -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {status: self._counts[status] for status in (PENDING, CREATING, RUNNING, *sorted(FINAL))}

    def eta(self, now: float) -> float | None:
        """Seconds until the batch ends, from the mean task time so far and the slots it may fill."""
        mean = self.expected_duration()
        if mean is None:
            return None
        waiting = sum(i.n for i in self.items if i.status == PENDING)
        running = [i for i in self.items if i.status in (CREATING, RUNNING)]
        left_running = max(
            (mean - (now - (now if i.admitted_at is None else i.admitted_at)) for i in running), default=0.0
        )
        waves = math.ceil(waiting / max(1, self.budget.slots))
        return max(0.0, left_running) + waves * mean

    def progress_line(self, now: float) -> str:
        counts = self.counts()
        ended = sum(counts[s] for s in FINAL)
        eta = self.eta(now)
        parts = [f"{ended} of {len(self.items)} done", f"{counts[RUNNING] + counts[CREATING]} running"]
        parts.append(f"ETA {eta:.0f}s" if eta is not None else "ETA unknown")
        parts.append(
            f"{counts[SUCCEEDED]} succeeded, {counts[FAILED]} failed, {counts[REFUSED]} refused, "
            f"{counts[ERROR] + counts[UNFINISHED]} not finished; "
            f"slots {self.budget.available(now)}/{self.budget.slots}"
        )
        return ", ".join(parts)
