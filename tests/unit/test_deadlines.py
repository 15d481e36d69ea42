"""Every wait ends by its deadline: the worker's loop, the async hook and the trigger, against the simulator.

The simulator answers 503 to every poll. Time is a fake clock given to the hook (and the trigger),
so the tests assert on recorded waits and request timeouts, not on wall time; the real requests
to the simulator take milliseconds and do not move the fake clock.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import requests
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.errors import KlingServerError, KlingTaskTimeoutError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import MIN_REQUEST_SECONDS, defer_timeout, wait_for_task
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.triggers.kling import KlingTaskTrigger
from tests.unit.fakes import FakeClock
from tests.unit.task_context import make_context

TIMEOUT = 2.0
POLL_INTERVAL = 10.0
#: The promise: a wait ends within one poll interval plus a second of its deadline.
LATEST_END = TIMEOUT + POLL_INTERVAL + 1.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=5000.0, wall=time.time())


@pytest.fixture
def task_id(kling_connection) -> str:
    """A task that would take a minute, then every API request answers 503."""
    kling_connection.set_latency(60)
    created = KlingHook().create_task(model_name="kling-v1", prompt="a tide pool", n=1).task_id
    kling_connection.fail_next(100_000, status=503)
    return created


def test_sync_wait_on_failing_polls_ends_within_a_poll_interval_and_a_second_of_its_deadline(
    task_id, clock, monkeypatch
):
    sent: list[tuple[float, float]] = []  # (time left to the deadline, read timeout) of each request
    real_request = requests.Session.request
    start = clock.now

    def recording_request(self: requests.Session, *args: Any, **kwargs: Any) -> Any:
        sent.append((start + TIMEOUT - clock.now, kwargs["timeout"][1]))
        return real_request(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", recording_request)

    with pytest.raises(KlingTaskTimeoutError) as raised:
        wait_for_task(KlingHook(clock=clock), task_id, poll_interval=POLL_INTERVAL, timeout=TIMEOUT)

    assert clock.now - start <= LATEST_END
    assert sum(clock.waits) <= TIMEOUT + 1e-9
    assert "HTTP 503" in str(raised.value)
    assert sent, "it polled"
    for left, read_timeout in sent:
        assert read_timeout <= max(left, MIN_REQUEST_SECONDS)


async def test_async_get_with_a_deadline_retries_only_until_it(task_id, clock, monkeypatch):
    sent: list[tuple[float, float | None]] = []
    real_request = httpx.AsyncClient.request
    deadline = clock.now + TIMEOUT

    async def recording_request(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
        sent.append((deadline - clock.now, kwargs["timeout"].read))
        return await real_request(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "request", recording_request)
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingServerError):
        await hook.aget_task(task_id, deadline=deadline)
    await hook.aclose()

    assert clock.now <= deadline
    assert len(sent) >= 2, "it retried while there was time"
    for left, read_timeout in sent:
        assert read_timeout is not None and read_timeout <= max(left, MIN_REQUEST_SECONDS)


async def test_trigger_on_failing_polls_ends_with_a_timeout_event_within_a_poll_interval_and_a_second(
    task_id, clock
):
    start = clock.now
    trigger = KlingTaskTrigger(task_id, poll_interval=POLL_INTERVAL, deadline=clock.time() + TIMEOUT)
    trigger.clock = clock

    events = [event.payload async for event in trigger.run()]

    assert [event["status"] for event in events] == ["timeout"]
    assert task_id in events[0]["message"]
    assert clock.now - start <= LATEST_END


def test_operator_deferral_passes_airflow_a_timeout_beyond_the_triggers_deadline(kling_connection):
    kling_connection.set_latency(60)
    with DAG("kling_deadline_dag", schedule=None):
        operator = KlingImageGenerationOperator(
            task_id="generate", prompt="a tide pool", deferrable=True, poll_interval=5, timeout=300
        )

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(make_context())

    assert deferred.value.timeout == defer_timeout(300)
    assert deferred.value.trigger.deadline <= time.time() + 300
