"""
TaskFlow and Kling: a prompt built in Python, passed by XCom into the operator, results read back.

``build_prompt`` picks the day's subject; the operator receives it through XCom (its ``prompt``
is a templated field, so an XComArg works there), generates the image, copies it under
``<output dir>/<ds>/kling_taskflow/<run_id>/`` and returns its result dict, which
``describe_result`` reads like any other TaskFlow value.

Output dir: the Airflow Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else
``build/demo/images`` in this repository. ``KLING_POLL_INTERVAL``: seconds between polls (default 10).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))
SUBJECTS = ("a lighthouse", "a tea garden", "a night market", "a glacier lake", "a jazz club", "a bakery")


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def kling_taskflow() -> None:
    @task
    def output_dir(ds: str | None = None) -> str:
        """Today's output folder, resolved at run time."""
        from pathlib import Path

        from airflow.sdk import Variable

        default = Path(__file__).resolve().parents[1] / "build" / "demo" / "images"
        base = str(
            Variable.get("kling_output_dir", default=None) or os.environ.get("KLING_OUTPUT_DIR") or default
        )
        if "://" not in base:
            base = "file://" + os.path.abspath(os.path.expanduser(base))
        return f"{base.rstrip('/')}/{ds}"

    @task
    def build_prompt(logical_date: pendulum.DateTime | None = None) -> str:
        """A different subject each day, in a fixed house style."""
        assert logical_date is not None
        subject = SUBJECTS[logical_date.toordinal() % len(SUBJECTS)]
        return f"Watercolour postcard of {subject}, {logical_date.format('MMMM')} light, loose brushwork"

    image = KlingImageGenerationOperator(
        task_id="generate_image",
        prompt=build_prompt(),
        aspect_ratio="3:2",
        output_path=output_dir(),
        poll_interval=POLL_INTERVAL,
    )

    @task
    def describe_result(result: dict[str, Any]) -> list[str]:
        """What a downstream task gets: the Kling task id, the prompt and the stored files."""
        print(f"Kling task {result['task_id']} ({result['task_status']}): {result['prompt']!r}")
        return [image["path"] for image in result["images"]]

    describe_result(image.output)


kling_taskflow()
