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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--read-interval", type=float, default=0.2)
    parser.add_argument("--modes", default="polling,callbacks")
    args = parser.parse_args()
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
