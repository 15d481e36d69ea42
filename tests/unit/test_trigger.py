"""KlingTaskTrigger: serialization, and polling the simulator until exactly one event."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from airflow_provider_kling.errors import KlingTaskFailedError, KlingTaskTimeoutError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.triggers.kling import KlingTaskTrigger, task_from_event


def create_task(prompt: str = "a quiet harbour at night") -> str:
    return KlingHook().create_task(model_name="kling-v1", prompt=prompt, n=1).task_id


async def run_to_event(trigger: KlingTaskTrigger) -> dict:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1, "a trigger yields exactly one event"
    return events[0]


def test_serialize_round_trips_identifiers_and_deadline_only(kling_connection):
    trigger = KlingTaskTrigger(
        kling_task_id="123", kling_conn_id="kling_default", poll_interval=2, deadline=1234.5
    )
    path, kwargs = trigger.serialize()

    assert path == "airflow_provider_kling.triggers.kling.KlingTaskTrigger"
    assert kwargs == {
        "kling_task_id": "123",
        "kling_conn_id": "kling_default",
        "poll_interval": 2.0,
        "deadline": 1234.5,
        "endpoint": "/v1/images/generations",
        "api_style": None,
    }
    assert kling_connection.api_key not in json.dumps(kwargs)
    assert KlingTaskTrigger(**kwargs).serialize() == (path, kwargs)


async def test_polls_the_kling_task_after_the_triggerer_attaches_the_task_instance(kling_connection):
    # The triggerer sets trigger.task_instance, and BaseTrigger then overwrites trigger.task_id with
    # the Airflow task id: the Kling task id must live elsewhere, or the trigger polls the wrong task.
    task_id = create_task()
    trigger = KlingTaskTrigger(task_id, poll_interval=0.05, deadline=time.time() + 300)
    trigger.task_instance = SimpleNamespace(task_id="generate_images")

    event = await run_to_event(trigger)

    assert event["status"] == "success", event
    assert task_from_event(event, KlingHook()).task_id == task_id


async def test_success_event_carries_the_task(kling_connection):
    kling_connection.set_latency(0.3)
    task_id = create_task()

    event = await run_to_event(KlingTaskTrigger(task_id, poll_interval=0.05, deadline=time.time() + 300))

    assert event["status"] == "success"
    task = task_from_event(event, KlingHook())
    assert task.task_id == task_id
    assert task.images and task.images[0].url


async def test_failed_task_gives_failed_event_with_kling_message(kling_connection):
    task_id = create_task("a picture #fail")

    event = await run_to_event(KlingTaskTrigger(task_id, poll_interval=0.05, deadline=time.time() + 300))

    assert event["status"] == "failed"
    with pytest.raises(KlingTaskFailedError, match=task_id):
        task_from_event(event, KlingHook())


async def test_deadline_gives_timeout_event(kling_connection):
    kling_connection.set_latency(60)
    task_id = create_task()

    event = await run_to_event(KlingTaskTrigger(task_id, poll_interval=0.05, deadline=time.time() + 0.3))

    assert event["status"] == "timeout"
    assert task_id in event["message"]
    with pytest.raises(KlingTaskTimeoutError):
        task_from_event(event, KlingHook())


async def test_transient_5xx_polls_are_tolerated(kling_connection, monkeypatch):
    conn = json.loads(kling_connection.airflow_conn_json())
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps({**conn, "extra": {"max_retries": 0}}))
    task_id = create_task()
    kling_connection.fail_next(2, status=503)

    event = await run_to_event(KlingTaskTrigger(task_id, poll_interval=0.05, deadline=time.time() + 300))

    assert event["status"] == "success"
    assert kling_connection.counters(kling_connection.api_key)["faults"] == 2


async def test_persistent_errors_give_error_event_after_budget(kling_connection, monkeypatch):
    conn = json.loads(kling_connection.airflow_conn_json())
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps({**conn, "extra": {"max_retries": 0}}))
    task_id = create_task()
    kling_connection.fail_next(10, status=500)  # more than the one error budget of every wait

    trigger = KlingTaskTrigger(task_id, poll_interval=0.01, deadline=time.time() + 300)
    event = await run_to_event(trigger)

    assert event["status"] == "error"
    assert event["retryable"] is True


async def test_unknown_task_gives_error_event_that_airflow_should_not_retry(kling_connection):
    event = await run_to_event(
        KlingTaskTrigger("no-such-task", poll_interval=0.05, deadline=time.time() + 300)
    )

    assert event["status"] == "error"
    assert event["retryable"] is False


async def test_triggers_starting_together_spread_their_first_polls_over_one_interval(kling_connection):
    # 10,000 triggers handed over at once must not all poll in the same second, nor in step after.
    from tests.unit.fakes import FakeClock

    kling_connection.set_progress("immediate")
    firsts = []
    for i in range(12):
        trigger = KlingTaskTrigger(create_task(f"a kite {i}"), poll_interval=10, deadline=time.time() + 300)
        trigger.clock = FakeClock(wall=time.time())
        assert (await run_to_event(trigger))["status"] == "success"
        firsts.append(trigger.clock.waits[0])

    assert all(0 <= wait < 10 for wait in firsts)
    assert len(set(firsts)) == 12 and max(firsts) - min(firsts) > 5
