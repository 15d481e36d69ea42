"""
The daily catalogue, fire and forget: every prompt is sent to Kling with the callback receiver's
URL, and the run ends as soon as the tasks exist. Nobody polls Kling: when a task ends, Kling POSTs
it to Airflow's api-server (``/kling/callbacks/kling_default``, mounted by this provider's
plugin), which verifies the signature and records an event on the asset
``kling://kling_default/tasks``; ``kling_catalogue_on_callback`` is scheduled on that asset and
stores the images.

Set up the ``kling_default`` connection with
- ``callback_base_url``: the api-server's URL as Kling can reach it (``https://airflow.example.com``);
- ``webhook_secret``: the ``whsec_`` secret from Kling's console (the receiver refuses unsigned posts);
- ``external_task_id_namespace`` (optional, e.g. ``catalogue``): every task of this pipeline carries
  it in its external id, so the consumer can tell this pipeline's tasks from others'.

Each prompt is one mapped ``KlingImageGenerationOperator`` with ``wait_for_completion=False``:
its external task id comes from the task instance and the request, so a retry finds the task it
created instead of paying for a second one. ``kling_catalogue_callback_sweep`` records the tasks
whose callback never arrived.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

CONN_ID = "kling_default"


@task
def callback_url() -> str:
    """The receiver's URL for this connection (its ``callback_base_url`` extra), read at run time."""
    from airflow_provider_kling.callbacks.events import receiver_url
    from airflow_provider_kling.hooks.kling import KlingHook

    base_url = KlingHook(CONN_ID).settings.callback_base_url
    if not base_url:
        raise ValueError(f"Connection '{CONN_ID}' needs the 'callback_base_url' extra for callbacks")
    return receiver_url(base_url, CONN_ID)


@task
def todays_prompts(**context: Any) -> list[dict[str, Any]]:
    """One request per row of ``prompts/catalogue.csv``, rendered with the run's context."""
    import csv
    from pathlib import Path

    catalogue = Path(__file__).resolve().parent / "prompts" / "catalogue.csv"
    with catalogue.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    render = context["task"].render_template
    return [
        {"prompt": render(row["prompt"], context), "aspect_ratio": row.get("aspect_ratio") or "1:1"}
        for row in rows
        if row.get("prompt", "").strip()
    ]


@dag(
    dag_id="kling_catalogue_fire_and_forget",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example", "callbacks"],
    doc_md=__doc__,
)
def catalogue_fire_and_forget() -> None:
    KlingImageGenerationOperator.partial(
        task_id="create",
        kling_conn_id=CONN_ID,
        model_name="kling-v1",
        callback_url=callback_url(),
        wait_for_completion=False,
        retries=2,
        retry_delay=pendulum.duration(seconds=30),
    ).expand_kwargs(todays_prompts())


catalogue_fire_and_forget()
