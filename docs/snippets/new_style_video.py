"""A video on Kling's new-style API (the model in the path; an API key connection)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_kling.operators.new_style import KlingNewStyleTextToVideoOperator


@dag(schedule="@daily", start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_new_style_video() -> None:
    KlingNewStyleTextToVideoOperator(
        task_id="video",
        prompt="a lighthouse in a storm, {{ ds }}",
        model_name="kling-3.0",  # the default; kling-3.0-turbo, kling-2.6, kling-2.5-turbo
        duration=8,
        resolution="1080p",
        output_path="s3://bucket/kling",
        output_conn_id="aws_default",
        deferrable=True,
    )


kling_new_style_video()
