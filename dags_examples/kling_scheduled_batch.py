"""
Daily catalogue images with Kling: one image task per prompt, bounded by the account's slots.

Every day the prompts in ``prompts/catalogue.csv`` (Jinja, rendered with the run's context, so
``{{ ds }}`` becomes the run's date) are sent to Kling, one mapped task per row. The tasks run in
the ``kling_slots`` pool, sized to the number of concurrent Kling slots your account has and
counting deferred tasks (``airflow pools set kling_slots 4 "Kling slots" --include-deferred``: a
deferred task's Kling task still holds its slots; the scheduler never starts a task whose pool
does not exist, it does not fall back to ``default_pool``). The images land under
``<output dir>/<ds>/<dag_id>/<run_id>/``, and a last task writes the run's ``manifest.json`` and
``contact_sheet.html`` next to them, so a scheduled and a manual run on the same day keep their own.

That last task updates the asset ``kling_catalogue_images`` once per run, after every image is
stored: its event's ``extra`` lists what the run made (Kling task ids, image paths, units ...; see
docs/assets-and-lineage.rst) plus the ``manifest``'s URI. ``kling_gallery`` is scheduled on
it. The manifest task emits the event rather than each mapped image task, so a consumer runs once
per finished batch, never on half of one, and the asset is known when the DAG is parsed (the
output folder is only known at run time).

- Output dir: the Airflow Variable ``kling_output_dir``, else the environment variable
  ``KLING_OUTPUT_DIR``, else ``build/demo/images`` in this repository; read when the run starts.
  A URI (``s3://bucket/kling``) works too.
- Connection: ``kling_default`` (the simulator in ``make demo``, Kling itself with a real key).
- ``KLING_POLL_INTERVAL`` (seconds, default 10): how often to ask Kling about a task.

``kling_scheduled_batch_deferrable`` is the same DAG (unscheduled) waiting in the triggerer.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

#: The pool that bounds concurrency; create it with as many slots as your Kling account allows.
POOL = "kling_slots"
#: An image task holds one Kling slot per image, so it takes that many pool slots.
IMAGES_PER_PROMPT = 1
POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))
#: Updated once per run when the run's images are stored; ``kling_gallery`` is scheduled on it. Its URI
#: only names the collection: the run's folder is in each event's ``extra`` (``output_uri``, ``paths``).
CATALOGUE_IMAGES = Asset(name="kling_catalogue_images", uri="x-kling://kling_scheduled_batch/images")


@task
def output_dir(ds: str | None = None) -> str:
    """Today's output folder, resolved when the run starts (not when the file is parsed)."""
    from pathlib import Path

    from airflow.sdk import Variable

    default = Path(__file__).resolve().parents[1] / "build" / "demo" / "images"
    base = Variable.get("kling_output_dir", default=None) or os.environ.get("KLING_OUTPUT_DIR") or default
    base = str(base)
    if "://" not in base:
        base = "file://" + os.path.abspath(os.path.expanduser(base))
    return f"{base.rstrip('/')}/{ds}"


def catalogue_rows() -> list[dict[str, str]]:
    """The catalogue's rows that have a prompt, in file order (the order of the mapped tasks)."""
    import csv
    from pathlib import Path

    catalogue = Path(__file__).resolve().parent / "prompts" / "catalogue.csv"
    with catalogue.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row.get("prompt", "").strip()]


@task
def todays_prompts(**context: Any) -> list[dict[str, Any]]:
    """The operator arguments for each row of the catalogue, prompts rendered for this run."""
    # Rendered here, explicitly, with the run's context: {{ ds }}, {{ logical_date }}, macros...
    render = context["task"].render_template
    return [
        {"prompt": render(row["prompt"], context), "aspect_ratio": row.get("aspect_ratio") or "1:1"}
        for row in catalogue_rows()
    ]


@task(outlets=[CATALOGUE_IMAGES])
def write_manifest(results: list[dict[str, Any]], out_dir: str, **context: Any) -> dict[str, Any]:
    """The run's ``manifest.json`` (prompt, Kling task id, units, files) and ``contact_sheet.html``.

    Both go in the run's own folder, next to its images: one manifest per run. ``units`` is what
    Kling deducted for each prompt (``final_unit_deduction``); ``total_units`` their sum. The run's
    event on ``kling_catalogue_images`` says what was made.
    """
    import html
    import json

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.assets import asset_extra, plain_uri, record_asset_events
    from airflow_provider_kling.spend import format_units, total_units, units_of
    from airflow_provider_kling.storage import safe_name

    # The mapped tasks' results, read once, by index: iterating would ask for one result past the last.
    results = [results[index] for index in range(len(results))]
    names = [row.get("name") or f"row {number}" for number, row in enumerate(catalogue_rows(), 1)]
    dag_id, run_id, ds = context["dag"].dag_id, context["run_id"], context["ds"]
    # The folder the operator stores this run's images in (see "File names" in docs/storage.rst).
    folder = ObjectStoragePath(out_dir) / dag_id / safe_name(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = str(folder).rstrip("/") + "/"

    def relative(path: str | None) -> str | None:
        return path[len(prefix) :] if path and path.startswith(prefix) else path

    entries = [
        {
            "name": name,
            "prompt": result["prompt"],
            "kling_task_id": result["task_id"],
            "task_status": result["task_status"],
            "model_name": result.get("model_name"),
            "units": units_of(result.get("final_unit_deduction")),
            "files": [relative(image.get("path")) for image in result["images"]],
        }
        for name, result in zip(names, results, strict=False)
    ]
    units = total_units(results)
    manifest = {"dag_id": dag_id, "run_id": run_id, "date": ds, "total_units": units, "prompts": entries}
    manifest_path = folder / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")

    figures = "\n".join(
        f'<figure><img src="{html.escape(file)}" alt="{html.escape(entry["prompt"])}" loading="lazy">'
        f"<figcaption><b>{html.escape(entry['name'])}</b>: {html.escape(entry['prompt'])}"
        "<br><small>Kling task "
        f"{html.escape(entry['kling_task_id'])}, {format_units(entry['units'])} units</small>"
        "</figcaption></figure>"
        for entry in entries
        for file in entry["files"]
        if file
    )
    sheet_path = folder / "contact_sheet.html"
    sheet_path.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(dag_id)} {html.escape(ds)}</title>"
        "<style>body{font-family:sans-serif}main{display:grid;"
        "grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:1em}"
        "img{width:100%;height:auto}figure{margin:0}</style></head>\n"
        f"<body><h1>{html.escape(dag_id)}: {html.escape(ds)}</h1>"
        f"<p>Run {html.escape(run_id)}: {format_units(units)} units</p>\n"
        f"<main>\n{figures}\n</main></body></html>\n"
    )
    output_uri = plain_uri(out_dir)
    extra = asset_extra(
        results, dag_id=dag_id, run_id=run_id, task_id="generate_images", output_uri=output_uri
    )
    extra["manifest"] = plain_uri(manifest_path)
    extra["names"] = [entry["name"] for entry in entries]  # the catalogue row of each Kling task id
    record_asset_events(context, [CATALOGUE_IMAGES], output_uri, extra)
    return {
        "manifest": str(manifest_path),
        "contact_sheet": str(sheet_path),
        "prompts": len(entries),
        "total_units": units,
    }


def catalogue_dag(dag_id: str, *, schedule: str | None, deferrable: bool) -> Any:
    """One DAG per waiting mode; the tasks are the same."""

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        tags=["kling", "example"],
        doc_md=__doc__,
    )
    def catalogue() -> None:
        out_dir = output_dir()
        images = KlingImageGenerationOperator.partial(
            task_id="generate_images",
            model_name="kling-v3",
            n=IMAGES_PER_PROMPT,
            pool=POOL,
            pool_slots=IMAGES_PER_PROMPT,
            output_path=out_dir,
            deferrable=deferrable,
            poll_interval=POLL_INTERVAL,
            timeout=1800,
            retries=2,
            retry_delay=pendulum.duration(seconds=30),
        ).expand_kwargs(todays_prompts())
        write_manifest(images.output, out_dir)

    return catalogue()


catalogue_dag("kling_scheduled_batch", schedule="@daily", deferrable=False)
catalogue_dag("kling_scheduled_batch_deferrable", schedule=None, deferrable=True)
