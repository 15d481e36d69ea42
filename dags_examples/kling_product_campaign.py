"""
A product campaign on Kling's image endpoints, passing stored images from task to task.

1. ``product_shot`` and ``model_photo`` (image generation): a garment on white, and a model;
2. ``banner`` (expand): the product shot grown to a 21:9 banner, read back from storage;
3. ``try_on`` (Kolors virtual try-on): the model wearing the garment, waited for in the triggerer;
4. ``scene`` (multi-image2image): the garment and the model set in a shop window;
5. ``storyboard`` (omni-image, kling-v3-omni): a three-image series built on the product shot.

Each Kling task copies its images under ``<output dir>/<ds>/kling_product_campaign/<run_id>/``;
the next task gets the stored file (``stored_image`` picks it from the result), not Kling's
URL, which Kling purges after 30 days. ``summary`` prints where every image went.

Output dir: the Airflow Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else
``build/demo/images`` in this repository. ``KLING_POLL_INTERVAL``: seconds between polls (default 10).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.endpoints import (
    KlingExpandImageOperator,
    KlingMultiImageOperator,
    KlingOmniImageOperator,
    KlingVirtualTryOnOperator,
)
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))
GARMENT = "a sand-coloured linen shirt"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def kling_product_campaign() -> None:
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
    def stored_image(result: dict[str, Any], index: int = 0) -> str:
        """The stored copy of one image of a Kling task's result (a URI the next operator reads)."""
        return str(result["images"][index]["path"])

    folder = output_dir()
    common: dict[str, Any] = {"output_path": folder, "poll_interval": POLL_INTERVAL}

    product_shot = KlingImageGenerationOperator(
        task_id="product_shot",
        prompt=f"Studio product photo of {GARMENT} on a plain white background, soft light",
        model_name="kling-v2-1",
        resolution="2k",
        aspect_ratio="1:1",
        **common,
    )
    model_photo = KlingImageGenerationOperator(
        task_id="model_photo",
        prompt="Full-length photo of a fashion model in a plain white t-shirt, neutral studio backdrop",
        model_name="kling-v2-1",
        resolution="2k",
        aspect_ratio="3:4",
        **common,
    )
    garment = stored_image.override(task_id="garment")(product_shot.output)
    model = stored_image.override(task_id="model")(model_photo.output)

    banner = KlingExpandImageOperator(
        task_id="banner",
        image=garment,
        to_aspect_ratio="21:9",
        prompt="a sunny linen-and-wood shop counter around the shirt",
        **common,
    )
    try_on = KlingVirtualTryOnOperator(
        task_id="try_on",
        human_image=model,
        cloth_image=garment,
        model_name="kolors-virtual-try-on-v1-5",
        deferrable=True,
        **common,
    )
    scene = KlingMultiImageOperator(
        task_id="scene",
        subject_image_list=[garment, model],
        prompt="the shirt on a mannequin beside the model in a bright shop window",
        aspect_ratio="16:9",
        **common,
    )
    storyboard = KlingOmniImageOperator(
        task_id="storyboard",
        prompt="Three frames of a summer campaign for the shirt in <<<image_1>>>: beach, cafe, sunset",
        image_list=[garment],
        model_name="kling-v3-omni",
        result_type="series",
        series_amount=3,
        **common,
    )

    @task
    def summary(banner: dict, try_on: dict, scene: dict, storyboard: dict) -> dict[str, list[str]]:
        """Where each step's images went."""
        results = {"banner": banner, "try_on": try_on, "scene": scene, "storyboard": storyboard}
        stored = {name: [image["path"] for image in result["images"]] for name, result in results.items()}
        for name, paths in stored.items():
            print(f"{name}: {len(paths)} image(s): {', '.join(paths)}")
        return stored

    summary(banner.output, try_on.output, scene.output, storyboard.output)


kling_product_campaign()
