"""A small DAG for the end-to-end tests: the operator waiting on the worker and deferred."""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

OUTPUT = os.environ.get("KLING_TEST_OUTPUT", "build/test-output")
POLL = float(os.environ.get("KLING_TEST_POLL_INTERVAL", "0.2"))


@task
def record_results(on_worker: dict, deferred: dict) -> None:
    """Write what the operators returned through XCom, for the test to read."""
    Path(OUTPUT).mkdir(parents=True, exist_ok=True)
    (Path(OUTPUT) / "xcom.json").write_text(json.dumps({"on_worker": on_worker, "deferred": deferred}))


with DAG("kling_operator_modes", schedule=None, catchup=False, tags=["kling", "test"]):
    on_worker = KlingImageGenerationOperator(
        task_id="on_worker",
        prompt="a lighthouse at dawn on {{ ds }}",
        n=2,
        aspect_ratio="16:9",
        poll_interval=POLL,
        output_path=OUTPUT,
    )
    deferred = KlingImageGenerationOperator(
        task_id="deferred",
        prompt="a lighthouse at dusk on {{ ds }}",
        deferrable=True,
        poll_interval=POLL,
        output_path=OUTPUT,
    )
    record_results(on_worker.output, deferred.output)

with DAG("kling_resume_after_kill", schedule=None, catchup=False, tags=["kling", "test"]):
    KlingImageGenerationOperator(
        task_id="generate",
        prompt="a windmill in a storm",
        poll_interval=POLL,
        output_path=OUTPUT,
    )
