"""hooks/retry.py and the retry loop of hooks/core.py: backoff, Retry-After, budget, deadline, cap."""

from __future__ import annotations

from functools import partial

import pytest

from airflow_provider_kling.errors import KlingRateLimitError, KlingServerError
from airflow_provider_kling.hooks.core import blocking, drive, retried
from airflow_provider_kling.hooks.retry import RetryPolicy
from tests.unit.fakes import FakeClock


class Log:
    def warning(self, *args: object) -> None:
        pass


def failing(clock: FakeClock, error: Exception, cost: float = 0.0):
    calls = []

    def call() -> None:
        calls.append(clock.now)
        clock.now += cost
        raise error

    return call, calls


def run(fake: FakeClock, call, max_retries: int, **policy) -> None:
    steps = retried(partial(blocking, call), RetryPolicy(max_retries, **policy), "GET", Log())
    drive(steps, send=lambda request: None, sleep=fake.sleep)


def test_without_a_deadline_the_budget_alone_stops_retries():
    clock = FakeClock(now=0.0)
    call, calls = failing(clock, KlingServerError("down", http_status=503))

    with pytest.raises(KlingServerError):
        run(clock, call, max_retries=5)

    assert len(calls) == 6


def test_no_wait_reaches_past_the_deadline_and_no_retry_starts_at_it():
    clock = FakeClock(now=0.0)
    call, calls = failing(clock, KlingServerError("down", http_status=503), cost=0.1)

    with pytest.raises(KlingServerError):
        run(clock, call, max_retries=50, deadline=2.0, clock=clock.monotonic)

    assert all(at < 2.0 for at in calls)
    assert clock.now <= 2.0 + 0.1  # the last attempt's own cost, no wait beyond
    assert len(calls) >= 2


def test_a_retry_after_longer_than_the_time_left_stops_retrying_at_once():
    clock = FakeClock(now=0.0)
    call, calls = failing(clock, KlingRateLimitError("slow down", http_status=429, code=1303, retry_after=30))

    with pytest.raises(KlingRateLimitError):
        run(clock, call, max_retries=5, deadline=10.0, clock=clock.monotonic)

    assert calls == [0.0]
    assert clock.waits == []


def test_wait_is_clamped_to_the_time_left():
    clock = FakeClock(now=0.0)
    policy = RetryPolicy(5, deadline=3.0, clock=clock.monotonic)

    assert policy.wait(1, KlingRateLimitError("x", retry_after=20)) == 3.0


def test_stop_counts_retries_and_looks_at_the_coming_wait():
    clock = FakeClock(now=0.0)
    policy = RetryPolicy(3, deadline=10.0, clock=clock.monotonic)

    assert policy.stop(1, 4.0) is False
    assert policy.stop(1, 10.0) is True
    assert policy.stop(4, 0.0) is True


def test_a_cap_bounds_every_backoff_however_many_retries_came_before():
    policy = RetryPolicy(50, cap=1.0)

    waits = [policy.wait(retry, KlingServerError("down", http_status=503)) for retry in range(1, 30)]

    assert max(waits) <= 1.0
    assert min(waits) >= 0.5  # full jitter keeps at least half of the (capped) backoff


def test_retry_after_is_waited_exactly_shorter_or_longer_than_the_backoff_and_the_cap():
    policy = RetryPolicy(50, cap=1.0)

    assert policy.wait(6, KlingRateLimitError("x", retry_after=0)) == 0.0
    assert policy.wait(1, KlingRateLimitError("x", retry_after=2)) == 2.0
    assert policy.wait(1, KlingRateLimitError("x", retry_after=10_000)) == 300.0


def test_without_a_cap_the_backoff_grows_to_a_minute():
    policy = RetryPolicy(50)

    assert 30.0 <= policy.wait(20, KlingServerError("down", http_status=503)) <= 60.0
