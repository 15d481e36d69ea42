"""Makespan of a batch at the account's slots, against the simulator in a process of its own.

N prompts, S slots, L seconds per task: the physical limit is ceil(N*n/S)*L. For each mode this
prints makespan / limit (the generation phase: first create to last task seen ending; and the
whole task, with storing the images, manifest and contact sheet), the 429/1303 answers the batch
met, creates per item (the simulator's count) and worker-slot seconds.

- ``worker``: the batch operator's ``execute`` (its loop runs on the worker).
- ``deferrable``: ``execute`` up to ``TaskDeferred``, then the trigger's ``run()`` driven in an
  event loop in this process (as the triggerer would, without Airflow's triggerer around it),
  then ``execute_complete``; worker-slot seconds are the two worker parts only.
- ``--foreign K``: another pipeline on the same key keeps K slots busy all along (its own
  tasks, created as soon as one of them ends), so the batch meets 1303s it could not foresee;
  the limit is then ceil(N*n/(S-K))*L and its creates are not counted as the batch's.
- ``mapped``: N single operators on S threads, each holding its thread from create to stored
  image, like mapped tasks in a pool of S on the worker. No scheduler, database or executor: an
  optimistic bound for the mapped path (under real Airflow, deferrable mapped tasks in a pool counting
  deferred tasks measured 2.34 x with 5 s tasks and 1.16 x with 20 s tasks, 40 prompts on 4 slots).

    python benchmarks/batch_makespan.py [--prompts 200] [--slots 10] [--latency 5] [--n 1]
        [--poll-interval 0.25] [--modes worker,deferrable,mapped]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

API_KEY = "bench-key"
ROOT = Path(__file__).resolve().parent.parent


def start_simulator(
    ready_file: Path, slots: int, latency: float, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "airflow_provider_kling.testing", "--port", "0", *extra]
    command += ["--latency", str(latency), "--slots", str(slots), "--api-key", API_KEY]
    command += ["--ready-file", str(ready_file)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process, ready_file.read_text().strip()


def context(task_id: str, map_index: int = -1) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.unit.task_context import RecordingTaskInstance, make_context

    return make_context(RecordingTaskInstance(dag_id="bench", task_id=task_id, map_index=map_index))


def batch_operator(args: argparse.Namespace, output: Path, deferrable: bool) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_kling.operators.batch import KlingBatchOperator

    with DAG("bench", schedule=None):
        return KlingBatchOperator(
            task_id="batch",
            requests=[f"benchmark prompt {i}" for i in range(args.prompts)],
            n=args.n,
            slots=args.slots,
            poll_interval=args.poll_interval,
            output_path=str(output),
            deferrable=deferrable,
            progress_interval=max(5.0, args.latency * 2),
        )


class Timed:
    """Times the operator's storing phase (``_finish_batch``), to split generation from storage."""

    def __init__(self, operator: Any) -> None:
        self.store_seconds = 0.0
        finish = operator._finish_batch

        def timed(*a: Any, **k: Any) -> Any:
            start = time.monotonic()
            try:
                return finish(*a, **k)
            finally:
                self.store_seconds += time.monotonic() - start

        operator._finish_batch = timed


def run_worker(args: argparse.Namespace, output: Path) -> dict[str, Any]:
    operator = batch_operator(args, output, deferrable=False)
    timer = Timed(operator)
    start = time.monotonic()
    summary = operator.execute(context("batch"))
    total = time.monotonic() - start
    return {"total": total, "generation": total - timer.store_seconds, "worker": total, "summary": summary}


def run_deferrable(args: argparse.Namespace, output: Path) -> dict[str, Any]:
    from airflow.sdk.exceptions import TaskDeferred

    operator = batch_operator(args, output, deferrable=True)
    timer = Timed(operator)
    ctx = context("batch")
    start = time.monotonic()
    try:
        operator.execute(ctx)
        raise SystemExit("the operator did not defer")
    except TaskDeferred as deferred:
        trigger = deferred.trigger
    deferred_at = time.monotonic()

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise SystemExit("the trigger yielded nothing")

    event = asyncio.run(first_event())
    resumed_at = time.monotonic()
    summary = operator.execute_complete(ctx, event)
    total = time.monotonic() - start
    worker = (deferred_at - start) + (time.monotonic() - resumed_at)
    return {"total": total, "generation": total - timer.store_seconds, "worker": worker, "summary": summary}


def run_mapped(args: argparse.Namespace, output: Path) -> dict[str, Any]:
    from airflow.sdk import DAG

    from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

    with DAG("bench", schedule=None):
        operator = KlingImageGenerationOperator(
            task_id="single", prompt="x", n=args.n, poll_interval=args.poll_interval, output_path=str(output)
        )
    errors: list[str] = []
    busy = [0.0]

    def one(i: int) -> None:
        import copy

        task = copy.copy(operator)
        task.prompt = f"benchmark prompt {i}"
        task.__dict__.pop("hook", None)
        began = time.monotonic()
        try:
            task.execute(context("single", map_index=i))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        busy[0] += time.monotonic() - began

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.slots) as pool:
        list(pool.map(one, range(args.prompts)))
    total = time.monotonic() - start
    summary = {
        "counts": {"succeeded": args.prompts - len(errors), "error": len(errors)},
        "rate_limited": None,
    }
    return {"total": total, "generation": None, "worker": busy[0], "summary": summary, "errors": errors[:3]}


class ForeignPipeline:
    """Another pipeline on the same account: keeps ``slots`` Kling slots busy until stopped."""

    def __init__(self, slots: int) -> None:
        import threading

        self.slots, self.creates = slots, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from airflow_provider_kling.errors import KlingError
        from airflow_provider_kling.hooks.kling import KlingHook

        hook = KlingHook(max_retries=0)
        running: list[str] = []
        while not self.stop.is_set():
            running = [t for t in running if hook.get_task(t).task_status.value not in ("succeed", "failed")]
            while len(running) < self.slots and not self.stop.is_set():
                try:
                    task = hook.create_task(
                        model_name="kling-v1", prompt="foreign", n=1, retry_rate_limit=False
                    )
                except KlingError:
                    break  # the batch holds the slot: try again on the next round
                self.creates += 1
                running.append(task.task_id)
            self.stop.wait(0.1)

    def __enter__(self) -> ForeignPipeline:
        if self.slots:
            self.thread.start()
            time.sleep(0.5)  # its tasks are running before the batch starts
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.slots:
            self.thread.join(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--modes", default="worker,deferrable,mapped")
    parser.add_argument("--foreign", type=int, default=0, help="slots another pipeline keeps busy")
    parser.add_argument("-v", "--verbose", action="store_true", help="keep the operators' log lines")
    args = parser.parse_args()
    # The figures go to the real stdout; Airflow's (structlog) lines to /dev/null, or to stderr with -v.
    figures_out = os.fdopen(os.dup(1), "w", buffering=1)
    if not args.verbose:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
    logging.disable(logging.WARNING)
    usable = args.slots - args.foreign
    limit = math.ceil(args.prompts * args.n / usable) * args.latency
    print(
        f"N={args.prompts} prompts, n={args.n}, S={args.slots} slots ({args.foreign} kept busy by another "
        f"pipeline), L={args.latency}s, poll every {args.poll_interval}s: limit ceil(N*n/{usable})*L = "
        f"{limit:.1f}s",
        file=figures_out,
    )
    with tempfile.TemporaryDirectory() as scratch:
        process, base_url = start_simulator(Path(scratch) / "ready", args.slots, args.latency)
        root = base_url.removesuffix("/kling")
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = json.dumps(
            {"conn_type": "kling", "host": base_url, "password": API_KEY}
        )
        runners = {"worker": run_worker, "deferrable": run_deferrable, "mapped": run_mapped}
        try:
            for mode in args.modes.split(","):
                httpx.post(f"{root}/_sim/reset", timeout=10)
                with ForeignPipeline(args.foreign) as foreign:
                    figures = runners[mode](args, Path(scratch) / mode)
                creates = httpx.get(f"{root}/_sim/counters", params={"api_key": API_KEY}, timeout=10).json()
                creates["creates"] -= foreign.creates
                summary = figures["summary"]
                generation = figures["generation"]
                print(
                    f"{mode:>10}: makespan/limit {figures['total'] / limit:.3f} "
                    + (f"(generation {generation / limit:.3f}) " if generation is not None else "")
                    + f"| {figures['total']:.1f}s | 1303 answers {summary['rate_limited']} "
                    f"| creates per item {creates['creates'] / args.prompts:.2f} "
                    f"| worker-slot seconds {figures['worker']:.1f} | {summary['counts']}",
                    file=figures_out,
                )
                for error in figures.get("errors") or []:
                    print(f"            error: {error}", file=figures_out)
        finally:
            process.terminate()
            process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
