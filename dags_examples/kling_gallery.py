"""
The day's gallery of catalogue images, rebuilt whenever ``kling_scheduled_batch`` stores a run's images.

Scheduled on the asset ``kling_catalogue_images``: no time of its own, it runs because new images
exist. Each triggering asset event's ``extra`` (see "Assets and lineage" in docs/) says what is
new: the run's folder (``output_uri``, ``<output dir>/<ds>``), the image ``paths`` and the run's
``manifest`` (for the prompts). The new images are added to ``gallery.json`` in that folder, and
``gallery.html`` next to it shows every image of the day, newest run first, each run linked to its
contact sheet. Several batch runs before this DAG gets to run make one gallery run with all their
events.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

#: The asset ``kling_scheduled_batch`` updates: the same name and URI as there (Airflow matches both).
CATALOGUE_IMAGES = Asset(name="kling_catalogue_images", uri="x-kling://kling_scheduled_batch/images")


@task
def new_images(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
    """The runs the triggering events describe, each with its new images; skipped when there are none."""
    from airflow.providers.common.compat.sdk import AirflowSkipException

    runs, seen = [], set()
    for asset, events in (triggering_asset_events or {}).items():
        for event in events:
            extra = dict(event.extra or {})
            if not extra.get("paths") or (extra["dag_id"], extra["run_id"]) in seen:
                continue  # nothing stored, or listed already (under an alias too)
            seen.add((extra["dag_id"], extra["run_id"]))
            print(
                f"{asset.name}: {len(extra['paths'])} new image(s) from {extra['dag_id']} {extra['run_id']}"
            )
            for path in extra["paths"]:
                print(f"  new image: {path}")
            runs.append(
                {
                    "dag_id": extra["dag_id"],
                    "run_id": extra["run_id"],
                    "folder": extra["output_uri"],
                    "manifest": extra.get("manifest"),
                    "paths": extra["paths"],
                    "kling_task_ids": extra["kling_task_ids"],
                    "units": extra.get("units"),
                }
            )
    if not runs:
        raise AirflowSkipException("no triggering asset event lists new images")
    return runs


@task
def build_gallery(runs: list[dict[str, Any]]) -> list[str]:
    """Add the new runs to each day's ``gallery.json`` and rewrite its ``gallery.html``."""
    from airflow.sdk import ObjectStoragePath

    galleries = []
    for folder_uri in sorted({run["folder"] for run in runs}):
        folder = ObjectStoragePath(folder_uri)
        index_path = folder / "gallery.json"
        known = json_load(index_path) if index_path.exists() else []
        seen = {(run["dag_id"], run["run_id"]) for run in known}
        for run in runs:
            if run["folder"] == folder_uri and (run["dag_id"], run["run_id"]) not in seen:
                known.append({**run, "captions": captions(run)})
                seen.add((run["dag_id"], run["run_id"]))
        folder.mkdir(parents=True, exist_ok=True)
        index_path.write_text(json_dump(known))
        page = folder / "gallery.html"
        page.write_text(gallery_html(folder_uri, known))
        print(f"Gallery {page}: {sum(len(run['paths']) for run in known)} image(s) from {len(known)} run(s)")
        galleries.append(str(page))
    return galleries


def captions(run: dict[str, Any]) -> dict[str, str]:
    """Each new image's prompt, read from the run's manifest (file names relative to its folder)."""
    import json

    from airflow.sdk import ObjectStoragePath

    if not run.get("manifest"):
        return {}
    manifest_path = ObjectStoragePath(run["manifest"])
    manifest = json.loads(manifest_path.read_text())
    run_folder = str(run["manifest"]).rsplit("/", 1)[0]
    return {
        f"{run_folder}/{file}": entry["prompt"]
        for entry in manifest["prompts"]
        for file in entry["files"]
        if file
    }


def gallery_html(folder_uri: str, runs: list[dict[str, Any]]) -> str:
    import html

    prefix = folder_uri.rstrip("/") + "/"

    def relative(path: str) -> str:
        return path[len(prefix) :] if path.startswith(prefix) else path

    sections = []
    for run in reversed(runs):  # newest run first
        manifest = run.get("manifest")
        sheet = relative(manifest.rsplit("/", 1)[0] + "/contact_sheet.html") if manifest else None
        title = html.escape(f"{run['dag_id']} {run['run_id']}")
        heading = f'<a href="{html.escape(sheet)}">{title}</a>' if sheet else title
        figures = "\n".join(
            f'<figure><img src="{html.escape(relative(path))}" loading="lazy" '
            f'alt="{html.escape(run["captions"].get(path, ""))}">'
            f"<figcaption>{html.escape(run['captions'].get(path, relative(path)))}</figcaption></figure>"
            for path in run["paths"]
        )
        sections.append(f"<h2>{heading}</h2>\n<main>\n{figures}\n</main>")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>Kling gallery</title>"
        "<style>body{font-family:sans-serif}main{display:grid;"
        "grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:1em}"
        "img{width:100%;height:auto}figure{margin:0}</style></head>\n"
        f"<body><h1>Kling gallery: {html.escape(folder_uri)}</h1>\n"
        + "\n".join(sections)
        + "</body></html>\n"
    )


def json_load(path: Any) -> list[dict[str, Any]]:
    import json

    return list(json.loads(path.read_text()))


def json_dump(runs: list[dict[str, Any]]) -> str:
    import json

    return json.dumps(runs, indent=2) + "\n"


@dag(
    dag_id="kling_gallery",
    schedule=CATALOGUE_IMAGES,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def kling_gallery() -> None:
    build_gallery(new_images())


kling_gallery()
