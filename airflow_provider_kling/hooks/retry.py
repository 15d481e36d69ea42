"""The hook's retry policy: which failures are resent, how long to wait, how many times, and until when."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from airflow_provider_kling.errors import is_retryable


class WaitHonouringRetryAfter:
    """Exponential backoff with full jitter; a ``Retry-After`` from Kling wins when it is longer.

    With a ``deadline`` (read against ``clock``), no wait reaches past it.
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 60.0,
        *,
        deadline: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.initial, self.maximum = initial, maximum
        self.deadline, self.clock = deadline, clock

    def __call__(self, retry_state: Any) -> float:
        attempt = retry_state.attempt_number
        backoff = min(self.maximum, self.initial * 2 ** (attempt - 1))
        wait = backoff / 2 + random.uniform(0, backoff / 2)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, min(float(retry_after), self.maximum * 5))
        if self.deadline is not None and self.clock is not None:
            wait = max(0.0, min(wait, self.deadline - self.clock()))
        return wait


class StopAtBudgetOrDeadline:
    """Stop after ``max_retries`` retries, or when the coming wait would reach the deadline.

    Runs after the wait is chosen (tenacity >= 9 sets ``upcoming_sleep`` first), so a retry is
    only made when there is still time to send it after the wait.
    """

    def __init__(
        self, max_retries: int, deadline: float | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self.max_retries, self.deadline, self.clock = max_retries, deadline, clock

    def __call__(self, retry_state: Any) -> bool:
        if retry_state.attempt_number > self.max_retries:
            return True
        if self.deadline is None or self.clock is None:
            return False
        return self.clock() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


def retrying_kwargs(
    max_retries: int,
    what: str,
    log: Any,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying``, shared by both transports.

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
