"""When to poll, when to give up, and what a poll's answer means: the one poll plan of every wait.

The worker's wait, the trigger and the batch (each of its running items) poll by :func:`poll_step`
and give up by :func:`over_error_budget`; :class:`PollPlan` adds the deadline and the status log of
a single wait. No I/O and no clock of its own: callers pass ``now`` (in whatever clock their
deadline uses), so every driver and its tests share one tested core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.defaults import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT, GENERATIONS_PATH
from airflow_provider_kling.errors import KlingError, KlingTaskTimeoutError, task_failed_error
from airflow_provider_kling.hooks.core import MIN_REQUEST_SECONDS, as_async, run_blocking, time_left
from airflow_provider_kling.lifecycle.policy import Outcome, outcome_of

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models.api_style import ApiStyle
    from airflow_provider_kling.models.task import KlingTask

# the hook's request clamp, which every wait uses, and the wait's defaults (the operators' too)
__all__ = ["DEFAULT_POLL_INTERVAL", "DEFAULT_TIMEOUT", "MIN_REQUEST_SECONDS", "time_left"]

#: Failed polls in a row (each already retried by the hook) tolerated before the wait gives up.
DEFAULT_MAX_POLL_ERRORS = 5
#: Airflow's own bound on a deferral outlasts the trigger's deadline by this much: the trigger's
#: event (with the task's last status) normally comes first; Airflow's timeout is the backstop.
DEFER_GRACE_SECONDS = 60.0
#: While a task is still ``submitted`` (queued), each poll step grows by this factor ...
QUEUED_BACKOFF = 1.5
#: ... up to this many poll intervals.
MAX_QUEUED_STEPS = 3.0
#: Past its expected end, a task is polled this often (a fraction of the interval; at least 0.5 s):
#: a slot that frees is seen (and refilled) soon.
QUICK_POLL_FRACTION, QUICK_POLL_MIN = 0.1, 0.5


def poll_step(
    poll_interval: float, now: float, *, expected_end: float | None = None, queued_polls: int = 0
) -> float:
    """
    Seconds to the next poll of a running task: at its expected end when a hint says when that is
    (``expected_end``, e.g. a batch's mean task time so far), and often once it is past it; else
    the interval, growing while the task has been queued for ``queued_polls`` polls (its
    generation is still ahead).
    """
    if expected_end is not None:
        quick = min(poll_interval, max(QUICK_POLL_MIN, poll_interval * QUICK_POLL_FRACTION))
        left = expected_end - now
        return min(poll_interval, left) if left > quick else quick
    if queued_polls > 0:
        return poll_interval * min(MAX_QUEUED_STEPS, QUEUED_BACKOFF ** max(0, queued_polls - 1))
    return poll_interval


def over_error_budget(exc: KlingError, errors_in_a_row: int, budget: int = DEFAULT_MAX_POLL_ERRORS) -> bool:
    """Whether a wait gives up after ``errors_in_a_row`` failed polls, the last one ``exc`` (each
    already retried by the hook): no retry helps it, or the budget is spent."""
    return not exc.retryable or errors_in_a_row > budget


def status_words(task: KlingTask) -> str:
    """How a log line says the task's status: "is queued", "succeeded" (never "is succeed")."""
    outcome = outcome_of(task.task_status)
    if outcome is Outcome.RUNNING:
        status = task.task_status.value
        return "is queued" if status == "submitted" else f"is {status}"
    return "succeeded" if outcome is Outcome.SUCCEEDED else "failed"


def defer_timeout(timeout: float) -> timedelta:
    """The ``timeout=`` for ``BaseOperator.defer`` of a wait with this many seconds to its deadline."""
    return timedelta(seconds=max(0.0, timeout) + DEFER_GRACE_SECONDS)


def deadline_error(
    task_id: str, status: str, elapsed: float, last_error: BaseException | None = None
) -> KlingTaskTimeoutError:
    """The error for a task still running at its deadline, saying how to pick it up again."""
    seen = f"was still '{status}'" if status != "unknown" else "could not be read"
    cause = f" (last poll: {last_error})" if last_error is not None else ""
    return KlingTaskTimeoutError(
        f"Kling task {task_id} {seen} after {elapsed:.0f}s, past its deadline{cause}. "
        "It may still finish on Kling's side: clear and re-run this Airflow task (it resumes the same "
        "Kling task, with no new generation) or wait for it with "
        f"KlingTaskSensor(kling_task_id='{task_id}').",
        task_id=task_id,
    )


@dataclass
class PollPlan:
    """
    One wait for one task: the poll step, the error budget and the deadline, decided in one place.

    The caller polls, reports each answer with :meth:`answered` (or :meth:`saw`) or each failed poll
    with :meth:`failed`, then sleeps :meth:`next_delay`. Any of them raises when the wait is over:
    :class:`~airflow_provider_kling.errors.KlingTaskFailedError` (refused: content policy), the
    poll's own error (not retryable, or over budget), or :class:`KlingTaskTimeoutError` at the deadline.
    """

    task_id: str
    poll_interval: float
    deadline: float
    started: float
    max_poll_errors: int = DEFAULT_MAX_POLL_ERRORS
    #: When the task is expected to end (same clock), if a hint says; see :func:`poll_step`.
    expected_end: float | None = None
    status: str = "unknown"
    errors_in_a_row: int = 0
    polls_in_status: int = 0
    last_error: KlingError | None = None

    def saw(self, task: KlingTask) -> bool:
        """Record an answer; True when the status changed (worth an INFO line). Raises for ``failed``."""
        status = task.task_status.value
        changed = status != self.status
        self.status = status
        self.polls_in_status = 1 if changed else self.polls_in_status + 1
        self.errors_in_a_row, self.last_error = 0, None
        if outcome_of(status) is Outcome.FAILED:  # refused or not: the error's class says which
            raise task_failed_error(
                task.task_id, task.task_status_msg, external_task_id=task.external_task_id
            )
        return changed

    def answered(self, task: KlingTask, log: Any, now: float) -> bool:
        """:meth:`saw` ``task`` and log its status (INFO on a change); True once it succeeded."""
        changed = self.saw(task)
        (log.info if changed else log.debug)(
            "Kling task %s %s after %.0fs", task.task_id, status_words(task), now - self.started
        )
        return outcome_of(task.task_status) is Outcome.SUCCEEDED

    def failed(self, exc: KlingError) -> None:
        """Record a failed poll; re-raise it when no retry can help or the budget is spent."""
        self.errors_in_a_row += 1
        self.last_error = exc
        if over_error_budget(exc, self.errors_in_a_row, self.max_poll_errors):
            raise exc

    def step(self, now: float = 0.0) -> float:
        """The poll step (:func:`poll_step`)."""
        queued = self.polls_in_status if self.status == "submitted" else 0
        return poll_step(self.poll_interval, now, expected_end=self.expected_end, queued_polls=queued)

    def next_delay(self, now: float) -> float:
        """Seconds to sleep before the next poll, never past the deadline; raises once it has passed."""
        if now >= self.deadline:
            raise deadline_error(self.task_id, self.status, now - self.started, self.last_error)
        return max(0.0, min(self.step(now), self.deadline - now))


def wait_for_task(
    hook: KlingHook,
    task_id: str,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    timeout: float = DEFAULT_TIMEOUT,
    endpoint: str = GENERATIONS_PATH,
    api_style: ApiStyle | str | None = None,
) -> KlingTask:
    """
    The worker's wait: :func:`apoll_until_done` run blocking with ``hook.get_task`` and the hook's
    clock. Returns the succeeded task; raises :class:`KlingTaskFailedError`, or
    :class:`KlingTaskTimeoutError` once ``timeout`` seconds have passed. Each poll's retries end by
    the deadline and wait at most ``poll_interval``.
    """
    clock = hook.clock
    start = clock.monotonic()
    plan = PollPlan(task_id, poll_interval, deadline=start + timeout, started=start)

    def poll() -> KlingTask:
        where = {"endpoint": endpoint, "api_style": api_style}
        return hook.get_task(task_id, deadline=plan.deadline, max_wait=poll_interval, **where)  # type: ignore[arg-type]

    return run_blocking(
        apoll_until_done(plan, as_async(poll), as_async(clock.sleep), hook.log, clock.monotonic)
    )


async def apoll_until_done(
    plan: PollPlan,
    poll: Callable[[], Awaitable[KlingTask]],
    sleep: Callable[[float], Awaitable[None]],
    log: Any,
    now: Callable[[], float],
) -> KlingTask:
    """
    The one wait of one task: polls with ``poll`` and sleeps with ``sleep`` as ``plan`` says; returns
    the succeeded task, or raises as :class:`PollPlan` does (failed, over budget, deadline). The
    trigger awaits it; the worker's wait (:func:`wait_for_task`) runs it blocking.
    """
    while True:
        try:
            task = await poll()
        except KlingError as exc:
            plan.failed(exc)
            log.warning("Polling Kling task %s failed (%s); polling again", plan.task_id, exc)
        else:
            if plan.answered(task, log, now()):
                return task
            del task  # not held while asleep: thousands of waiting triggers, a dozen objects each
        if delay := plan.next_delay(now()):
            await sleep(delay)
