"""KlingTaskSensor: poke and deferrable modes against the simulator."""

from __future__ import annotations

import asyncio

import pytest
from airflow.providers.common.compat.sdk import (  # TaskDeferred: 3.1 has it in airflow.exceptions
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow.sdk import DAG

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import defer_timeout
from airflow_provider_kling.sensors.kling import KlingTaskSensor
from airflow_provider_kling.triggers.kling import KlingTaskTrigger
from tests.unit.task_context import first_trigger_event, make_context


def make_sensor(kling_task_id: str, **kwargs) -> KlingTaskSensor:
    with DAG("kling_sensor_dag", schedule=None):
        return KlingTaskSensor(task_id="wait", kling_task_id=kling_task_id, poke_interval=0.05, **kwargs)


def create_task(prompt: str = "an orchard in spring") -> str:
    return KlingHook().create_task(model_name="kling-v1", prompt=prompt, n=2).task_id


def test_poke_is_not_done_while_running_and_done_with_result_when_succeeded(kling_connection):
    kling_connection.set_latency(0.4)
    task_id = create_task()
    sensor = make_sensor(task_id)

    assert sensor.poke(make_context()).is_done is False
    kling_connection.set_latency(0)
    finished = make_sensor(create_task()).poke(make_context())
    assert finished.is_done is True
    assert finished.xcom_value["task_status"] == "succeed"
    assert len(finished.xcom_value["images"]) == 2


def test_poke_by_external_task_id(kling_connection):
    hook = KlingHook()
    hook.create_task(model_name="kling-v1", prompt="a kite", n=1, external_task_id="kite-2026-11-25")

    result = make_sensor("kite-2026-11-25").poke(make_context())

    assert result.is_done is True
    assert result.xcom_value["external_task_id"] == "kite-2026-11-25"


def test_failed_task_fails_the_sensor_with_kling_message(kling_connection):
    task_id = create_task("a picture #fail")
    with pytest.raises(AirflowFailException, match=task_id):
        make_sensor(task_id).poke(make_context())


def test_deferrable_sensor_defers_and_completes(kling_connection):
    task_id = create_task()
    sensor = make_sensor(task_id, deferrable=True, timeout=60)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())

    trigger = deferred.value.trigger
    assert isinstance(trigger, KlingTaskTrigger)
    assert trigger.kling_task_id == task_id
    event = asyncio.run(first_trigger_event(trigger))
    result = sensor.execute_complete(make_context(), event.payload)
    assert result["task_id"] == task_id


def test_deferred_sensor_returns_the_same_xcom_as_a_poke_balance_included(kling_connection):
    task_id = create_task()
    sensor = make_sensor(task_id, deferrable=True, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    event = asyncio.run(first_trigger_event(deferred.value.trigger))

    result = sensor.execute_complete(make_context(), event.payload)

    poked = make_sensor(task_id).poke(make_context()).xcom_value
    assert result["final_balance_deduction"] is not None
    assert result == poked


def test_deferred_failed_event_fails_without_retry():
    event = {"status": "failed", "task_id": "7", "message": "Kling task 7 failed: risk control"}
    with pytest.raises(AirflowFailException, match="risk control"):
        make_sensor("7").execute_complete(make_context(), event)


def test_deferrable_sensor_passes_airflow_a_defer_timeout_beyond_its_deadline(kling_connection):
    kling_connection.set_latency(60)
    sensor = make_sensor(create_task(), deferrable=True, timeout=120)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())

    assert deferred.value.timeout == defer_timeout(120)


TIMEOUT_EVENT = {"status": "timeout", "task_id": "7", "message": "Kling task 7 was still 'processing'"}


def test_deferred_timeout_event_is_a_sensor_timeout():
    with pytest.raises(AirflowSensorTimeout, match="still 'processing'"):
        make_sensor("7").execute_complete(make_context(), TIMEOUT_EVENT)


def test_deferred_timeout_with_soft_fail_skips_the_task():
    sensor = make_sensor("7", soft_fail=True)

    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("execute_complete", {"event": TIMEOUT_EVENT}, make_context())


def test_poke_logs_the_status_in_words(kling_connection, capsys):
    make_sensor(create_task()).poke(make_context())

    printed = capsys.readouterr()
    assert "succeeded" in printed.out + printed.err
    assert "is succeed" not in printed.out + printed.err
