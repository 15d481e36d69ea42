"""
A 5-second product video of every catalogue image, whenever ``kling_scheduled_batch`` stores a run's images.

Scheduled on the asset ``kling_catalogue_images``: each triggering asset event's ``extra`` lists the
batch run's Kling task ids, its stored image ``paths`` and its folder (``output_uri``). Each image
becomes one image-to-video Kling task (mapped, in the ``kling_slots`` pool: a video task holds one
Kling slot at any length) with the image as its first frame: Kling's own URL of it while Kling
still has the task (it keeps them 30 days, and this DAG runs right after the batch), else the
stored copy, read from your storage. The videos are stored as MP4 under
``<output dir>/<ds>/kling_product_video/<run_id>/`` next to the day's images, and a last task writes
``video_sheet.html`` there: a contact sheet whose ``<video>`` tags play every video, each with its
catalogue image as the poster.

Run by hand (``airflow dags test kling_product_video``), it takes the asset's newest event, so it
works on the last batch run too.

- Connection: ``kling_default`` (the simulator in ``make demo``, Kling itself with a real key).
- ``KLING_POLL_INTERVAL`` (seconds, default 10): how often to ask Kling about a task.
- ``KLING_VIDEO_MODEL`` (default ``kling-v2-6``): the image-to-video model.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

from airflow_provider_kling.operators.video import KlingImageToVideoOperator

#: The asset ``kling_scheduled_batch`` updates: the same name and URI as there (Airflow matches both).
CATALOGUE_IMAGES = Asset(name="kling_catalogue_images", uri="x-kling://kling_scheduled_batch/images")
#: The pool that bounds concurrency; a video task takes one of its slots.
POOL = "kling_slots"
POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))
MODEL = os.environ.get("KLING_VIDEO_MODEL", "kling-v2-6")
SECONDS = 5
PROMPT = "The product turns slowly on its stand, soft studio light, the camera still"


@task(inlets=[CATALOGUE_IMAGES])
def catalogue_images(triggering_asset_events: Any = None, inlet_events: Any = None) -> dict[str, Any]:
    """The images of the batch runs that triggered this run (by hand: of the asset's newest event),
    each with the first frame to send: Kling's URL while Kling has the task, else the stored copy."""
    from airflow.providers.common.compat.sdk import AirflowSkipException

    from airflow_provider_kling.hooks.kling import KlingHook

    events = [event for events in (triggering_asset_events or {}).values() for event in events]
    if not events and inlet_events is not None:
        events = list(inlet_events[CATALOGUE_IMAGES])[-1:]
    hook, images, folder = KlingHook(), [], None
    for event in events:
        extra = dict(event.extra or {})
        folder = extra.get("output_uri") or folder
        # One image per prompt in the batch: its task ids, stored paths and catalogue rows pair up.
        ids = extra.get("kling_task_ids", ())
        names = extra.get("names") or ids
        for kling_task_id, path, name in zip(ids, extra.get("paths", ()), names, strict=False):
            task = hook.find_task(kling_task_id)
            url = task.images[0].url if task is not None and task.images else None
            images.append(
                {"name": name, "kling_task_id": kling_task_id, "still": path, "first_frame": url or path}
            )
    if not images or folder is None:
        raise AirflowSkipException("no asset event lists stored catalogue images")
    print(f"{len(images)} catalogue image(s) become {SECONDS} s product videos")
    return {"images": images, "folder": folder}


@task
def first_frames(catalogue: dict[str, Any]) -> list[str]:
    return [image["first_frame"] for image in catalogue["images"]]


@task
def output_folder(catalogue: dict[str, Any]) -> str:
    return str(catalogue["folder"])


@task
def video_sheet(results: list[dict[str, Any]], catalogue: dict[str, Any], **context: Any) -> str:
    """``video_sheet.html`` beside the videos: a ``<video>`` per product, its image as the poster."""
    import html

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.spend import format_units, total_units
    from airflow_provider_kling.storage import safe_name

    # The mapped tasks' results, read once, by index: iterating would ask for one result past the last.
    results = [results[index] for index in range(len(results))]
    folder = ObjectStoragePath(catalogue["folder"]) / context["dag"].dag_id / safe_name(context["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    prefix = str(folder).rstrip("/") + "/"

    def relative(path: str) -> str:
        return path[len(prefix) :] if path.startswith(prefix) else path

    figures = [
        f'<figure><video src="{html.escape(relative(video["path"]))}" poster="{html.escape(image["still"])}" '
        'controls muted loop playsinline preload="metadata"></video>'
        f"<figcaption><b>{html.escape(str(image.get('name') or image['kling_task_id']))}</b>: "
        f"{html.escape(str(video.get('duration') or '?'))} s, Kling task "
        f"{html.escape(str(result['task_id']))}</figcaption></figure>"
        for result, image in zip(results, catalogue["images"], strict=True)
        for video in result.get("videos", ())
        if video.get("path")
    ]
    sheet = folder / "video_sheet.html"
    sheet.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>Product videos</title>"
        "<style>body{font-family:sans-serif}main{display:grid;"
        "grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:1em}"
        "video{width:100%;height:auto}figure{margin:0}</style></head>\n"
        f"<body><h1>Product videos: {html.escape(context['ds'])}</h1>"
        f"<p>{len(figures)} video(s), {format_units(total_units(results))} units</p>\n"
        "<main>\n" + "\n".join(figures) + "\n</main></body></html>\n"
    )
    print(f"Video contact sheet {sheet}: {len(figures)} video(s)")
    return str(sheet)


@dag(
    dag_id="kling_product_video",
    schedule=CATALOGUE_IMAGES,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["kling", "example", "video"],
    doc_md=__doc__,
)
def kling_product_video() -> None:
    catalogue = catalogue_images()
    videos = KlingImageToVideoOperator.partial(
        task_id="product_video",
        prompt=PROMPT,
        model_name=MODEL,
        duration=SECONDS,
        pool=POOL,
        output_path=output_folder(catalogue),
        poll_interval=POLL_INTERVAL,
        timeout=3600,
        retries=2,
        retry_delay=pendulum.duration(seconds=30),
    ).expand(first_frame=first_frames(catalogue))
    video_sheet(videos.output, catalogue)


kling_product_video()
