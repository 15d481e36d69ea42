"""The triggerer's shared pieces: one client per connection per loop, cached settings, their lifecycle."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_kling.hooks import async_client
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.triggers import watch
from airflow_provider_kling.triggers.kling import KlingTaskTrigger
from tests.unit.fakes import FakeClock
from tests.unit.waiting import await_until


def create_task(prompt: str = "a lantern festival") -> str:
    return KlingHook().create_task(model_name="kling-v1", prompt=prompt, n=1).task_id


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every async client built, in order."""
    from airflow_provider_kling.hooks import transport

    built: list[object] = []
    real = transport.build_async_client

    def counting(*args, **kwargs):
        client = real(*args, **kwargs)
        built.append(client)
        return client

    monkeypatch.setattr(transport, "build_async_client", counting)
    return built


async def run_to_event(trigger: KlingTaskTrigger) -> dict:
    (event,) = [event.payload async for event in trigger.run()]
    return event


async def test_two_triggers_share_one_client_and_the_last_to_end_closes_it(kling_connection, builds):
    kling_connection.set_progress("manual")  # the slow task ends when the test says so
    slow = create_task()
    kling_connection.set_progress("immediate")
    quick = create_task()
    deadline = time.time() + 300
    slow_trigger = KlingTaskTrigger(slow, poll_interval=0.05, deadline=deadline)
    quick_trigger = KlingTaskTrigger(quick, poll_interval=0.05, deadline=deadline)

    slow_run = asyncio.ensure_future(run_to_event(slow_trigger))
    await await_until(lambda: builds, "the slow trigger has its client")
    quick_event = await run_to_event(quick_trigger)

    assert quick_event["status"] == "success"
    assert len(builds) == 1, "the second trigger used the first one's client"
    assert not builds[0].is_closed, "still in use by the slow trigger"
    kling_connection.advance(slow, to="succeed")
    assert (await slow_run)["status"] == "success"
    assert builds[0].is_closed
    assert async_client.open_clients() == 0


async def test_hooks_of_one_connection_get_one_client_until_the_last_lets_go(kling_connection, builds):
    first, second = KlingHook(), KlingHook()
    task_id = create_task()

    await first.aget_task(task_id)
    await second.aget_task(task_id)
    assert first._async_client is second._async_client
    await first.aclose()
    assert not builds[0].is_closed
    await second.aclose()

    assert len(builds) == 1 and builds[0].is_closed
    assert async_client.open_clients() == 0


async def test_a_trigger_cancelled_mid_poll_leaks_nothing(kling_connection, builds):
    kling_connection.set_latency(60)
    task_id = create_task()
    kling_connection.set_delay(5)  # the poll is in flight when the cancellation comes
    trigger = KlingTaskTrigger(task_id, poll_interval=0.05, deadline=time.time() + 30)

    running = asyncio.ensure_future(run_to_event(trigger))
    await await_until(lambda: async_client.open_clients() == 1 and watch.watched_tasks() == 1, "a poll")
    await asyncio.sleep(watch.BATCH_WINDOW + 0.3)  # at least: the first GET /tasks waits for its batch
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert async_client.open_clients() == 0
    assert watch.watched_tasks() == 0
    assert builds[0].is_closed


async def test_many_triggers_starting_together_read_the_connection_once(kling_connection, monkeypatch):
    from airflow.providers.common.compat import connection

    reads: list[str] = []
    real = connection.get_async_connection

    async def counting(conn_id, *args):
        reads.append(conn_id)
        await asyncio.sleep(0.01)
        return await real(conn_id, *args)

    monkeypatch.setattr(connection, "get_async_connection", counting)
    hooks = [KlingHook() for _ in range(20)]

    settings = await asyncio.gather(*(hook.aget_settings() for hook in hooks))

    assert reads == ["kling_default"]
    assert {s.base_url for s in settings} == {kling_connection.base_url}


async def test_a_changed_connection_takes_effect_once_the_cache_expires(kling_connection, monkeypatch):
    clock = FakeClock()
    await KlingHook(clock=clock).aget_settings()
    monkeypatch.setenv(
        "AIRFLOW_CONN_KLING_DEFAULT",
        '{"conn_type": "kling", "host": "http://127.0.0.1:9/moved", "password": "rotated-key"}',
    )

    clock.now += async_client.SETTINGS_TTL - 1
    assert (await KlingHook(clock=clock).aget_settings()).base_url == kling_connection.base_url
    clock.now += 2
    rotated = await KlingHook(clock=clock).aget_settings()
    assert (rotated.base_url, rotated.api_key) == ("http://127.0.0.1:9/moved", "rotated-key")
