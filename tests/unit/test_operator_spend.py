"""The single operator's spend: the units Kling deducted in XCom and in the log, on the worker and
after a deferral; 1101 and 1102 fail at once, saying what to do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.spend import total_units
from tests.unit.task_context import first_trigger_event, make_context


def make_operator(**kwargs: Any) -> KlingImageGenerationOperator:
    kwargs.setdefault("prompt", "a red bicycle on a beach")
    with DAG("kling_spend_dag", schedule=None):
        return KlingImageGenerationOperator(task_id="generate", poll_interval=0.05, timeout=30, **kwargs)


def _deduction_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The task log's lines about deductions (Airflow's task logger, structlog, prints them)."""
    printed = capsys.readouterr()
    return [line for line in (printed.out + printed.err).splitlines() if " deducted " in line]


def test_units_deducted_reach_xcom_and_the_log_on_the_worker(kling_connection, capsys) -> None:

    result = make_operator(model_name="kling-v2-1", n=3, resolution="2k").execute(make_context())

    assert result["final_unit_deduction"] == "12"  # the simulator's stand-in: 4 units per 2k image
    assert result["final_balance_deduction"]["quota"] == "12"
    assert total_units([result]) == 12.0
    [line] = _deduction_lines(capsys)
    assert f"Kling task {result['task_id']} deducted 12 units (balance: quota 12, list price 1.68)" in line
    assert kling_connection.resource_packs()[0]["remaining_quantity"] == 10_000 - 12


def test_units_deducted_reach_xcom_and_the_log_after_a_deferral(kling_connection, capsys) -> None:
    operator = make_operator(deferrable=True, n=2)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))

    result = operator.execute_complete(context, event.payload)

    assert result["final_unit_deduction"] == "4"  # kling-v3 (the default): 2 units an image at the simulator
    [line] = _deduction_lines(capsys)
    # The trigger read the task with GET /tasks: its record bills units (billing[]) and carries no
    # list price, so the balance part of the line is not there (see the /tasks DAG test).
    assert f"Kling task {result['task_id']} deducted 4 units" in line


def test_used_up_resource_packs_fail_the_task_at_once_saying_what_to_do(kling_connection) -> None:
    kling_connection.set_resource_packs([{"total_quantity": 3}])

    with pytest.raises(AirflowFailException) as caught:  # AirflowFailException: no Airflow retry
        make_operator(model_name="kling-v2-1", n=2).execute(make_context())  # 4 units

    assert "code 1102" in str(caught.value) and "buy a resource pack" in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_an_account_in_arrears_fails_the_task_at_once_saying_what_to_do(kling_connection) -> None:
    kling_connection.configure(in_arrears=True)

    with pytest.raises(AirflowFailException) as caught:
        make_operator().execute(make_context())

    assert "code 1101" in str(caught.value) and "settle the bill" in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0
