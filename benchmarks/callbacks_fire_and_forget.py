"""Polls and CPU: a polling batch against fire-and-forget creation with signed callbacks.

N requests, S slots, L seconds per task (the simulator in a process of its own, signing its
callbacks): the physical limit is ceil(N/S)*L. For each mode this prints the makespan over the
limit, the requests sent to Kling by kind (creates, task queries, list rounds), the callbacks
delivered, and the CPU seconds of this process while it ran.

- ``polling``: the batch operator deferred, its trigger driven in this process's event loop as
  the triggerer would: creates at the slots, list rounds and queries until every task ends. Its
  CPU is what the triggerer spends.
- ``callbacks``: ``KlingBatchOperator(wait_for_completion=False, callback_url="receiver")`` on
  the worker; the receiver (the real FastAPI app, mounted under ``/kling`` on a loopback port in
  this process) records the callbacks in memory in place of Airflow's database, and the operator
  reads them as its ``inlet_events`` every ``--read-interval`` s (one read for all items) to
  know which slots are free. It never asks Kling about a task. Makespan: until the last terminal
  callback is recorded. CPU: the operator's and the receiver's (the api-server's share); no
  triggerer is involved.

    python benchmarks/callbacks_fire_and_forget.py [--requests 1000] [--slots 50] [--latency 5]
        [--poll-interval 1] [--read-interval 0.2] [--modes polling,callbacks]

``--deployment`` runs the shipped pipeline in a real deployment instead (``callbacks_deployment.py``:
PostgreSQL, LocalExecutor, ``airflow api-server --workers 2``, scheduler, DAG processor,
triggerer): a fire-and-forget ``KlingBatchOperator`` DAG of ``--requests`` prompts and the shipped
``kling_catalogue_on_callback`` consumer, once per ``--kills`` entry: the api-server killed
(SIGKILL) that many seconds once the first results are stored, then started again (0: never).
The simulator retries each callback ``--attempts`` times (doubling from 0.5 s, at most 30 s
apart). Per run: the tasks created, the images stored once, twice or more, the tasks lost (no
image once ``--settle`` seconds pass without a new image and no consumer run is left), creates per
item, the consumer's runs. Tasks whose worker lost the api-server are found after 60 s
(``task_instance_heartbeat_timeout``; Airflow's default is 300 s).

    python benchmarks/callbacks_fire_and_forget.py --deployment [--requests 40] [--slots 8]
        [--latency 5] [--kills 0,20,40] [--attempts 12]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

API_KEY = "bench-key"
SECRET = "whsec_" + base64.b64encode(b"benchmark-callback-secret-32-byt").decode()
ROOT = Path(__file__).resolve().parent.parent


def start_simulator(ready_file: Path, slots: int, latency: float) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "airflow_provider_kling.testing", "--port", "0"]
    command += ["--latency", str(latency), "--slots", str(slots), "--api-key", API_KEY]
    command += ["--webhook-secret", SECRET, "--ready-file", str(ready_file)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process, ready_file.read_text().strip()


def run_polling(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """The batch operator's deferred path: its trigger's ``run()`` until the batch's event."""
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_kling.operators.batch import KlingBatchOperator

    sys.path.insert(0, str(ROOT))
    from tests.unit.task_context import RecordingTaskInstance, make_context

    with DAG("bench", schedule=None):
        operator = KlingBatchOperator(
            task_id="batch",
            requests=[f"benchmark prompt {i}" for i in range(args.requests)],
            slots=args.slots,
            poll_interval=args.poll_interval,
            output_path=str(scratch / "polling"),
            deferrable=True,
            progress_interval=60.0,
        )
    context = make_context(RecordingTaskInstance(dag_id="bench", task_id="batch"))
    start, cpu = time.monotonic(), time.process_time()
    try:
        operator.execute(context)
        raise SystemExit("the operator did not defer")
    except TaskDeferred as deferred:
        trigger = deferred.trigger

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise SystemExit("the trigger yielded nothing")

    payload = asyncio.run(first_event())
    return {"makespan": time.monotonic() - start, "cpu": time.process_time() - cpu, "payload": payload}


class MemoryEvents:
    """The receiver's recorder: terminal callbacks kept in memory, read in rounds by the creator."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.times: list[Any] = []

    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Any:
        from datetime import UTC, datetime

        from airflow_provider_kling.callbacks.recorder import Outcome, callback_key

        with self.lock:
            if any(callback_key(seen) == callback_key(extra) for seen in self.events):
                return Outcome.DUPLICATE
            self.events.append(dict(extra))
            self.times.append(datetime.now(UTC))
            return Outcome.RECORDED

    def since(self, position: int) -> tuple[list[dict[str, Any]], int]:
        with self.lock:
            return self.events[position:], len(self.events)


class RecordedEvents:
    """``inlet_events`` as a task sees it: the callback asset's events, here the receiver's."""

    def __init__(self, events: MemoryEvents) -> None:
        self.events = events

    def __getitem__(self, asset: Any) -> RecordedEvents:
        return self

    def after(self, after: str) -> list[Any]:
        """Events recorded after ``after`` (ISO), as Airflow's accessor filters them."""
        import bisect
        from datetime import datetime
        from types import SimpleNamespace

        with self.events.lock:
            start = bisect.bisect_right(self.events.times, datetime.fromisoformat(after))
            pairs = list(zip(self.events.times[start:], self.events.events[start:], strict=True))
        return [SimpleNamespace(extra=extra, timestamp=stamp) for stamp, extra in pairs]


def run_callbacks(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """``KlingBatchOperator(wait_for_completion=False, callback_url="receiver")`` on the worker,
    then the wait for the last terminal callback; never a poll."""
    from airflow.sdk import DAG
    from fastapi import FastAPI

    from airflow_provider_kling.callbacks import URL_PREFIX
    from airflow_provider_kling.callbacks.receiver import CallbackConnection, create_receiver_app
    from airflow_provider_kling.callbacks.signature import parse_secrets
    from airflow_provider_kling.operators.batch import KlingBatchOperator

    sys.path.insert(0, str(ROOT))
    from tests.unit.callback_helpers import serve
    from tests.unit.task_context import RecordingTaskInstance, make_context

    keys = tuple(secret.key for secret in parse_secrets(SECRET))
    events = MemoryEvents()
    app = create_receiver_app(
        connections=lambda conn_id: CallbackConnection(conn_id=conn_id, keys=keys, extras={}),
        recorder=events,
    )
    api_server = FastAPI()
    api_server.mount(URL_PREFIX, app)  # where Airflow's api-server mounts the plugin's app
    with serve(api_server) as base_url:
        connection = json.loads(os.environ["AIRFLOW_CONN_KLING_DEFAULT"])
        connection["extra"] = {"callback_base_url": base_url}
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = json.dumps(connection)
        with DAG("bench", schedule=None):
            operator = KlingBatchOperator(
                task_id="fire_and_forget",
                requests=[f"benchmark prompt {i}" for i in range(args.requests)],
                slots=args.slots,
                output_path=None,
                callback_url="receiver",
                wait_for_completion=False,
                poll_interval=args.read_interval,
                progress_interval=60.0,
            )
        context = make_context(RecordingTaskInstance(dag_id="bench", task_id="fire_and_forget"))
        context["inlet_events"] = RecordedEvents(events)
        start, cpu = time.monotonic(), time.process_time()
        summary = operator.execute(context)
        created_at = time.monotonic() - start
        while len(events.since(0)[0]) < args.requests and time.monotonic() - start < 10 * args.latency * (
            args.requests / args.slots
        ):
            time.sleep(0.05)
        makespan, used = time.monotonic() - start, time.process_time() - cpu
    counts: dict[str, int] = {}
    for extra in events.since(0)[0]:
        counts[extra["status"]] = counts.get(extra["status"], 0) + 1
    return {
        "makespan": makespan,
        "cpu": used,
        "payload": {
            "counts": counts,
            "operator_ended_after": round(created_at, 1),
            "reads": summary["event_reads"],
        },
    }


FIRE_AND_FORGET = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_kling.operators.batch import KlingBatchOperator

with DAG("bench_fire_and_forget", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
    KlingBatchOperator(
        task_id="create", requests=[f"benchmark prompt {{n}}" for n in range({requests})], slots={slots},
        output_path=None, callback_url="receiver", wait_for_completion=False, poll_interval=1.0,
        retries=2, retry_delay=pendulum.duration(seconds=10),
    )
"""


def stored_images(images: Path) -> dict[str, int]:
    """Images stored per Kling task id, in every run of the consumer."""
    counts: dict[str, int] = {}
    for path in images.glob("kling_catalogue_on_callback/*/store_results_*_*.png"):
        task_id = path.stem.removeprefix("store_results_").rsplit("_", 1)[0]
        counts[task_id] = counts.get(task_id, 0) + 1
    return counts


def run_deployment(args: argparse.Namespace, kill_for: int) -> dict[str, Any]:
    """The shipped pipeline in a real deployment, the api-server killed for ``kill_for`` seconds."""
    import shutil
    import signal

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from callbacks_deployment import BUILD, Deployment

    state = BUILD / f"deployment-consumer-{kill_for}"
    shutil.rmtree(state, ignore_errors=True)
    dags, images = state / "dags", state / "images"
    dags.mkdir(parents=True)
    shutil.copy(ROOT / "dags_examples" / "kling_catalogue_on_callback.py", dags)
    (dags / "bench_fire_and_forget.py").write_text(
        FIRE_AND_FORGET.format(requests=args.requests, slots=args.slots)
    )
    process, base_url = start_simulator(state / "ready", args.slots, args.latency)
    root = base_url.removesuffix("/kling")
    httpx.post(f"{root}/_sim/callbacks", json={"max_attempts": args.attempts}, timeout=10).raise_for_status()
    api_port = 18320
    extra = {"callback_base_url": f"http://127.0.0.1:{api_port}", "webhook_secret": SECRET}
    connection = {"conn_type": "kling", "host": base_url, "password": API_KEY, "extra": extra}
    env = {"AIRFLOW_CONN_KLING_DEFAULT": json.dumps(connection), "KLING_OUTPUT_DIR": str(images),
           # a task whose worker lost the api-server is found after 60 s, not Airflow's default 300 s
           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60"}  # fmt: skip
    components = ("dag-processor", "scheduler", "triggerer")
    try:
        with Deployment(state, api_port=api_port, components=components, dags=dags, env=env) as deployment:
            deadline = time.monotonic() + 300
            while (
                "bench_fire_and_forget"
                not in deployment.airflow("dags", "list", "-o", "plain").stdout.decode()
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("the DAGs were not parsed")
                time.sleep(3)
            for dag_id in ("kling_catalogue_on_callback", "bench_fire_and_forget"):
                deployment.airflow("dags", "unpause", dag_id)
            start = time.monotonic()
            deployment.airflow("dags", "trigger", "bench_fire_and_forget")
            killed, runs = False, b"[]"
            last, changed = {}, time.monotonic()
            while time.monotonic() - start < args.timeout:
                stored = stored_images(images)
                if kill_for and not killed and stored:
                    deployment.stop_process("api-server", signal.SIGKILL)
                    time.sleep(kill_for)
                    deployment.start_process("api-server")
                    killed = True
                if stored != last:
                    last, changed = stored, time.monotonic()
                runs = deployment.airflow(
                    "dags", "list-runs", "kling_catalogue_on_callback", "-o", "json"
                ).stdout
                busy = any(run["state"] in ("queued", "running") for run in json.loads(runs or b"[]"))
                if time.monotonic() - changed > args.settle and not busy:
                    break  # nothing new stored for a while, and no consumer run left to finish
                time.sleep(5)
    finally:
        counters = httpx.get(f"{root}/_sim/counters", params={"api_key": API_KEY}, timeout=10).json()
        tasks = httpx.get(f"{root}/_sim/tasks", timeout=10).json()
        process.terminate()
        process.wait(10)
    created = [task["task_id"] for task in tasks]
    stored = stored_images(images)
    states: dict[str, int] = {}
    for run in json.loads(runs or b"[]"):
        states[run["state"]] = states.get(run["state"], 0) + 1
    return {
        "api-server killed for": kill_for,
        "tasks created": len(created),
        "stored once": sum(1 for task in created if stored.get(task) == 1),
        "stored twice or more": sum(1 for task in created if stored.get(task, 0) > 1),
        "lost": sum(1 for task in created if task not in stored),
        "creates per item": round(counters["creates"] / args.requests, 2),
        "callbacks delivered": counters["callbacks"],
        "consumer runs": states,
        "tracebacks in the api-server log": (state / "logs" / "api-server.log")
        .read_text(errors="replace")
        .count("Traceback"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--read-interval", type=float, default=0.2)
    parser.add_argument("--modes", default="polling,callbacks")
    parser.add_argument("--deployment", action="store_true", help="the shipped pipeline, real deployment")
    parser.add_argument("--kills", default="0,20,40", help="seconds the api-server is down, one run each")
    parser.add_argument("--attempts", type=int, default=12, help="the simulator's attempts per callback")
    parser.add_argument(
        "--settle", type=float, default=60.0, help="done: no new image and no run for this long"
    )
    parser.add_argument(
        "--timeout", type=float, default=1200.0, help="seconds a deployment run may take at most"
    )
    args = parser.parse_args()
    if args.deployment:
        for kill_for in (int(kill) for kill in args.kills.split(",")):
            print(json.dumps(run_deployment(args, kill_for)), flush=True)
        return 0
    figures_out = os.fdopen(os.dup(1), "w", buffering=1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    logging.disable(logging.WARNING)
    limit = math.ceil(args.requests / args.slots) * args.latency
    print(
        f"N={args.requests} requests, S={args.slots} slots, L={args.latency}s "
        f"(poll every {args.poll_interval}s; events read every {args.read_interval}s): "
        f"limit ceil(N/S)*L = {limit:.1f}s",
        file=figures_out,
    )
    runners = {"polling": run_polling, "callbacks": run_callbacks}
    with tempfile.TemporaryDirectory() as scratch:
        process, base_url = start_simulator(Path(scratch) / "ready", args.slots, args.latency)
        root = base_url.removesuffix("/kling")
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = json.dumps(
            {"conn_type": "kling", "host": base_url, "password": API_KEY}
        )
        try:
            for mode in args.modes.split(","):
                httpx.post(f"{root}/_sim/reset", timeout=10)
                figures = runners[mode](args, Path(scratch))
                counters = httpx.get(f"{root}/_sim/counters", params={"api_key": API_KEY}, timeout=10).json()
                polls = counters["queries"] + counters["lists"] + counters.get("tasks", 0)
                print(
                    f"{mode:>10}: makespan/limit {figures['makespan'] / limit:.3f} "
                    f"({figures['makespan']:.1f}s)"
                    f" | creates {counters['creates']} | polls {polls} (queries {counters['queries']}, "
                    f"lists {counters['lists']}, /tasks {counters.get('tasks', 0)}) "
                    f"| callbacks delivered {counters['callbacks']} "
                    f"| CPU {figures['cpu']:.2f}s | {figures['payload'].get('counts', '')}"
                    + (
                        f" | operator ended after {figures['payload']['operator_ended_after']}s, "
                        f"{figures['payload']['reads']} reads of the callback asset"
                        if "reads" in figures["payload"]
                        else ""
                    ),
                    file=figures_out,
                )
        finally:
            process.terminate()
            process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
