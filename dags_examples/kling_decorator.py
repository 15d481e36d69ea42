"""
``@task.kling_image``: the TaskFlow form of the operator, mapped over a list with ``.expand()``.

``poster`` returns the request for one city: a dict with the prompt and an aspect ratio (a plain
prompt string works too). ``.expand(city=CITIES)`` makes one Kling task per city; each waits in the
triggerer (``deferrable=True``), stores its image under
``<output dir>/<ds>/kling_decorator/<run_id>/poster_<map index>_0.png`` and returns the operator's
result dict, which ``list_posters`` reads like any other TaskFlow value. The prompt is built in
Python and used as returned (it is not rendered as Jinja).

Output dir: the Airflow Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else
``build/demo/images`` in this repository. ``KLING_POLL_INTERVAL``: seconds between polls (default 10).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))
CITIES = ["Lisbon", "Kyoto", "Valparaiso"]


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def kling_decorator() -> None:
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

    @task.kling_image(model_name="kling-v3", deferrable=True, poll_interval=POLL_INTERVAL, timeout=1800)
    def poster(city: str, ds: str | None = None) -> dict[str, Any]:
        """One travel poster per city."""
        return {"prompt": f"Art deco travel poster of {city}, bold flat colours, {ds}", "aspect_ratio": "2:3"}

    @task
    def list_posters(results: list[dict[str, Any]]) -> list[str]:
        """What a downstream task gets: one result dict per city, in map index order."""
        for result in results:
            print(f"Kling task {result['task_id']} ({result['task_status']}): {result['prompt']!r}")
        return [image["path"] for result in results for image in result["images"]]

    posters = poster.override(output_path=output_dir()).expand(city=CITIES)
    list_posters(posters)


kling_decorator()
