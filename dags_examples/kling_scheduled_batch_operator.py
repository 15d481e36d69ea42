"""
Daily catalogue images with Kling: the whole catalogue in one batch task, at the account's slots.

The same catalogue as ``kling_scheduled_batch`` (``prompts/catalogue.csv``, rendered with the
run's context so ``{{ ds }}`` becomes the run's date), sent by one
``KlingBatchOperator``: it keeps the account's slots full, never sends a create
that cannot fit, and waits in the triggerer (no worker slot held while Kling works). Each row's
``name`` is its item key: its identity across retries, and part of its file names. Images, the
``generate_catalogue_manifest.json`` and the ``generate_catalogue_contact_sheet.html`` land under
``<output dir>/<ds>/<dag_id>/<run_id>/``.

Choose it over the mapped DAG for batches of hundreds of prompts (one task instead of one per
prompt, no pool to size); choose the mapped one to see one task per prompt in the UI.

- Output dir: the Airflow Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else
  ``build/demo/images`` in this repository. A URI (``s3://bucket/kling``) works too.
- ``KLING_SLOTS`` (default 4): the concurrent Kling slots of your account.
- ``KLING_POLL_INTERVAL`` (seconds, default 10): how often to ask Kling about each running task.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.batch import KlingBatchOperator

SLOTS = int(os.environ.get("KLING_SLOTS", "4"))
POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))


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


@dag(
    dag_id="kling_scheduled_batch_operator",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def catalogue_batch() -> None:
    KlingBatchOperator(
        task_id="generate_catalogue",
        requests="prompts/catalogue.csv",
        key_field="name",
        model_name="kling-v3",
        slots=SLOTS,
        output_path=output_dir(),
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=3 * 3600,
        retries=2,
        retry_delay=pendulum.duration(seconds=30),
    )


catalogue_batch()
