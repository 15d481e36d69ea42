"""
Create a Kling task without waiting, then wait for it with ``KlingTaskSensor``.

Useful when something else waits better than the creating task: the sensor can poke in
``reschedule`` mode (no worker slot held between pokes) or defer to the triggerer. ``submit``
pushes the Kling task id to XCom (key ``kling_task_id``) as soon as the task exists; the sensor
reads it from there; ``keep_images`` copies the finished images under
``<output dir>/<ds>/kling_sensor/`` (Kling purges them after 30 days).

Output dir: the Airflow Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else
``build/demo/images`` in this repository. ``KLING_POLL_INTERVAL``: seconds between polls (default 10).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.sensors.kling import KlingTaskSensor

POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def kling_sensor() -> None:
    submit = KlingImageGenerationOperator(
        task_id="submit",
        prompt="Isometric illustration of a tiny greenhouse full of succulents, {{ ds }}",
        n=2,
        wait_for_completion=False,
    )

    wait = KlingTaskSensor(
        task_id="wait_for_images",
        kling_task_id="{{ ti.xcom_pull(task_ids='submit', key='kling_task_id') }}",
        poke_interval=POLL_INTERVAL,
        timeout=1800,
        mode="reschedule",
    )

    @task
    def keep_images(result: dict[str, Any], ds: str | None = None, dag_run: Any = None) -> list[str]:
        """Copy each image to ``<output dir>/<ds>/kling_sensor/<kling task id>_<index>.png``."""
        import re
        from pathlib import Path

        from airflow.sdk import ObjectStoragePath, Variable

        from airflow_provider_kling.hooks.kling import KlingHook

        default = Path(__file__).resolve().parents[1] / "build" / "demo" / "images"
        base = str(
            Variable.get("kling_output_dir", default=None) or os.environ.get("KLING_OUTPUT_DIR") or default
        )
        if "://" not in base:
            base = "file://" + os.path.abspath(os.path.expanduser(base))
        folder = ObjectStoragePath(f"{base.rstrip('/')}/{ds}/kling_sensor")
        folder.mkdir(parents=True, exist_ok=True)
        task_id = re.sub(r"[^A-Za-z0-9_-]", "_", result["task_id"])  # never trust a server's string in a path
        hook, stored = KlingHook(), []
        for image in result["images"]:
            target = folder / f"{task_id}_{int(image['index'])}.png"
            with target.open("wb") as handle:
                hook.download_image(image["url"], handle)
            stored.append(str(target))
        print(f"Stored {len(stored)} images of Kling task {result['task_id']} under {folder}")
        return stored

    submit >> wait
    keep_images(wait.output)


kling_sensor()
