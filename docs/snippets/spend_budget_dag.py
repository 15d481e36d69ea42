"""A unit budget for mapped single-operator tasks, decided once before the fan-out, and a check of
the account's packs before anything is created."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.sensors.account import KlingResourcePackSensor

RUN_BUDGET_UNITS = 200


@dag(schedule="@daily", start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_spend_budget() -> None:
    @task
    def todays_requests(ds: str | None = None, ti: Any = None) -> list[dict[str, Any]]:
        from airflow_provider_kling.estimates import plan_within_budget

        requests = [
            {"prompt": f"A brass desk lamp, catalogue of {ds}", "model_name": "kling-v2-1", "n": 2},
            {"prompt": f"A blue teapot, catalogue of {ds}", "model_name": "kling-v2-1", "resolution": "2k"},
        ]
        plan = plan_within_budget(requests, RUN_BUDGET_UNITS)
        ti.xcom_push(key="estimated_units", value=plan.estimated_units)
        ti.xcom_push(key="not_generated", value=plan.not_generated)  # each with its reason
        return plan.admitted

    requests = todays_requests()
    enough_units = KlingResourcePackSensor(
        task_id="enough_units",
        units_needed="{{ ti.xcom_pull(task_ids='todays_requests', key='estimated_units') }}",
        reserve_units=50,  # a margin for the packs' lag and for other pipelines on the account
        wait_for_units=False,  # fail at once, without retries, when the packs fall short
    )
    generate = KlingImageGenerationOperator.partial(task_id="generate", max_regenerations=0).expand_kwargs(
        requests
    )
    requests >> enough_units >> generate


kling_spend_budget()
