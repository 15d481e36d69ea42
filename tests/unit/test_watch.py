"""triggers/watch.py: triggers of one connection share rounds of Kling's task list."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_kling.errors import KlingPermissionError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.triggers import watch
from airflow_provider_kling.triggers.kling import KlingImageTaskTrigger


def create_tasks(k: int, latency: float, simulator) -> list[str]:
    simulator.set_latency(latency)
    hook = KlingHook()
    return [
        hook.create_image_task(model_name="kling-v1", prompt=f"a kite {i}", n=1).task_id for i in range(k)
    ]


async def run_all(task_ids: list[str], poll_interval: float = 0.1) -> list[dict]:
    deadline = time.time() + 20

    async def one(task_id: str) -> dict:
        trigger = KlingImageTaskTrigger(task_id, poll_interval=poll_interval, deadline=deadline)
        (event,) = [event.payload async for event in trigger.run()]
        return event

    return await asyncio.gather(*(one(task_id) for task_id in task_ids))


async def test_triggers_of_one_connection_read_statuses_from_shared_list_rounds(kling_connection):
    kling_connection.set_slots(100)
    task_ids = create_tasks(8, latency=1.0, simulator=kling_connection)
    kling_connection.reset_counters()

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success"] * 8
    assert {event["task"]["task_id"] for event in events} == set(task_ids)
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["queries"] == 0, "every task was on the first page"
    # One poll per trigger per 0.1 s for about a second would be about 80 queries.
    assert 1 <= counters["lists"] <= 8
    assert watch.watched_tasks() == 0


async def test_one_query_per_task_per_poll_without_list_polling(kling_connection, monkeypatch):
    monkeypatch.setattr(watch, "LIST_POLLING", False)
    kling_connection.set_slots(100)
    task_ids = create_tasks(8, latency=1.0, simulator=kling_connection)
    kling_connection.reset_counters()

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success"] * 8
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["lists"] == 0
    assert counters["queries"] >= 8 * 5


async def test_a_task_not_on_the_listed_pages_is_queried_by_id(kling_connection, monkeypatch):
    monkeypatch.setattr(watch, "PAGE_SLACK", 0)
    monkeypatch.setattr(watch, "MAX_PAGES", 1)
    kling_connection.set_slots(100)
    (older,) = create_tasks(1, latency=0.0, simulator=kling_connection)
    create_tasks(3, latency=0.0, simulator=kling_connection)  # newer: they fill the one-task page
    kling_connection.reset_counters()

    (event,) = await run_all([older])

    assert event["status"] == "success"
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["lists"], counters["queries"]) == (1, 1)


async def test_an_external_task_id_is_found_in_the_list(kling_connection):
    KlingHook().create_image_task(model_name="kling-v1", prompt="a kite", n=1, external_task_id="kite-7")
    kling_connection.reset_counters()

    (event,) = await run_all(["kite-7"])

    assert event["status"] == "success"
    assert event["task"]["task_info"]["external_task_id"] == "kite-7"
    assert kling_connection.counters(kling_connection.api_key)["queries"] == 0


async def test_a_host_that_refuses_the_list_is_polled_by_id(kling_connection, monkeypatch):
    async def refuse(self, *args, **kwargs):
        raise KlingPermissionError("no permission for this API", http_status=403, code=1103)

    monkeypatch.setattr(KlingHook, "_alist_task_data", refuse)
    task_ids = create_tasks(2, latency=0.3, simulator=kling_connection)

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success", "success"]
    assert kling_connection.counters(kling_connection.api_key)["queries"] >= 2


async def test_an_unknown_task_id_still_ends_in_a_not_found_error(kling_connection):
    (event,) = await run_all(["no-such-task"])

    assert event["status"] == "error"
    assert event["retryable"] is False


@pytest.mark.parametrize("watched, expected", [(1, 51), (10, 60), (1000, 500)])
def test_page_size_covers_the_watched_tasks_and_some_newer_ones(watched, expected):
    board = watch._Board(watched={str(i): 1 for i in range(watched)})
    assert board.page_size() == expected


async def test_a_trigger_cancelled_while_reading_a_round_leaves_the_next_one_to_read_it_again():
    gate, pages = asyncio.Event(), []

    class SlowHook:
        kling_conn_id = "kling_default"

        async def _alist_task_data(
            self, page: int, size: int, *, deadline: float, endpoint: str, max_wait: float | None = None
        ) -> list[dict]:
            pages.append(page)
            await gate.wait()
            return [{"task_id": "2", "task_status": "processing"}, {"task_id": "1", "task_status": "succeed"}]

    board = watch._Board(watched={"1": 1, "2": 1})
    hook: Any = SlowHook()
    reading = asyncio.ensure_future(board.look(hook, "1", time.monotonic, deadline=time.monotonic() + 10))
    await asyncio.sleep(0)  # the first look holds the board and its round is in flight
    waiting = asyncio.ensure_future(board.look(hook, "2", time.monotonic, deadline=time.monotonic() + 10))
    await asyncio.sleep(0)
    reading.cancel()
    gate.set()

    assert await waiting == {"task_id": "2", "task_status": "processing"}
    assert pages == [1, 1], "the round cut short was read again, not taken as an empty one"
