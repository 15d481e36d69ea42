"""The hook's retry policy: how long to wait before a retry, how many times, and until when.

What is retried is the error's to say (:func:`~airflow_provider_kling.errors.is_retryable`); the
loop that asks is :func:`~airflow_provider_kling.hooks.core.retried`, for API calls and downloads.
"""

from __future__ import annotations

import random
from collections.abc import Callable

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
