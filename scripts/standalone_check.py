"""Run the examples under ``airflow standalone`` against the simulator, each triggered over REST.

A bounded, loopback-only check of what the docs' "Under airflow standalone" section says:
a fresh home in ``build/standalone/airflow-home``, the simulator on a free port, standalone on a
free port with ``AIRFLOW__CORE__PARALLELISM=4``; it waits for the DAGs to be parsed, gets a token
from ``POST /auth/token``, unpauses each example DAG, triggers a run of each through
``POST /api/v2/dags/{dag_id}/dagRuns`` and waits for it, then stops standalone with SIGINT and the
simulator. ``kling_gallery`` is unpaused first and never triggered: the batch runs' asset events
must start it by themselves, and its ``new_images`` log (read over REST) must name every image of
the triggered ``kling_scheduled_batch`` run. Exits 0 when every run succeeded and stored its
images and the gallery ran for them.

    python scripts/standalone_check.py
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "build" / "standalone"
#: Waiting on the worker, in standalone's triggerer, from a reschedule-mode sensor.
DAG_IDS = ("kling_scheduled_batch", "kling_scheduled_batch_deferrable", "kling_taskflow", "kling_sensor")
DATE = "2025-06-01"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read() or b"null")


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(1)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")


def run_and_check(api: str, token: str, dag_id: str, images: Path, simulator: Any) -> bool:
    """Unpause, trigger one run over REST, wait for it; True when it succeeded with every image."""
    call(f"{api}/api/v2/dags/{dag_id}", "PATCH", {"is_paused": False}, token=token)
    run_id = f"rest_check_{DATE}"
    body = {"logical_date": f"{DATE}T00:00:00Z", "dag_run_id": run_id}
    call(f"{api}/api/v2/dags/{dag_id}/dagRuns", "POST", body, token=token)
    print(f"{dag_id}: triggered {run_id}; waiting for it")

    def finished() -> Any:
        state = call(f"{api}/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=token)["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(f"{dag_id} {run_id}", finished, 300)
    folder = images / DATE / dag_id
    pngs = sorted(folder.rglob("*.png")) if folder.is_dir() else []
    missing: list[Path] = []
    from airflow_provider_kling.storage import safe_name

    # One manifest per run, in the run's folder next to its images.
    if (manifest_path := folder / safe_name(run_id) / "manifest.json").is_file():
        manifest = json.loads(manifest_path.read_text())
        listed = [manifest_path.parent / f for entry in manifest["prompts"] for f in entry["files"]]
        missing = [f for f in listed if not f.is_file()]
    print(
        f"{dag_id} {run_id}: {state}; {len(pngs)} PNG files, {len(missing)} missing from a manifest; "
        f"simulator counters {simulator.counters(simulator.api_key)}"
    )
    return state == "success" and bool(pngs) and not missing


def gallery_named_the_batch_images(api: str, token: str, images: Path) -> bool:
    """Wait for asset-triggered ``kling_gallery`` runs until one's log names every image of the
    REST-triggered ``kling_scheduled_batch`` run; print what it logged."""
    from airflow_provider_kling.storage import safe_name

    folder = images / DATE / "kling_scheduled_batch" / safe_name(f"rest_check_{DATE}")
    wanted = {f"file://{path}" for path in folder.glob("*.png")}
    base = f"{api}/api/v2/dags/kling_gallery/dagRuns"

    def named() -> Any:
        runs = call(f"{base}?run_type=asset_triggered&state=success", token=token)["dag_runs"]
        for run in runs:
            url = f"{base}/{run['dag_run_id']}/taskInstances/new_images/logs/1?full_content=true"
            content = call(url, token=token).get("content") or []
            lines = [str(item.get("event", "")) if isinstance(item, dict) else str(item) for item in content]
            named = [line for line in lines if "new image" in line]
            if wanted and all(any(path in line for line in named) for path in wanted):
                return run, named
        return None

    try:
        run, lines = wait_for("an asset-triggered kling_gallery run naming the batch's images", named, 180)
    except TimeoutError as exc:
        print(f"kling_gallery: {exc}")
        return False
    print(f"kling_gallery {run['dag_run_id']} ({run['run_type']}, {run['state']}) logged:")
    for line in lines:
        print(f"  {line.strip()[:200]}")
    return True


def main() -> int:
    from airflow_provider_kling.testing import KlingSimulator

    shutil.rmtree(WORK, ignore_errors=True)
    home, images = WORK / "airflow-home", WORK / "images"
    home.mkdir(parents=True)
    port = free_port()
    simulator = KlingSimulator(api_key="standalone-key", latency=1.0).start()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags_examples"),
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # Workers reach the Execution API through this URL, which does not follow the port above.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW_CONN_KLING_DEFAULT=simulator.airflow_conn_json(),
        KLING_OUTPUT_DIR=str(images),
        KLING_POLL_INTERVAL="1",
        PYTHONWARNINGS="ignore",
    )
    api = f"http://127.0.0.1:{port}"
    standalone = None
    started = time.monotonic()
    try:
        for args in (
            ["db", "migrate"],
            ["pools", "set", "kling_slots", "4", "Kling image slots", "--include-deferred"],
        ):
            subprocess.run([str(BIN / "airflow"), *args], env=env, check=True, capture_output=True)  # noqa: S603
        log = (WORK / "standalone.log").open("w")
        standalone = subprocess.Popen(  # noqa: S603
            [str(BIN / "airflow"), "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # It stops cleanly only on SIGINT, which a shell's background job inherits as ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        wait_for("the API server", lambda: call(f"{api}/api/v2/monitor/health"), 120)
        passwords = home / "simple_auth_manager_passwords.json.generated"
        password = wait_for("the admin password", lambda: json.loads(passwords.read_text())["admin"], 60)
        token = call(f"{api}/auth/token", "POST", {"username": "admin", "password": password})["access_token"]
        dags = wait_for(
            "the example DAGs",
            lambda: {d["dag_id"] for d in call(f"{api}/api/v2/dags", token=token)["dags"]} or None,
            120,
        )
        print(f"DAGs listed by the REST API: {sorted(dags)}")
        errors = call(f"{api}/api/v2/importErrors", token=token)
        print(f"import errors: {errors['total_entries']}")
        ok = not errors["total_entries"]
        # Scheduled on the batch's asset: unpaused, never triggered here.
        call(f"{api}/api/v2/dags/kling_gallery", "PATCH", {"is_paused": False}, token=token)
        for dag_id in DAG_IDS:
            ok = run_and_check(api, token, dag_id, images, simulator) and ok
        ok = gallery_named_the_batch_images(api, token, images) and ok
        print(f"done in {time.monotonic() - started:.0f}s")
        return 0 if ok else 1
    finally:
        if standalone is not None:
            standalone.send_signal(signal.SIGINT)
            try:
                standalone.wait(60)
            except subprocess.TimeoutExpired:
                standalone.kill()
                standalone.wait()
        simulator.stop()


if __name__ == "__main__":
    sys.exit(main())
