"""Chaining through plain XCom: an image task's result as a video's first frame, a video task's
result as the video to extend."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.operators.video import KlingImageToVideoOperator, KlingVideoExtendOperator


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_video_chain() -> None:
    still = KlingImageGenerationOperator(
        task_id="still",
        prompt="a linen shirt on white",
        model_name="kling-v3",
        output_path="s3://bucket/kling",
        output_conn_id="aws_default",
    )
    clip = KlingImageToVideoOperator(
        task_id="clip",
        first_frame=still.output,  # the image task's first image, read from your storage
        prompt="it turns slowly",
        duration=5,
        output_path="s3://bucket/kling",
        output_conn_id="aws_default",
    )
    KlingVideoExtendOperator(task_id="longer", video_id=clip.output, prompt="the camera pulls back")


kling_video_chain()
