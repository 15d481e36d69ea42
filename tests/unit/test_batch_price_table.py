"""The batch's unit budget: each item estimated at its own kind's prices (your ``price_table=``
first, until the batch's finished tasks teach the real ones), on the worker and in the trigger."""

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
V1 = {"model_name": "kling-v1"}
DEARER = {"generations": {"kling-v1": {"1k": 3}}}


def make_batch(tmp_path, **kwargs: Any) -> KlingBatchOperator:
    kwargs.setdefault("requests", ["a red fox", "a blue whale"])
    kwargs.setdefault("slots", 1)
    kwargs.setdefault("max_units", 2)
    with DAG("kling_batch_prices", schedule=None):
        return KlingBatchOperator(
            task_id="batch", poll_interval=0.05, timeout=60, output_path=str(tmp_path), **kwargs
        )


def run_deferred(operator: KlingBatchOperator) -> dict[str, Any]:
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    _, kwargs = deferred.value.trigger.serialize()

    async def first_event() -> dict[str, Any]:
        async for event in KlingBatchTrigger(**kwargs).run():
            return event.payload
        raise AssertionError("the trigger yielded no event")

    return operator.execute_complete(ctx, asyncio.run(first_event()))


def context() -> dict[str, Any]:
    return make_context(RecordingTaskInstance(dag_id="kling_batch_prices", task_id="batch"))


def test_without_a_price_table_the_stand_in_prices_let_both_items_in(kling_connection, tmp_path):
    summary = make_batch(tmp_path, **V1).execute(context())
    assert summary["counts"] == {"succeeded": 2} and summary["units"] == 2.0


def test_a_price_table_over_the_budget_creates_nothing_on_the_worker(kling_connection, tmp_path):
    summary = make_batch(tmp_path, price_table=DEARER, **V1).execute(context())

    assert summary["counts"] == {"over_budget": 2}
    assert summary["units"] == 0.0
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_a_price_table_reaches_the_trigger_through_its_serialized_form(kling_connection, tmp_path):
    operator = make_batch(tmp_path, price_table=DEARER, deferrable=True, **V1)
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


def test_an_omni_image_batch_is_held_to_max_units_at_omni_image_prices(kling_connection, tmp_path):
    # 4 units an omni-image 2k image (stand-in and simulator); image generation prices do not apply.
    requests = [{"key": f"scene-{i}", "prompt": f"a scene {i}", "resolution": "2k"} for i in range(3)]
    summary = make_batch(tmp_path, requests=requests, request_kind="omni-image", max_units=8).execute(
        context()
    )

    assert summary["counts"] == {"succeeded": 2, "over_budget": 1}
    assert summary["units"] == 8.0


def test_an_expand_batch_in_the_trigger_never_passes_max_units(kling_connection, tmp_path):
    # 2 units an expanded image: the second item would take 4 past 3, so it is never created.
    requests = [{"image": f"https://x/{i}.png", "left_expansion_ratio": 0.5} for i in range(2)]
    operator = make_batch(
        tmp_path, requests=requests, request_kind="expand", slots=2, max_units=3, deferrable=True
    )

    summary = run_deferred(operator)

    assert summary["counts"] == {"succeeded": 1, "over_budget": 1}
    assert summary["units"] == 2.0
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_each_manifest_item_says_what_it_was_priced_as(kling_connection, tmp_path):
    import json
    from pathlib import Path

    requests = [{"key": "scene", "prompt": "a scene", "resolution": "2k", "n": 2}]
    summary = make_batch(
        tmp_path, requests=requests, request_kind="omni-image", slots=2, max_units=None
    ).execute(context())

    (row,) = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())["items"]
    assert row["priced_as"] == {
        "kind": "omni-image",
        "model": "kling-image-o1",
        "tier": "2k",
        "quantity": 2,
        "per": "image",
    }
    assert float(row["units"]) == 8.0
