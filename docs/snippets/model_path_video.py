"""A video on Kling's model-path API: the model chooses the style (an API key connection)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_kling.operators.video import KlingTextToVideoOperator


@dag(schedule="@daily", start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_model_path_video() -> None:
    KlingTextToVideoOperator(
        task_id="video",
        prompt="a lighthouse in a storm, {{ ds }}",
        model_name="kling-3.0",  # sent to /text-to-video/kling-3.0; kling-v3 would go to /v1
        duration=8,
        resolution="1080p",
        output_path="s3://bucket/kling",
        output_conn_id="aws_default",
        deferrable=True,
    )


kling_model_path_video()
