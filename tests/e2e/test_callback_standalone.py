"""Fire and forget under ``airflow standalone``: zero polls, every image stored through callbacks.

``KlingBatchOperator(wait_for_completion=False, callback_url="receiver")`` creates the catalogue;
api-server, scheduler, triggerer and DAG processor run as processes. The simulator signs its
callbacks and POSTs them to the api-server's receiver (this provider's plugin), which records
events on ``kling://kling_default/tasks``; ``kling_catalogue_on_callback`` runs on them and
stores the images. Kling is never asked about a task: no query, one list (the reconcile).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kling.testing import KlingSimulator

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "whsec_" + base64.b64encode(b"standalone-callback-secret-32byt").decode()
CATALOGUE_ROWS = 4
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_spec = importlib.util.spec_from_file_location("standalone_check", REPO / "scripts" / "standalone_check.py")
assert _spec is not None and _spec.loader is not None
standalone_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standalone_check)
call, wait_for, free_port = standalone_check.call, standalone_check.wait_for, standalone_check.free_port


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture
def simulator() -> Iterator[KlingSimulator]:
    with KlingSimulator(api_key="standalone-key", latency=2.0, webhook_secret=SECRET) as simulator:
        simulator.app.state.callbacks.configure(backoff=0.5, max_attempts=8)
        yield simulator


def test_fire_and_forget_catalogue_is_stored_from_callbacks_without_a_poll(
    simulator: KlingSimulator, tmp_path: Path
) -> None:
    home, images, dags = tmp_path / "home", tmp_path / "images", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    for name in ("kling_catalogue_fire_and_forget.py", "kling_catalogue_on_callback.py"):
        shutil.copy(REPO / "dags_examples" / name, dags / name)
    shutil.copytree(REPO / "dags_examples" / "prompts", dags / "prompts")
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    connection = {
        "conn_type": "kling",
        "host": simulator.base_url,
        "password": simulator.api_key,
        "extra": {
            "webhook_secret": SECRET,
            "callback_base_url": api,
            "external_task_id_namespace": "catalogue",
        },
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "KLING_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # The worker's and the triggerer's log servers default to fixed ports (8793, 8794): free ones,
        # so that two standalones (xdist workers, other checkouts) can run at once.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW_CONN_KLING_DEFAULT=json.dumps(connection),
        KLING_OUTPUT_DIR=str(images),
        KLING_CATALOGUE_NAMESPACE="catalogue",
        PYTHONWARNINGS="ignore",
    )
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    log_path = tmp_path / "standalone.log"
    with log_path.open("w") as log:
        standalone = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        wait_for("the API server", lambda: call(f"{api}/api/v2/monitor/health"), 180)
        passwords = home / "simple_auth_manager_passwords.json.generated"
        password = wait_for("the admin password", lambda: json.loads(passwords.read_text())["admin"], 60)
        token = call(f"{api}/auth/token", "POST", {"username": "admin", "password": password})["access_token"]
        wanted = {"kling_catalogue_fire_and_forget", "kling_catalogue_on_callback"}
        wait_for(
            "the DAGs",
            lambda: wanted <= {d["dag_id"] for d in call(f"{api}/api/v2/dags", token=token)["dags"]},
            180,
        )

        # The receiver is on the api-server, outside Airflow's auth: an unsigned post is refused.
        receiver = f"{api}/kling/callbacks/kling_default"
        assert post_raw(receiver, b'{"task_id": "1", "task_status": "succeed"}', {}) == 401
        assert post_raw(f"{api}/kling/callbacks/nobody", b"{}", {}) == 401  # no connection-id oracle

        call(f"{api}/api/v2/dags/kling_catalogue_on_callback", "PATCH", {"is_paused": False}, token=token)
        # Unpausing the daily DAG (catchup off) starts its latest run: the only one.
        call(f"{api}/api/v2/dags/kling_catalogue_fire_and_forget", "PATCH", {"is_paused": False}, token=token)

        def run_states() -> Any:
            runs = call(f"{api}/api/v2/dags/kling_catalogue_fire_and_forget/dagRuns", token=token)["dag_runs"]
            states = [run["state"] for run in runs]
            return states if states and all(state in ("success", "failed") for state in states) else None

        assert wait_for("the fire-and-forget run", run_states, 300) == ["success"]

        def stored_tasks() -> Any:
            rows = [
                row
                for manifest in images.rglob("store_results_manifest.json")
                for row in json.loads(manifest.read_text())["tasks"]
            ]
            done = {row["kling_task_id"] for row in rows if row["files"]}
            return rows if len(done) == CATALOGUE_ROWS else None

        rows = wait_for("every catalogue task stored from callbacks", stored_tasks, 300)
        assets = call(f"{api}/api/v2/assets?uri_pattern=kling://kling_default/tasks", token=token)["assets"]
        (asset_id,) = [asset["id"] for asset in assets if asset["uri"] == "kling://kling_default/tasks"]
        events = call(f"{api}/api/v2/assets/events?asset_id={asset_id}&limit=100", token=token)[
            "asset_events"
        ]
    finally:
        standalone.send_signal(signal.SIGINT)
        try:
            standalone.wait(60)
        except subprocess.TimeoutExpired:
            standalone.kill()
            standalone.wait()

    counters = simulator.counters(simulator.api_key)
    assert counters["creates"] == CATALOGUE_ROWS
    # Not a single poll: no task query, no list round; one page of POST /tasks, the batch's
    # reconcile at its start (a retry's way to find what an earlier try created).
    assert (counters["queries"], counters["lists"], counters["tasks"]) == (0, 0, 1), counters
    assert counters["callbacks"] >= 3 * CATALOGUE_ROWS
    assert {row["namespace"] for row in rows} == {"catalogue"}
    assert all(row["status"] == "succeed" and row["fingerprint"] for row in rows)
    # One event per task, though every message was delivered at least once and some retried.
    assert sorted(event["extra"]["kling_task_id"] for event in events) == sorted(
        {row["kling_task_id"] for row in rows}
    )
    pngs = sorted(images.rglob("*.png"))
    assert {p.name.split("_")[2] for p in pngs} == {row["kling_task_id"] for row in rows}
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    assert SECRET.removeprefix("whsec_") not in log_path.read_text()
