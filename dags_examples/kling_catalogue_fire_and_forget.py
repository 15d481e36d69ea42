"""
The daily catalogue, fire and forget: every prompt is sent to Kling with the callback receiver's
URL, and the task ends once the last one is created. Nobody polls Kling: when a task ends, Kling
POSTs it to Airflow's api-server (``/kling/callbacks/kling_default``, mounted by this provider's
plugin), which verifies the signature and records an event on the asset
``kling://kling_default/tasks``; ``kling_catalogue_on_callback`` is scheduled on that asset and
stores the images.

Set up the ``kling_default`` connection with
- ``callback_base_url``: the api-server's URL as Kling can reach it (``https://airflow.example.com``);
- ``webhook_secret``: the ``whsec_`` secret from Kling's console (the receiver refuses unsigned posts);
- ``external_task_id_namespace`` (optional, e.g. ``catalogue``): every task of this pipeline carries
  it in its external id, so the consumer can tell this pipeline's tasks from others'.

``KlingBatchOperator(wait_for_completion=False, callback_url="receiver")`` creates the rows as
the account's slots allow: a slot is known to be free when its task's terminal callback is
recorded on the asset (read once per ``poll_interval`` for all rows, never a request to Kling).
Each row's external task id comes from the task instance, its key and the request, so a retry
finds the tasks it created instead of paying for them again. ``kling_catalogue_callback_sweep``
records the tasks whose callback never arrived.

- ``KLING_SLOTS`` (default 4): the concurrent Kling slots of your account.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag

from airflow_provider_kling.operators.batch import KlingBatchOperator

SLOTS = int(os.environ.get("KLING_SLOTS", "4"))


@dag(
    dag_id="kling_catalogue_fire_and_forget",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example", "callbacks"],
    doc_md=__doc__,
)
def catalogue_fire_and_forget() -> None:
    KlingBatchOperator(
        task_id="create",
        kling_conn_id="kling_default",
        requests="prompts/catalogue.csv",
        key_field="name",
        slots=SLOTS,
        output_path=None,  # the callbacks' DAG stores the results
        callback_url="receiver",
        wait_for_completion=False,
        poll_interval=1.0,
        timeout=3 * 3600,
        retries=2,
        retry_delay=pendulum.duration(seconds=30),
    )


catalogue_fire_and_forget()
