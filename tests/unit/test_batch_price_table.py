"""The batch operator's ``price_table=``: your prices decide its unit budget before its own tasks
have taught it the real ones, on the worker and through a (serialized) trigger."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.triggers.batch import KlingBatchTrigger
from tests.unit.task_context import RecordingTaskInstance, make_context

#: kling-v1 is 1 unit an image at the simulator (and in the stand-in table); this account says 3.
DEARER = {"generations": {"kling-v1": {"1k": 3}}}


def make_batch(tmp_path, **kwargs: Any) -> KlingBatchOperator:
    with DAG("kling_batch_prices", schedule=None):
        return KlingBatchOperator(
            task_id="batch",
            requests=["a red fox", "a blue whale"],
            slots=1,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
            max_units=2,
            **kwargs,
        )


def context() -> dict[str, Any]:
    return make_context(RecordingTaskInstance(dag_id="kling_batch_prices", task_id="batch"))


def test_without_a_price_table_the_stand_in_prices_let_both_items_in(kling_connection, tmp_path):
    summary = make_batch(tmp_path).execute(context())
    assert summary["counts"] == {"succeeded": 2} and summary["units"] == 2.0


def test_a_price_table_over_the_budget_creates_nothing_on_the_worker(kling_connection, tmp_path):
    summary = make_batch(tmp_path, price_table=DEARER).execute(context())

    assert summary["counts"] == {"over_budget": 2}
    assert summary["units"] == 0.0
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_a_price_table_reaches_the_trigger_through_its_serialized_form(kling_connection, tmp_path):
    operator = make_batch(tmp_path, price_table=DEARER, deferrable=True)
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["price_table"] == {"generations": {"kling-v1": {"1k": 3.0}}}

    async def first_event() -> dict[str, Any]:
        async for event in KlingBatchTrigger(**kwargs).run():
            return event.payload
        raise AssertionError("the trigger yielded no event")

    summary = operator.execute_complete(ctx, asyncio.run(first_event()))
    assert summary["counts"] == {"over_budget": 2}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_a_bad_price_table_is_refused_when_the_dag_is_parsed(tmp_path):
    with pytest.raises(
        ValueError, match=r"price_table\['generations'\]\['kling-v1'\]\['1k'\] must be a number"
    ):
        make_batch(tmp_path, price_table={"generations": {"kling-v1": {"1k": "cheap"}}})
