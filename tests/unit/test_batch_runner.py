"""The batch's polls (``batch/runner.py``): many items in one ``GET /tasks`` where the host has it,
one query per item where it does not, with the same result."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_batch_operator import context, make_batch


@pytest.mark.parametrize("tasks_query", [True, False], ids=["with /tasks", "without /tasks"])
def test_the_batch_polls_its_waiting_items_together_where_the_host_can(
    kling_connection, tmp_path: Path, tasks_query
):
    kling_connection.set_latency(0.5)
    kling_connection.set_slots(30)
    kling_connection.configure(tasks_query=tasks_query)

    summary = make_batch(tmp_path, requests=[f"a kite {i}" for i in range(25)], slots=30).execute(context())

    assert summary["counts"] == {"succeeded": 25}
    counters = kling_connection.counters(kling_connection.api_key)
    if tasks_query:
        # One query per item at its end: /tasks carries a /v1 task's units, its own route its spend.
        assert counters["tasks"] >= 2 and counters["queries"] == 25
        # 25 items polled every 0.05 s for about half a second: one query each would be about 250.
        assert counters["tasks"] < 100
    else:
        # one query per poll of each item (how many polls each takes depends on the machine's speed)
        assert counters["tasks"] == 0 and counters["queries"] >= 25
