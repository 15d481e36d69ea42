"""Recovery after a burst of API faults: once Kling answers again, a task that ended during the burst
is seen within two poll intervals (issue 22: the deferrable batch saw one 51 s late at a 1 s interval).

The burst mixes what the simulator can inject: 503s, 500s, 429s with ``Retry-After: 2`` and
malformed bodies, 23 in all, so that the last fault lands late in one poll's run of retries (where
the old exponential backoff had grown to 8-16 s). The worker's wait and the trigger run on a fake
clock (the time between answers is what they slept); the batch runs in real time and is measured
with loopback timestamps of the answers it received. Against the code before the change (its module
seams in place of the clock), the worker's wait saw the task 9.8 s after the last fault: it fails.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

from airflow_provider_kling.batch.admission import RUNNING, SUCCEEDED, BatchAdmission, ItemProgress
from airflow_provider_kling.batch.runner import BatchRunner
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.policy import FailurePolicy
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.testing import KlingSimulator
from airflow_provider_kling.triggers.kling import KlingTaskTrigger
from tests.unit.fakes import FakeClock

POLL_INTERVAL = 1.0
#: The promise: the finished task is seen within this long of the burst's last fault.
RECOVERY_BOUND = 2 * POLL_INTERVAL


class Answers:
    """Each answer the client received: (time on ``clock``, whether it was a fault, whether a task
    in it had succeeded)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.seen: list[tuple[float, bool, bool]] = []

    def record(self, status: int, content: bytes) -> None:
        try:
            json.loads(content)
        except ValueError:
            faulty = True
        else:
            faulty = status >= 400
        # a /v1/ task says "succeed", a /tasks record "succeeded"
        self.seen.append((self.clock(), faulty, b'"succeed"' in content or b'"succeeded"' in content))

    def lateness(self) -> float:
        """From the last faulty answer to the first answer after it that shows the task succeeded."""
        last_fault = max(at for at, faulty, _ in self.seen if faulty)
        return min(at for at, faulty, done in self.seen if done and at >= last_fault) - last_fault

    def faults(self) -> int:
        return sum(faulty for _, faulty, _ in self.seen)


def fault_burst(sim: Any, *, retry_after: float = 2) -> int:
    """8x 503, 5x 500, 5x 429 (Retry-After), 5 malformed bodies: served in that order."""
    sim.fail_next(8, status=503)
    sim.rate_limit_next(5, retry_after=retry_after)
    sim.error_next(5000, 5)
    sim.malformed_next(5)
    return 23


@pytest.fixture
def kling_simulator() -> Iterator[KlingSimulator]:
    """A simulator of this test's own, not the session's: these tests count every fault the client
    received, and a request another test left in flight on a shared simulator could take one of them."""
    with KlingSimulator() as simulator:
        yield simulator


@pytest.fixture
def running_task(kling_connection: Any) -> str:
    """A task that runs until the test says otherwise."""
    kling_connection.set_progress("manual")
    return KlingHook(clock=FakeClock()).create_task(model_name="kling-v1", prompt="a harbour", n=1).task_id


def record_sync_answers(monkeypatch: pytest.MonkeyPatch, answers: Answers) -> None:
    real = requests.Session.request

    def recording(self: requests.Session, *args: Any, **kwargs: Any) -> requests.Response:
        response = real(self, *args, **kwargs)
        answers.record(response.status_code, response.content)
        return response

    monkeypatch.setattr(requests.Session, "request", recording)


def record_async_answers(monkeypatch: pytest.MonkeyPatch, answers: Answers) -> None:
    real = httpx.AsyncClient.request

    async def recording(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> httpx.Response:
        response = await real(self, *args, **kwargs)
        answers.record(response.status_code, response.content)
        return response

    monkeypatch.setattr(httpx.AsyncClient, "request", recording)


def test_worker_wait_sees_a_task_that_ended_in_a_fault_burst_within_two_poll_intervals(
    kling_connection, running_task, monkeypatch
):
    clock = FakeClock()
    answers = Answers(clock.monotonic)
    record_sync_answers(monkeypatch, answers)
    burst = fault_burst(kling_connection)
    kling_connection.advance(running_task, to="succeed")  # Kling finishes it while the API errs

    task = wait_for_task(KlingHook(clock=clock), running_task, poll_interval=POLL_INTERVAL, timeout=600)

    assert task.task_status == "succeed"
    assert answers.faults() == burst
    assert answers.lateness() <= RECOVERY_BOUND
    # No retry of a poll waited longer than the poll interval, except what Retry-After asked for.
    assert max(clock.waits) <= 2.0


async def test_trigger_sees_a_task_that_ended_in_a_fault_burst_within_two_poll_intervals(
    kling_connection, running_task, monkeypatch
):
    clock = FakeClock()
    answers = Answers(clock.monotonic)
    record_async_answers(monkeypatch, answers)
    burst = fault_burst(kling_connection)
    kling_connection.advance(running_task, to="succeed")
    trigger = KlingTaskTrigger(running_task, poll_interval=POLL_INTERVAL, deadline=clock.time() + 600)
    trigger.clock = clock

    events = [event.payload async for event in trigger.run()]

    assert [event["status"] for event in events] == ["success"]
    assert answers.faults() == burst
    assert answers.lateness() <= RECOVERY_BOUND


async def test_batch_sees_tasks_that_ended_in_a_fault_burst_within_two_poll_intervals(
    kling_connection, monkeypatch
):
    poll_interval = 0.5  # real time here: the bound is 1 s of loopback timestamps
    kling_connection.set_progress("manual")
    answers = Answers(time.monotonic)
    record_async_answers(monkeypatch, answers)
    hook = KlingHook()
    requests_ = {
        key: ImageGenerationRequest.build(
            model_name="kling-v1", prompt=f"a harbour {key}", n=1, external_task_id=f"recovery-{key}"
        )
        for key in ("a", "b")
    }
    items = [ItemProgress(key=key, n=1, external_task_id=f"recovery-{key}") for key in requests_]
    admission = BatchAdmission(items, slots=2, poll_interval=poll_interval)
    runner = BatchRunner(
        hook,
        admission,
        requests_,
        deadline=time.time() + 120,
        policy=FailurePolicy(max_regenerations=0),
        log=hook.log,
    )

    batch = asyncio.ensure_future(runner.run())
    while not all(item.status == RUNNING for item in items):  # both created, polled while running
        await asyncio.sleep(0.02)
    fault_burst(kling_connection, retry_after=0.2)
    kling_connection.advance(to="succeed")
    await asyncio.wait_for(batch, timeout=60)

    assert [item.status for item in items] == [SUCCEEDED, SUCCEEDED]
    assert answers.faults() >= 1
    assert answers.lateness() <= 2 * poll_interval
