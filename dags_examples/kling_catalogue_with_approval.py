"""
Catalogue images with a person's yes before the big spend: preview 4 items, estimate, approve, batch the rest.

1. ``catalogue`` builds the requests (every product, from the front and in use) and splits off
   the first 4 as a preview.
2. ``preview`` runs those 4 in a small batch: their images and a contact sheet to judge the look
   (and finished tasks the spend gate learns the account's prices from).
3. ``approve_spend`` (``KlingSpendApprovalOperator``) estimates the rest on the account's own
   prices (learnt from its finished tasks, else ``price_table``, else stand-in prices that the
   question labels as such), reads the units left in its resource packs and, when the estimate
   reaches ``KLING_APPROVAL_THRESHOLD``, asks in the Airflow UI (Browse, Required Actions) or the
   REST API (``PATCH .../taskInstances/approve_spend/-1/hitlDetails``) with the estimate, the units
   left, the ten costliest requests and a link to the preview's contact sheet. Under the threshold
   it asks nothing. Reject, or no answer within ``KLING_APPROVAL_TIMEOUT`` hours, skips the batch.
4. ``generate_catalogue`` runs the rest in one batch at the account's slots.

- Output dir: the Airflow Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else
  ``build/demo/images`` in this repository. A URI (``s3://bucket/kling``) works too.
- ``KLING_SLOTS`` (default 4), ``KLING_POLL_INTERVAL`` (seconds, default 10).
- ``KLING_APPROVAL_THRESHOLD`` (units, default 20), ``KLING_APPROVAL_TIMEOUT`` (hours, default 24).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.approval import KlingSpendApprovalOperator
from airflow_provider_kling.operators.batch import KlingBatchOperator

SLOTS = int(os.environ.get("KLING_SLOTS", "4"))
POLL_INTERVAL = float(os.environ.get("KLING_POLL_INTERVAL", "10"))
THRESHOLD_UNITS = float(os.environ.get("KLING_APPROVAL_THRESHOLD", "20"))
RESPONSE_TIMEOUT = pendulum.duration(hours=float(os.environ.get("KLING_APPROVAL_TIMEOUT", "24")))
PREVIEW_ITEMS = 4
PRODUCTS = {
    "lamp": "a brass desk lamp on an oak table",
    "teapot": "a hand-thrown blue ceramic teapot",
    "sneaker": "a white canvas sneaker",
    "backpack": "a waxed-cotton backpack",
    "watch": "a steel diver's watch with a green dial",
    "chair": "a bentwood chair in pale ash",
}
VIEWS = {
    "front": "studio product photo from the front, soft light, plain backdrop",
    "in-use": "lifestyle photo in use, golden hour",
}


@task(multiple_outputs=True)
def catalogue(ds: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every product in every view; the first few are the preview."""
    requests = [
        {
            "key": f"{name}-{view}",
            "prompt": f"{product}, {style}, catalogue of {ds}",
            "model_name": "kling-v3",
            "resolution": "2k",
            "aspect_ratio": "1:1",
        }
        for view, style in VIEWS.items()
        for name, product in PRODUCTS.items()
    ]
    return {"preview": requests[:PREVIEW_ITEMS], "rest": requests[PREVIEW_ITEMS:]}


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
    return f"{base.rstrip('/')}/{ds or 'unscheduled'}"


@dag(
    dag_id="kling_catalogue_with_approval",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["kling", "example"],
    doc_md=__doc__,
)
def catalogue_with_approval() -> None:
    requests = catalogue()
    folder = output_dir()
    batch_arguments: dict[str, Any] = {
        "key_field": "key",
        "slots": SLOTS,
        "output_path": folder,
        "deferrable": True,
        "poll_interval": POLL_INTERVAL,
        "retries": 2,
        "retry_delay": pendulum.duration(seconds=30),
    }
    preview = KlingBatchOperator(
        task_id="preview", requests=requests["preview"], timeout=1800, **batch_arguments
    )
    approve = KlingSpendApprovalOperator(
        task_id="approve_spend",
        requests=requests["rest"],
        threshold_units=THRESHOLD_UNITS,
        preview=preview.output,
        response_timeout=RESPONSE_TIMEOUT,
    )
    generate = KlingBatchOperator(
        task_id="generate_catalogue", requests=requests["rest"], timeout=3 * 3600, **batch_arguments
    )
    preview >> approve >> generate


catalogue_with_approval()
