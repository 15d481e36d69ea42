"""A single operator whose create meets 1303 after the hook's quick retries waits for a slot."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.errors import KlingRateLimitError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.triggers.kling import KlingTaskTrigger
from tests.unit.task_context import RecordingTaskInstance, make_context


@pytest.fixture
def no_quick_retries(kling_simulator, monkeypatch):
    """``kling_default`` at the simulator with ``max_retries=0``: a 1303 reaches the operator at once."""
    conn = json.loads(kling_simulator.airflow_conn_json())
    conn["extra"] = {"max_retries": 0}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    kling_simulator.set_slots(1)
    return kling_simulator


def make_operator(**kwargs):
    with DAG("kling_slot_wait", schedule=None):
        return KlingImageGenerationOperator(task_id="generate", prompt="a kite", poll_interval=0.1, **kwargs)


def occupy_the_only_slot(seconds: float, simulator) -> None:
    simulator.set_latency(seconds)
    KlingHook().create_task(model_name="kling-v1", prompt="another pipeline's task", n=1)


def test_create_meeting_1303_waits_for_the_slot_on_the_worker(no_quick_retries):
    occupy_the_only_slot(0.6, no_quick_retries)
    no_quick_retries.set_latency(0.1)

    result = make_operator(timeout=30).execute(make_context(RecordingTaskInstance()))

    assert result["task_status"] == "succeed"
    assert no_quick_retries.counters(no_quick_retries.api_key)["creates"] == 2


def test_the_wait_for_a_slot_ends_with_the_timeout(no_quick_retries):
    occupy_the_only_slot(30, no_quick_retries)

    with pytest.raises(KlingRateLimitError):
        make_operator(timeout=0.3).execute(make_context(RecordingTaskInstance()))
    assert no_quick_retries.counters(no_quick_retries.api_key)["creates"] == 1


def test_deferrable_waits_for_the_slot_in_the_triggerer_then_creates(no_quick_retries):
    occupy_the_only_slot(300, no_quick_retries)
    operator = make_operator(timeout=300, deferrable=True)
    context = make_context(RecordingTaskInstance())

    with pytest.raises(TaskDeferred) as waiting:
        operator.execute(context)
    assert waiting.value.method_name == "execute_after_slot_wait"
    assert type(waiting.value.trigger).__name__ == "TimeDeltaTrigger"
    assert no_quick_retries.advance(to="succeed")  # during the triggerer's wait, the other task ends
    with pytest.raises(TaskDeferred) as polling:
        operator.execute_after_slot_wait(context, None, **(waiting.value.kwargs or {}))

    assert isinstance(polling.value.trigger, KlingTaskTrigger)
    assert no_quick_retries.counters(no_quick_retries.api_key)["creates"] == 2
