"""The spend gate in a running Airflow: ``kling_catalogue_with_approval`` under ``airflow standalone``
against the simulator, its question answered through Airflow's REST API, once Approve (the rest of
the catalogue is generated) and once Reject (the batch is skipped, nothing more is created)."""

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kling.testing import KlingSimulator

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAG_ID = "kling_catalogue_with_approval"
#: 12 catalogue items: 4 in the preview, 8 behind the gate (kling-v3 at 2k, one image each).
PREVIEW, REST = 4, 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Airflow:
    url: str
    token: str
    simulator: KlingSimulator
    log: Path

    def call(self, path: str, method: str = "GET", body: Any = None) -> Any:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 - loopback only
            return json.loads(answer.read() or b"null")

    def creates(self) -> int:
        return int(self.simulator.counters(self.simulator.api_key)["creates"])


def wait_for(what: str, check: Any, timeout: float, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            pass
        time.sleep(1)
    tail = log.read_text()[-3000:] if log is not None and log.is_file() else ""
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s\n{tail}")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    work = tmp_path_factory.mktemp("approval")
    home, dags = work / "airflow-home", work / "dags"
    home.mkdir()
    dags.mkdir()
    shutil.copy(REPO / "dags_examples" / f"{DAG_ID}.py", dags)
    port = free_port()
    simulator = KlingSimulator(api_key="approval-key", latency=0.2).start()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "KLING_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # The worker's and the triggerer's log servers default to fixed ports (8793, 8794): free ones,
        # so that two standalones (xdist workers, other checkouts) can run at once.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW_CONN_KLING_DEFAULT=simulator.airflow_conn_json(),
        KLING_OUTPUT_DIR=str(work / "images"),
        KLING_POLL_INTERVAL="0.5",
        KLING_APPROVAL_THRESHOLD="20",
        PYTHONWARNINGS="ignore",
    )
    log = work / "standalone.log"
    standalone = None
    try:
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        standalone = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            # It stops cleanly only on SIGINT, which a background job inherits as ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        url = f"http://127.0.0.1:{port}"

        def health() -> Any:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as answer:  # noqa: S310
                return json.loads(answer.read())

        wait_for("the API server", health, 180, log)
        passwords = home / "simple_auth_manager_passwords.json.generated"
        password = wait_for("the admin password", lambda: json.loads(passwords.read_text())["admin"], 60, log)
        token = Airflow(url, "", simulator, log).call(
            "/auth/token", "POST", {"username": "admin", "password": password}
        )["access_token"]
        api = Airflow(url, token, simulator, log)
        wait_for(f"{DAG_ID} to be parsed", lambda: api.call(f"/api/v2/dags/{DAG_ID}"), 180, log)
        api.call(f"/api/v2/dags/{DAG_ID}", "PATCH", {"is_paused": False})
        yield api
    finally:
        if standalone is not None:
            standalone.send_signal(signal.SIGINT)
            try:
                standalone.wait(60)
            except subprocess.TimeoutExpired:
                standalone.kill()
                standalone.wait()
        simulator.stop()


def run_until_asked(api: Airflow, run_id: str, date: str) -> dict[str, Any]:
    """Trigger a run and wait until its spend gate asks; return the question (its HITL detail)."""
    body = {"dag_run_id": run_id, "logical_date": f"{date}T00:00:00Z"}
    api.call(f"/api/v2/dags/{DAG_ID}/dagRuns", "POST", body)
    gate = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_spend"

    def asked() -> Any:
        state = api.call(gate)["state"]
        if state in ("failed", "upstream_failed", "success", "skipped"):
            raise AssertionError(f"approve_spend is {state}:\n{gate_log(api, run_id)[-4000:]}")
        return api.call(f"{gate}/-1/hitlDetails") if state in ("awaiting_input", "deferred") else None

    question = wait_for(f"the spend question of {run_id}", asked, 240, api.log)
    # A person takes seconds; this test answers only once the scheduler has seen the parked run's
    # worker exit. Answered before that (LocalExecutor reports it up to ~10 s late here), the
    # resumed run shares the parked one's key and try number, the late "success" of the parked one
    # removes it from the executor, and the scheduler fails the task ("finished with state success,
    # but the task instance's state attribute is queued"): Airflow 3.3.2, deferral has it too.
    exited = (
        "Received executor event with state success for task instance TaskInstanceKey("
        f"dag_id='{DAG_ID}', task_id='approve_spend', run_id='{run_id}'"
    )
    wait_for(
        f"the scheduler to see {run_id}'s parked worker exit", lambda: exited in api.log.read_text(), 120
    )
    return question


def answer_and_finish(api: Airflow, run_id: str, option: str) -> dict[str, str]:
    """Answer the question over REST; wait for the run to end; the state of each task."""
    base = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"
    response = api.call(
        f"{base}/taskInstances/approve_spend/-1/hitlDetails", "PATCH", {"chosen_options": [option]}
    )
    assert response["chosen_options"] == [option]
    wait_for(f"{run_id} to end", lambda: api.call(base)["state"] in ("success", "failed"), 240, api.log)
    return {ti["task_id"]: ti["state"] for ti in api.call(f"{base}/taskInstances")["task_instances"]}


def gate_log(api: Airflow, run_id: str) -> str:
    base = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_spend"
    try_number = api.call(base)["try_number"]
    content = api.call(f"{base}/logs/{try_number}?full_content=true").get("content") or []
    return "\n".join(str(item.get("event", "")) if isinstance(item, dict) else str(item) for item in content)


def check_question(detail: dict[str, Any]) -> None:
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Reject"]
    body = detail["body"]
    # The preview's 4 finished tasks taught the account's price: 8 more images at 4 units.
    assert "About 32 units" in detail["subject"]
    assert "about 32 units for 8 requests (32 at prices learnt from this account's finished tasks)" in body
    assert "Units left in the account's online resource packs:" in body
    assert "preview_contact_sheet.html)" in body
    assert body.count("| generations kling-v3 2k, 1 image:") == REST


def test_approve_over_rest_generates_the_rest_of_the_catalogue(airflow: Airflow) -> None:
    before = airflow.creates()
    detail = run_until_asked(airflow, "approval_yes", "2025-06-01")
    check_question(detail)
    assert airflow.creates() - before == PREVIEW  # nothing more while the question waits

    states = answer_and_finish(airflow, "approval_yes", "Approve")

    assert states["approve_spend"] == "success" and states["generate_catalogue"] == "success", states
    assert airflow.creates() - before == PREVIEW + REST
    assert "Kling spend approved by admin" in gate_log(airflow, "approval_yes")


def test_reject_over_rest_skips_the_batch_and_creates_nothing_more(airflow: Airflow) -> None:
    before = airflow.creates()
    check_question(run_until_asked(airflow, "approval_no", "2025-06-02"))

    states = answer_and_finish(airflow, "approval_no", "Reject")

    assert states["approve_spend"] == "success" and states["generate_catalogue"] == "skipped", states
    assert airflow.creates() - before == PREVIEW
    assert "Kling spend NOT approved: rejected by admin" in gate_log(airflow, "approval_no")
