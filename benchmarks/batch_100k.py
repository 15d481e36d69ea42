"""A batch of 100,000 items (issue 35, items 1 and 2), against the simulator in a process of its own.

``run``: N one-line prompts in a JSONL file, one deferrable :class:`KlingBatchOperator` at S slots
on tasks of L seconds (the physical limit is N*L/S): ``execute`` up to ``TaskDeferred``, the
trigger's ``run()`` in this process (as a triggerer would), then ``execute_complete``. Printed:
makespan / limit (the trigger's run: creates, polls and resume; and the whole task, with storing
the images, manifest and contact sheet), CPU of this process per item (the simulator's is its
own), peak RSS growth per item, the trigger's serialized arguments, XCom and task log bytes,
creates per item.

``kill``: the same N on the worker (not deferred); SIGKILL of the worker process once half the
items are created, then the task again: the requests its resume took to find what exists (it
logs them), and creates per item over both tries.

``--old PATH``: the same ``run`` with the package at PATH (e.g. ``git archive main`` unpacked),
whose batch takes a list (it cannot stream a file), side by side with this one.

    python benchmarks/batch_100k.py [--items 100000] [--slots 50] [--latency 0.5] [--modes run,kill]
        [--poll-interval 0.25] [--kill-slots 500] [--old build/old]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from batch_makespan import API_KEY, start_simulator  # noqa: E402  (the makespan benchmark's simulator)


def rss_kib() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One batch in this process (``run``: deferred; ``worker``: on the worker, for ``kill``)."""
    from airflow.sdk import DAG, ObjectStoragePath
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_kling.operators.batch import KlingBatchOperator
    from tests.unit.task_context import RecordingTaskInstance, make_context

    scratch = Path(args.scratch)
    prompts = scratch / "items.jsonl"
    if not prompts.exists():
        with prompts.open("w") as handle:
            handle.writelines(
                json.dumps({"prompt": f"catalogue prompt {i}"}) + "\n" for i in range(args.items)
            )
    requests: Any = ObjectStoragePath(f"file://{prompts}")
    if args.as_list:  # the old batch takes a list only
        requests = [json.loads(line)["prompt"] for line in prompts.open()]
    with DAG("bench", schedule=None):
        operator = KlingBatchOperator(
            task_id="batch",
            requests=requests,
            slots=args.slots,
            poll_interval=args.poll_interval,
            output_path=f"file://{scratch / 'out'}",
            deferrable=args.mode == "run",
            progress_interval=30,
        )
    ti = RecordingTaskInstance(dag_id="bench", task_id="batch")
    ctx = make_context(ti)
    base_rss, cpu0, start = rss_kib(), time.process_time(), time.monotonic()
    figures: dict[str, Any] = {}
    if args.mode == "worker":
        summary = operator.execute(ctx)
    else:
        try:
            operator.execute(ctx)
            raise SystemExit("the operator did not defer")
        except TaskDeferred as deferred:
            trigger = deferred.trigger
        figures["trigger_args"] = len(json.dumps(trigger.serialize()))

        async def first_event() -> dict[str, Any]:
            async for event in trigger.run():
                return event.payload
            raise SystemExit("the trigger yielded nothing")

        ran_at, cpu_at = time.monotonic(), time.process_time()
        event = asyncio.run(first_event())
        figures["generation"] = time.monotonic() - ran_at
        figures["cpu_generation"] = time.process_time() - cpu_at
        summary = operator.execute_complete(ctx, event)
    figures["total"] = time.monotonic() - start
    figures["cpu"] = time.process_time() - cpu0
    figures["rss_growth_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss
    figures["xcom"] = len(json.dumps(ti.xcom, default=str))
    figures["counts"] = summary["counts"]
    return figures


def run_child(args: argparse.Namespace, mode: str, scratch: Path, code: Path, as_list: bool = False) -> Any:
    command = [sys.executable, __file__, "--child", mode, "--scratch", str(scratch)]
    command += [
        "--items",
        str(args.items),
        "--slots",
        str(args.slots),
        "--poll-interval",
        str(args.poll_interval),
    ]
    command += ["--as-list"] if as_list else []
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
    log = (scratch / f"{mode}.log").open("w")
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)


def figures_of(process: Any, scratch: Path, mode: str) -> dict[str, Any]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{mode} failed: {(scratch / f'{mode}.log').read_text()[-3000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["log_bytes"] = (scratch / f"{mode}.log").stat().st_size
    return figures


def counters(root: str) -> dict[str, Any]:
    return httpx.get(f"{root}/_sim/counters", params={"api_key": API_KEY}, timeout=30).json()


def print_run(label: str, figures: dict[str, Any], args: argparse.Namespace, creates: int) -> None:
    limit, n = args.items * args.latency / args.slots, args.items
    print(
        f"{label:>4}: makespan/limit {figures['generation'] / limit:.3f}"
        f" (whole task {figures['total'] / limit:.3f})"
        f" | CPU/item {figures['cpu_generation'] / n * 1000:.2f} ms in the trigger"
        f" (whole task {figures['cpu'] / n * 1000:.2f})"
        f" | peak RSS growth/item {figures['rss_growth_kib'] / n * 1024:.0f} B"
        f" | trigger args {figures['trigger_args'] / 1024:.1f} KiB | XCom {figures['xcom'] / 1024:.1f} KiB"
        f" | task log {figures['log_bytes'] / 1024:.0f} KiB | creates/item {creates / n:.2f}"
        f" | {figures['counts']}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--modes", default="run,kill")
    parser.add_argument(
        "--kill-slots", type=int, default=500, help="slots of the kill run (it counts requests)"
    )
    parser.add_argument("--old", type=Path, help="the package before this change, to run side by side")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--as-list", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        figures_out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)  # Airflow's (structlog) lines go to stderr: the task log, counted
        print(json.dumps(child(args)), file=figures_out, flush=True)
        return 0
    modes = args.modes.split(",")
    print(f"N={args.items}, S={args.slots}, L={args.latency}s, poll {args.poll_interval}s", flush=True)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        ready = scratch / "ready"
        process, base_url = start_simulator(ready, args.slots, args.latency, "--pack-units", "1e12")
        root = base_url.removesuffix("/kling")
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = json.dumps(
            {"conn_type": "kling", "host": base_url, "password": API_KEY}
        )
        try:
            runs = [("new", ROOT, False)] + ([("old", args.old.resolve(), True)] if args.old else [])
            for label, code, as_list in runs if "run" in modes else []:
                httpx.post(f"{root}/_sim/reset", timeout=60)
                work = scratch / label
                work.mkdir()
                figures = figures_of(run_child(args, "run", work, code, as_list), work, "run")
                print_run(label, figures, args, counters(root)["creates"])
            if "kill" in modes:
                kill(args, scratch / "kill", root)
        finally:
            process.terminate()
            process.wait(30)
    return 0


def kill(args: argparse.Namespace, work: Path, root: str) -> None:
    """SIGKILL the worker at 50% created, run the task again: the resume's requests, creates per item."""
    work.mkdir()
    httpx.post(f"{root}/_sim/reset", timeout=60)
    httpx.post(f"{root}/_sim/settings", json={"slots": args.kill_slots}, timeout=10)
    args.slots = args.kill_slots
    first = run_child(args, "worker", work, ROOT)
    while counters(root)["creates"] < args.items // 2:
        if first.poll() is not None:
            raise SystemExit(
                f"the first try ended before half was created: {(work / 'worker.log').read_text()[-2000:]}"
            )
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    created, before = counters(root)["creates"], counters(root)
    second = run_child(args, "worker", work, ROOT)
    log, found, done = work / "worker.log", None, f"Batch: {args.items} of {args.items} done"
    while found is None or done not in log.read_text():  # every item ended: the storing is not measured
        if second.poll() is not None:
            raise SystemExit(f"the second try ended early: {log.read_text()[-2000:]}")
        lines = (line for line in log.read_text().splitlines() if "Looked for an earlier try's tasks" in line)
        found = found or next(lines, None)
        time.sleep(1)
    second.terminate()  # not its storing: the figures are the resume's
    second.wait()
    after = counters(root)
    print(
        f"kill: SIGKILL at {created} of {args.items} created | resume: "
        f"{found.split('tasks: ', 1)[1].split(' [')[0]} (bound N/500+10 = {args.items // 500 + 10})"
        f" | creates/item over both tries {after['creates'] / args.items:.2f}"
        f" | /tasks and list requests before"
        f" the second try {before['tasks']}, {before['lists']}; after {after['tasks']}, {after['lists']}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
