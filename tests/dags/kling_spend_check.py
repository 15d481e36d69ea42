"""A DAG for the end-to-end spend test: plan the run's units, check the account, then generate."""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.sensors.account import KlingResourcePackSensor

OUTPUT = os.environ.get("KLING_TEST_OUTPUT", "build/test-output")
POLL = float(os.environ.get("KLING_TEST_POLL_INTERVAL", "0.2"))
PROMPTS = ["a red kite over dunes", "a blue kite over a lake", "a green kite in a storm"]


@task
def plan(**context: Any) -> list[dict[str, Any]]:
    """The mapped requests (kling-v2-1, 2 images at 1k: 4 units each); what they cost goes to XCom."""
    from airflow_provider_kling.estimates import plan_within_budget

    requests = [{"prompt": prompt, "model_name": "kling-v2-1", "n": 2} for prompt in PROMPTS]
    budget = plan_within_budget(requests, None)
    context["ti"].xcom_push(key="estimated_units", value=budget.estimated_units)
    return budget.admitted


with DAG("kling_spend_check", schedule=None, catchup=False, tags=["kling", "test"]):
    planned = plan()
    enough_units = KlingResourcePackSensor(
        task_id="enough_units",
        units_needed="{{ ti.xcom_pull(task_ids='plan', key='estimated_units') }}",
    )
    generate = KlingImageGenerationOperator.partial(
        task_id="generate", poll_interval=POLL, output_path=OUTPUT, retries=0
    ).expand_kwargs(planned)
    planned >> enough_units >> generate
