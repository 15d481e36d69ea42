"""``kind=`` on the decorators: a banner expanded from a stored image, then a video of the banner."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_decorator_kinds() -> None:
    @task.kling_image(
        kind="expand", to_aspect_ratio="21:9", output_path="s3://bucket/kling", output_conn_id="aws_default"
    )
    def banner(ds: str | None = None) -> dict[str, Any]:
        # The expand operator's request fields; its other arguments go to the decorator.
        return {"image": f"s3://bucket/products/{ds}/lamp.png", "prompt": "more of the oak table"}

    @task.kling_video(output_path="s3://bucket/kling", output_conn_id="aws_default", duration=5)
    def teaser(image_result: dict[str, Any]) -> dict[str, Any]:
        # A first frame makes it image-to-video; a prompt alone would make text-to-video.
        return {"first_frame": image_result, "prompt": "the camera glides along the banner"}

    teaser(banner())


kling_decorator_kinds()
