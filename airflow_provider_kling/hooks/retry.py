"""The hook's retry policy: which failures are resent, how long to wait, how many times, and until when.

:class:`RetryPolicy` decides; the hook's API calls ask it directly (:meth:`KlingCore.call
<airflow_provider_kling.hooks.core.KlingCore.call>`), image downloads through tenacity
(:func:`retrying_kwargs`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from airflow_provider_kling.errors import is_retryable

#: The first backoff, and the longest, in seconds (before jitter; ``cap`` may lower the longest).
INITIAL_BACKOFF, MAX_BACKOFF = 1.0, 60.0
#: The longest ``Retry-After`` honoured; a longer one is waited this long.
MAX_RETRY_AFTER = 300.0


class RetryPolicy:
    """
    Waits: exponential backoff with full jitter, never above ``cap`` (a poll's interval: a task
    that ends while the API errs is seen within an interval of its recovery); a ``Retry-After``
    from Kling is waited exactly, no longer (up to :data:`MAX_RETRY_AFTER`). No wait reaches past
    ``deadline`` (read with ``clock``). Stops after ``max_retries`` retries, or when the coming
    wait would reach the deadline.
    """

    def __init__(
        self,
        max_retries: int,
        *,
        deadline: float | None = None,
        clock: Callable[[], float] | None = None,
        cap: float | None = None,
        initial: float = INITIAL_BACKOFF,
        maximum: float = MAX_BACKOFF,
    ) -> None:
        self.max_retries, self.deadline, self.clock = max_retries, deadline, clock
        self.initial = initial
        self.maximum = maximum if cap is None else max(0.0, min(maximum, cap))

    def wait(self, retry: int, exc: BaseException | None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first) after ``exc``."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = min(float(retry_after), MAX_RETRY_AFTER)
        else:
            backoff = min(self.maximum, self.initial * 2 ** (retry - 1))
            wait = backoff / 2 + random.uniform(0, backoff / 2)
        if self.deadline is not None and self.clock is not None:
            wait = max(0.0, min(wait, self.deadline - self.clock()))
        return wait

    def stop(self, retry: int, wait: float) -> bool:
        """Whether retry number ``retry``, after ``wait``, is not to be made."""
        if retry > self.max_retries:
            return True
        if self.deadline is None or self.clock is None:
            return False
        return self.clock() + wait >= self.deadline


class WaitHonouringRetryAfter:
    """:meth:`RetryPolicy.wait` as tenacity's ``wait``."""

    def __init__(
        self,
        initial: float = INITIAL_BACKOFF,
        maximum: float = MAX_BACKOFF,
        *,
        deadline: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.policy = RetryPolicy(0, deadline=deadline, clock=clock, initial=initial, maximum=maximum)

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.policy.wait(retry_state.attempt_number, exc)


class StopAtBudgetOrDeadline:
    """:meth:`RetryPolicy.stop` as tenacity's ``stop``.

    Runs after the wait is chosen (tenacity >= 9 sets ``upcoming_sleep`` first), so a retry is
    only made when there is still time to send it after the wait.
    """

    def __init__(
        self, max_retries: int, deadline: float | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self.policy = RetryPolicy(max_retries, deadline=deadline, clock=clock)

    def __call__(self, retry_state: Any) -> bool:
        return self.policy.stop(retry_state.attempt_number, retry_state.upcoming_sleep or 0.0)


def retrying_kwargs(
    max_retries: int,
    what: str,
    log: Any,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` (image downloads).

    :param deadline: Give up retrying rather than wait past this time (read with ``clock``).
    """
    import tenacity

    def log_retry(state: Any) -> None:
        exc = state.outcome.exception()
        log.warning(
            "Kling %s failed (%s); retry %d of %d in %.1fs",
            what,
            exc,
            state.attempt_number,
            max_retries,
            state.next_action.sleep if state.next_action else 0.0,
        )

    return {
        "retry": tenacity.retry_if_exception(is_retryable),
        "wait": WaitHonouringRetryAfter(deadline=deadline, clock=clock),
        "stop": StopAtBudgetOrDeadline(max_retries, deadline, clock),
        "before_sleep": log_retry,
        "reraise": True,
    }
