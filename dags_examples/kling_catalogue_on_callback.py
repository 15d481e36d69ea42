"""
Store the catalogue's images when Kling says they are ready: scheduled on the callback asset.

Every terminal Kling callback that the api-server's receiver verifies becomes an event on
``kling://kling_default/tasks`` (its ``extra``: the Kling task id, external task id, status,
image and video URLs, units, and the request fingerprint and namespace read from the external
id). This DAG runs on those events; events that arrive while it runs wait for its next run, so
a run can handle many tasks. Its one task stores each succeeded task's images with the same
verified storage and one-file-per-image naming as the operators,
``<output dir>/<dag_id>/<run_id>/store_results_<kling task id>_<n>.png``, and writes
``store_results_manifest.json`` beside them.

``KLING_CATALOGUE_NAMESPACE`` (default: every namespace): keep only the tasks of one pipeline,
the ``external_task_id_namespace`` its connection gives its external ids. Output dir: the Airflow
Variable ``kling_output_dir``, else ``KLING_OUTPUT_DIR``, else ``build/demo/images``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Asset, dag, task

from airflow_provider_kling.callbacks.events import callback_asset_uri
from airflow_provider_kling.operators.callbacks import KlingCallbackResultsOperator

CONN_ID = "kling_default"
#: Where the receiver records this connection's callbacks.
CALLBACKS = Asset(callback_asset_uri(CONN_ID))


# Retried: a run that starts while the api-server restarts fails its first read of the Variable.
@task(retries=2, retry_delay=pendulum.duration(seconds=30))
def output_dir() -> str:
    """The output folder, resolved when the run starts (not when the file is parsed)."""
    from pathlib import Path

    from airflow.sdk import Variable

    default = Path(__file__).resolve().parents[1] / "build" / "demo" / "images"
    base = str(
        Variable.get("kling_output_dir", default=None) or os.environ.get("KLING_OUTPUT_DIR") or default
    )
    return base if "://" in base else "file://" + os.path.abspath(os.path.expanduser(base))


@dag(
    dag_id="kling_catalogue_on_callback",
    schedule=[CALLBACKS],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example", "callbacks"],
    doc_md=__doc__,
)
def catalogue_on_callback() -> None:
    KlingCallbackResultsOperator(
        task_id="store_results",
        kling_conn_id=CONN_ID,
        output_path=output_dir(),
        namespace=os.environ.get("KLING_CATALOGUE_NAMESPACE") or None,
        retries=2,
        retry_delay=pendulum.duration(seconds=30),
    )


@dag(
    dag_id="kling_catalogue_callback_sweep",
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kling", "example", "callbacks"],
    doc_md="""Records the events of catalogue tasks whose callback never arrived (ended more than
    10 minutes ago with no event on the callback asset), so ``kling_catalogue_on_callback`` stores
    them too; logs tasks still running an hour after they were created.""",
)
def catalogue_callback_sweep() -> None:
    from airflow_provider_kling.operators.callbacks import KlingCallbackSweepOperator

    KlingCallbackSweepOperator(
        task_id="sweep",
        kling_conn_id=CONN_ID,
        namespace=os.environ.get("KLING_CATALOGUE_NAMESPACE") or None,
    )


catalogue_on_callback()
catalogue_callback_sweep()
