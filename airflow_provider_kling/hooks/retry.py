"""The hook's retry policy: which failures are resent, how long to wait, and how many times."""

from __future__ import annotations

import random
from typing import Any

from airflow_provider_kling.errors import is_retryable


class WaitHonouringRetryAfter:
    """Exponential backoff with full jitter; a ``Retry-After`` from Kling wins when it is longer."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0) -> None:
        self.initial, self.maximum = initial, maximum

    def __call__(self, retry_state: Any) -> float:
        attempt = retry_state.attempt_number
        backoff = min(self.maximum, self.initial * 2 ** (attempt - 1))
        wait = backoff / 2 + random.uniform(0, backoff / 2)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, min(float(retry_after), self.maximum * 5))
        return wait


def retrying_kwargs(max_retries: int, what: str, log: Any) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying``, shared by both transports."""
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
        "wait": WaitHonouringRetryAfter(),
        "stop": tenacity.stop_after_attempt(max_retries + 1),
        "before_sleep": log_retry,
        "reraise": True,
    }
