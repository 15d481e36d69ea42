"""Declaring a Kling task's asset outlets when the output folder is only known at run time."""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAlias, dag

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator


@dag(schedule="@daily", start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_asset_outlets() -> None:
    # A fixed asset: every run's event carries this run's folder and files in its extra.
    KlingImageGenerationOperator(
        task_id="hero",
        prompt="A lighthouse at dawn, {{ ds }}",
        output_path="s3://my-bucket/kling/{{ ds }}",
        output_conn_id="aws_default",
        outlets=[Asset("s3://my-bucket/kling")],
    )
    # An alias: each run adds an event for Asset("<the rendered output_path>"), one asset per day.
    KlingImageGenerationOperator.partial(
        task_id="posters",
        output_path="s3://my-bucket/kling/posters/{{ ds }}",
        output_conn_id="aws_default",
        outlets=[AssetAlias("kling_posters")],
    ).expand(prompt=["Art deco poster of Lisbon", "Art deco poster of Kyoto"])


kling_asset_outlets()
