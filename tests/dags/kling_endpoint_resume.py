"""A DAG for the end-to-end test of resuming an expand task after its worker was killed."""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_provider_kling.operators.endpoints import KlingExpandImageOperator

OUTPUT = os.environ.get("KLING_TEST_OUTPUT", "build/test-output")
POLL = float(os.environ.get("KLING_TEST_POLL_INTERVAL", "0.2"))
#: A PNG of the user's storage, written by the test.
INPUT = os.environ.get("KLING_TEST_INPUT_IMAGE", "file:///nonexistent.png")

with DAG("kling_expand_resume_after_kill", schedule=None, catchup=False, tags=["kling", "test"]):
    KlingExpandImageOperator(
        task_id="expand",
        image=INPUT,
        to_aspect_ratio="16:9",
        poll_interval=POLL,
        output_path=OUTPUT,
    )
