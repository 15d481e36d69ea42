"""Polls and CPU: a polling batch against fire-and-forget creation with signed callbacks.

N requests, S slots, L seconds per task (the simulator in a process of its own, signing its
callbacks): the physical limit is ceil(N/S)*L. For each mode this prints the makespan over the
limit, the requests sent to Kling by kind (creates, task queries, list rounds), the callbacks
delivered, and the CPU seconds of this process while it ran.

- ``polling``: the batch operator deferred, its trigger driven in this process's event loop as
  the triggerer would: creates at the slots, list rounds and queries until every task ends. Its
  CPU is what the triggerer spends.
- ``callbacks``: every create carries ``callback_url`` (the receiver, the real FastAPI app, on a
  loopback port in this process, with an in-memory recorder in place of Airflow's database); a
  creator keeps the S slots full and learns that a slot is free from the recorded terminal
  callbacks, read every ``--read-interval`` s (as a worker reads the callback asset's events:
  one read for all tasks). It never asks Kling about a task. Its CPU is the creator's and the
  receiver's (the api-server's share); no triggerer is involved.

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

    from airflow_provider_kling.operators.batch import KlingBatchImageGenerationOperator

    sys.path.insert(0, str(ROOT))
    from tests.unit.task_context import RecordingTaskInstance, make_context

    with DAG("bench", schedule=None):
        operator = KlingBatchImageGenerationOperator(
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

    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Any:
        from airflow_provider_kling.callbacks.recorder import Outcome, is_same_callback

        with self.lock:
            if any(is_same_callback(seen, extra) for seen in self.events):
                return Outcome.DUPLICATE
            self.events.append(dict(extra))
            return Outcome.RECORDED

    def since(self, position: int) -> tuple[list[dict[str, Any]], int]:
        with self.lock:
            return self.events[position:], len(self.events)


def run_callbacks(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Create with ``callback_url``; free a slot on each recorded terminal callback; never poll."""
    from fastapi import FastAPI

    from airflow_provider_kling.callbacks import URL_PREFIX
    from airflow_provider_kling.callbacks.events import receiver_url
    from airflow_provider_kling.callbacks.receiver import CallbackConnection, create_receiver_app
    from airflow_provider_kling.callbacks.signature import parse_secrets
    from airflow_provider_kling.errors import KlingRateLimitError
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.idempotency import (
        default_external_task_id,
        request_fingerprint,
        with_external_task_id,
    )
    from airflow_provider_kling.models import ImageGenerationRequest

    sys.path.insert(0, str(ROOT))
    from tests.unit.callback_helpers import serve

    keys = tuple(secret.key for secret in parse_secrets(SECRET))
    events = MemoryEvents()
    app = create_receiver_app(
        connections=lambda conn_id: CallbackConnection(conn_id=conn_id, keys=keys, extras={}),
        recorder=events,
    )
    api_server = FastAPI()
    api_server.mount(URL_PREFIX, app)  # where Airflow's api-server mounts the plugin's app
    hook = KlingHook("kling_default")
    with serve(api_server) as base_url:
        url = receiver_url(base_url, "kling_default")
        requests = []
        for number in range(args.requests):
            request = ImageGenerationRequest.build(
                model_name="kling-v1", n=1, prompt=f"benchmark prompt {number}", callback_url=url
            )
            external = default_external_task_id(
                dag_id="bench",
                run_id="r",
                task_id="fire_and_forget",
                map_index=None,
                fingerprint=request_fingerprint(request),
                item_key=str(number),
            )
            requests.append(with_external_task_id(request, external))
        start, cpu = time.monotonic(), time.process_time()
        running: set[str] = set()
        ended: dict[str, str] = {}
        seen, refused, next_request = 0, 0, 0
        while next_request < len(requests) or running:
            while next_request < len(requests) and len(running) < args.slots:
                try:
                    task = hook.create_image_task(requests[next_request], retry_rate_limit=False)
                except KlingRateLimitError:
                    refused += 1  # another task still holds the slot by Kling's clock
                    break
                running.add(task.task_id)
                next_request += 1
            time.sleep(args.read_interval)
            new, seen = events.since(seen)
            for extra in new:
                running.discard(extra["kling_task_id"])
                ended[extra["kling_task_id"]] = extra["status"]
        makespan, used = time.monotonic() - start, time.process_time() - cpu
    counts: dict[str, int] = {}
    for status in ended.values():
        counts[status] = counts.get(status, 0) + 1
    return {"makespan": makespan, "cpu": used, "payload": {"counts": counts, "refused_creates": refused}}


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
                polls = counters["queries"] + counters["lists"]
                print(
                    f"{mode:>10}: makespan/limit {figures['makespan'] / limit:.3f} "
                    f"({figures['makespan']:.1f}s)"
                    f" | creates {counters['creates']} | polls {polls} (queries {counters['queries']}, "
                    f"lists {counters['lists']}) | callbacks delivered {counters['callbacks']} "
                    f"| CPU {figures['cpu']:.2f}s | {figures['payload'].get('counts', '')}"
                    + (
                        f" | creates refused 1303 {figures['payload']['refused_creates']}"
                        if "refused_creates" in figures["payload"]
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
