"""A batch of another endpoint: virtual try-on items, images read from your storage."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_kling.operators.batch import KlingBatchOperator


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_try_on_catalogue() -> None:
    KlingBatchOperator(
        task_id="try_on_catalogue",
        request_kind="virtual-try-on",  # default "generations"
        requests=[
            {
                "key": "shirt-1",
                "human_image": "s3://bucket/models/anna.png",
                "cloth_image": "s3://bucket/shirts/1.png",
            },
            {
                "key": "shirt-2",
                "human_image": "s3://bucket/models/anna.png",
                "cloth_image": "s3://bucket/shirts/2.png",
            },
        ],
        slots=4,  # a try-on holds 1 slot; an image task holds n
        output_path="s3://bucket/try-on/",
        output_conn_id="aws_default",
        on_content_policy="skip",  # record refused items and go on
    )


kling_try_on_catalogue()
