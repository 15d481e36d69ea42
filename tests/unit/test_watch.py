"""triggers/watch.py: triggers of one connection share rounds of Kling's task list."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_kling.errors import KlingPermissionError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.triggers import watch
from airflow_provider_kling.triggers.kling import KlingTaskTrigger, task_from_event


@pytest.fixture
def list_rounds(monkeypatch):
    """Statuses from list rounds, as at a host without GET /tasks."""
    monkeypatch.setattr(watch, "TASKS_QUERY", False)


def create_tasks(k: int, latency: float, simulator) -> list[str]:
    simulator.set_latency(latency)
    hook = KlingHook()
    return [hook.create_task(model_name="kling-v1", prompt=f"a kite {i}", n=1).task_id for i in range(k)]


async def run_all(task_ids: list[str], poll_interval: float = 0.1) -> list[dict]:
    deadline = time.time() + 300

    async def one(task_id: str) -> dict:
        trigger = KlingTaskTrigger(task_id, poll_interval=poll_interval, deadline=deadline)
        (event,) = [event.payload async for event in trigger.run()]
        return event

    return await asyncio.gather(*(one(task_id) for task_id in task_ids))


async def test_triggers_of_one_connection_read_statuses_from_shared_list_rounds(
    kling_connection, list_rounds
):
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


async def test_one_query_per_task_per_poll_without_list_polling(kling_connection, monkeypatch, list_rounds):
    monkeypatch.setattr(watch, "LIST_POLLING", False)
    kling_connection.set_slots(100)
    task_ids = create_tasks(8, latency=1.0, simulator=kling_connection)
    kling_connection.reset_counters()

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success"] * 8
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["lists"] == 0
    assert counters["queries"] >= 8 * 5


async def test_a_task_not_on_the_listed_pages_is_queried_by_id(kling_connection, monkeypatch, list_rounds):
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


async def test_an_external_task_id_is_found_in_the_list(kling_connection, list_rounds):
    KlingHook().create_task(model_name="kling-v1", prompt="a kite", n=1, external_task_id="kite-7")
    kling_connection.reset_counters()

    (event,) = await run_all(["kite-7"])

    assert event["status"] == "success"
    assert event["task"]["task_info"]["external_task_id"] == "kite-7"
    assert kling_connection.counters(kling_connection.api_key)["queries"] == 0


async def test_a_host_that_refuses_the_list_is_polled_by_id(kling_connection, monkeypatch, list_rounds):
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
            self, page: int, size: int, *, deadline: float, endpoint: str, **kwargs: Any
        ) -> list[dict]:
            pages.append(page)
            await gate.wait()
            return [{"task_id": "2", "task_status": "processing"}, {"task_id": "1", "task_status": "succeed"}]

    board = watch._Board(watched={"1": 1, "2": 1})
    hook: Any = SlowHook()
    reading = asyncio.ensure_future(board.look(hook, "1", time.monotonic, deadline=time.monotonic() + 300))
    await asyncio.sleep(0)  # the first look holds the board and its round is in flight
    waiting = asyncio.ensure_future(board.look(hook, "2", time.monotonic, deadline=time.monotonic() + 300))
    await asyncio.sleep(0)
    reading.cancel()
    gate.set()

    assert await waiting == {"task_id": "2", "task_status": "processing"}
    assert pages == [1, 1], "the round cut short was read again, not taken as an empty one"


# --- GET /tasks?task_ids= where the host has it ----------------------------------------------------


async def test_triggers_read_statuses_with_batched_task_queries(kling_connection):
    kling_connection.set_slots(100)
    task_ids = create_tasks(8, latency=1.0, simulator=kling_connection)
    kling_connection.reset_counters()

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success"] * 8
    assert {event["task"]["task_id"] for event in events} == set(task_ids)
    counters = kling_connection.counters(kling_connection.api_key)
    # No query per task in the triggerer: the worker completes a /v1 task (its balance deduction).
    assert (counters["queries"], counters["lists"]) == (0, 0)
    assert all(event["complete_with"]["endpoint"] for event in events)
    # 8 triggers polling every 0.1 s for about a second: about 80 lookups, in batches of up to 8.
    assert 1 <= counters["tasks"] <= 20
    assert watch.watched_tasks() == 0


async def test_many_tasks_are_read_twenty_at_a_time_even_among_a_long_history(kling_connection):
    kling_connection.set_slots(100)
    task_ids = create_tasks(45, latency=0.5, simulator=kling_connection)
    kling_connection.seed_tasks(5000)  # newer tasks of other pipelines: list rounds would miss ours
    kling_connection.reset_counters()

    events = await run_all(task_ids, poll_interval=0.3)

    assert [event["status"] for event in events] == ["success"] * 45
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["queries"], counters["lists"]) == (0, 0)  # each completed on its worker
    # 45 tasks need at least 3 queries a round; one query per task per poll would be 45 a round.
    assert counters["tasks"] <= 45


async def test_a_host_without_tasks_falls_back_to_list_rounds(kling_connection):
    kling_connection.configure(tasks_query=False)
    task_ids = create_tasks(3, latency=2.0, simulator=kling_connection)
    kling_connection.reset_counters()

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success"] * 3
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["lists"] >= 1
    # One GET /tasks answered 404 (an error is counted among requests only): found out once; the
    # lookups of that batch were then answered by one query each.
    assert counters["requests"] == counters["lists"] + counters["queries"] + 1
    assert counters["queries"] <= 3


async def test_tasks_query_no_never_asks_tasks(kling_connection, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KLING_DEFAULT",
        json.dumps(
            {
                "conn_type": "kling",
                "host": kling_connection.base_url,
                "password": kling_connection.api_key,
                "extra": {"tasks_query": "no"},
            }
        ),
    )
    task_ids = create_tasks(2, latency=0.3, simulator=kling_connection)
    kling_connection.reset_counters()

    events = await run_all(task_ids)

    assert [event["status"] for event in events] == ["success"] * 2
    assert kling_connection.counters(kling_connection.api_key)["tasks"] == 0


async def test_an_external_task_id_unknown_to_tasks_is_queried_by_id_from_then_on(kling_connection):
    KlingHook().create_task(model_name="kling-v3", prompt="a kite", n=1, external_task_id="kite-8")
    kling_connection.set_latency(0.5)
    kling_connection.reset_counters()

    (event,) = await run_all(["kite-8"])

    assert event["status"] == "success"
    assert event["task"]["task_info"]["external_task_id"] == "kite-8"
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["tasks"] == 1 and counters["queries"] >= 1


class RecordingHook:
    """A hook whose many-task query answers every id as processing, recording the ids asked and the
    most queries in flight at once."""

    kling_conn_id = "kling_default"
    asked: list[list[str]] = []
    in_flight = most_in_flight = closed = 0

    def __init__(self, conn_id: str = "kling_default") -> None:
        self.log = __import__("logging").getLogger("test")

    async def aget_tasks(self, ids: list[str], **kwargs: Any) -> list[Any]:
        RecordingHook.asked.append(ids)
        RecordingHook.in_flight += 1
        RecordingHook.most_in_flight = max(RecordingHook.most_in_flight, RecordingHook.in_flight)
        await asyncio.sleep(0.01)
        RecordingHook.in_flight -= 1
        return [SimpleNamespace(task_id=task_id, external_task_id=None) for task_id in ids]

    async def aclose(self) -> None:
        RecordingHook.closed += 1


@pytest.fixture
def recording() -> type[RecordingHook]:
    RecordingHook.asked, RecordingHook.in_flight, RecordingHook.most_in_flight = [], 0, 0
    return RecordingHook


async def test_lookups_due_together_go_out_in_chunks_of_twenty(recording):
    queries = watch._TaskQueries(recording())

    tasks = await asyncio.gather(*(queries.ask(str(i)) for i in range(45)))

    assert [task.task_id for task in tasks] == [str(i) for i in range(45)]
    assert sorted(len(ids) for ids in recording.asked) == [5, 20, 20]
    await queries.aclose()
    assert recording.closed == 1


async def test_many_lookups_at_once_keep_few_queries_in_flight(recording):
    # 10,000 triggers starting together must not queue thousands of requests in the client's pool.
    queries = watch._TaskQueries(recording(), gate=asyncio.Semaphore(3))

    tasks = await asyncio.gather(*(queries.ask(str(i)) for i in range(400)))

    assert len(tasks) == 400 and len(recording.asked) == 20
    assert recording.most_in_flight == 3
    await queries.aclose()


async def test_a_lookup_that_stops_waiting_leaves_the_batch_to_the_others(recording):
    queries = watch._TaskQueries(recording())
    leaving = asyncio.ensure_future(queries.ask("1"))
    staying = asyncio.ensure_future(queries.ask("2"))
    await asyncio.sleep(0)
    leaving.cancel()

    assert (await staying).task_id == "2"
    assert recording.asked == [["1", "2"]]
    await queries.aclose()


DEFERRABLE_KINDS = {
    "generations": {"model_name": "kling-v3", "prompt": "a kite", "n": 1},
    "text2video": {"model_name": "kling-3.0", "prompt": "a fox"},
}


@pytest.mark.parametrize("kind", DEFERRABLE_KINDS)
async def test_a_deferred_wait_gives_the_task_the_worker_sees_spend_included(kling_connection, kind):
    from airflow_provider_kling.hooks.wire import Route
    from airflow_provider_kling.models.requests import request_class

    kling_connection.set_progress("immediate")
    request = request_class(kind).build(**DEFERRABLE_KINDS[kind])
    hook = KlingHook()
    created = hook.create_task(request)
    where = {"endpoint": Route.of(request).endpoint, "api_style": Route.of(request).api_style}

    worker = wait_for_task(hook, created.task_id, poll_interval=0.05, timeout=300, **where)
    trigger = KlingTaskTrigger(created.task_id, poll_interval=0.05, deadline=time.time() + 300, **where)
    (event,) = [event.payload async for event in trigger.run()]
    queries = kling_connection.counters(kling_connection.api_key)["queries"]
    resumed = task_from_event(event, hook)  # as execute_complete reads it

    assert event["status"] == "success"
    assert resumed.to_xcom() == worker.to_xcom()
    if kind == "generations":  # /tasks carries its units only; its own route adds the balance deduction
        assert worker.final_balance_deduction is not None
        assert event["task"]["final_balance_deduction"] is None, "the triggerer sent no query of its own"
    # the worker completes a /v1 task with one query; a model-path task needs none
    assert kling_connection.counters(kling_connection.api_key)["queries"] - queries == (kind == "generations")
