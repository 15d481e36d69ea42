"""hooks/retry.py: backoff, Retry-After, the retry budget and the deadline."""

from __future__ import annotations

import pytest
import tenacity

from airflow_provider_kling.errors import KlingRateLimitError, KlingServerError
from airflow_provider_kling.hooks.retry import (
    StopAtBudgetOrDeadline,
    WaitHonouringRetryAfter,
    retrying_kwargs,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Log:
    def warning(self, *args: object) -> None:
        pass


def failing(clock: Clock, error: Exception, cost: float = 0.0):
    calls = []

    def call() -> None:
        calls.append(clock.now)
        clock.now += cost
        raise error

    return call, calls


def run(fake: Clock, call, **policy) -> None:
    tenacity.Retrying(sleep=fake.sleep, **retrying_kwargs(log=Log(), what="GET", **policy))(call)


def test_without_a_deadline_the_budget_alone_stops_retries():
    clock = Clock()
    call, calls = failing(clock, KlingServerError("down", http_status=503))

    with pytest.raises(KlingServerError):
        run(clock, call, max_retries=5)

    assert len(calls) == 6


def test_no_wait_reaches_past_the_deadline_and_no_retry_starts_at_it():
    clock = Clock()
    call, calls = failing(clock, KlingServerError("down", http_status=503), cost=0.1)

    with pytest.raises(KlingServerError):
        run(clock, call, max_retries=50, deadline=2.0, clock=clock)

    assert all(at < 2.0 for at in calls)
    assert clock.now <= 2.0 + 0.1  # the last attempt's own cost, no wait beyond
    assert len(calls) >= 2


def test_a_retry_after_longer_than_the_time_left_stops_retrying_at_once():
    clock = Clock()
    call, calls = failing(clock, KlingRateLimitError("slow down", http_status=429, code=1303, retry_after=30))

    with pytest.raises(KlingRateLimitError):
        run(clock, call, max_retries=5, deadline=10.0, clock=clock)

    assert calls == [0.0]
    assert clock.waits == []


def test_wait_is_clamped_to_the_time_left():
    clock = Clock()
    wait = WaitHonouringRetryAfter(deadline=3.0, clock=clock)
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = 1
    state.set_exception((KlingRateLimitError, KlingRateLimitError("x", retry_after=20), None))

    assert wait(state) == 3.0


def test_stop_counts_retries_and_looks_at_the_coming_wait():
    clock = Clock()
    stop = StopAtBudgetOrDeadline(max_retries=3, deadline=10.0, clock=clock)
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})

    state.attempt_number, state.upcoming_sleep = 1, 4.0
    assert stop(state) is False
    state.upcoming_sleep = 10.0
    assert stop(state) is True
    state.attempt_number, state.upcoming_sleep = 4, 0.0
    assert stop(state) is True
