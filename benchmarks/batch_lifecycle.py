"""A batch's life side by side, against the simulator in a process of its own: makespan, recovery, threads.

For each request kind (image generation, and another endpoint when the batch takes it) and each
mode, makespan / physical limit, where the limit is ceil(N*n/S)*L:

- ``worker``: the batch operator's ``execute`` (its async loop run with ``asyncio.run``);
- ``deferrable``: ``execute`` up to ``TaskDeferred``, the trigger's ``run()`` on an event loop in this
  process (as the triggerer runs it), then ``execute_complete``. While the trigger runs, the
  threads of this process are sampled every 50 ms: the figure is the threads that were not there
  before the trigger started (the goal: none beyond the event loop's own).

Then a fault burst in a deferred batch (default 20x 503, 10x 500, 20x 429 with ``Retry-After: 2``,
10 malformed bodies, at a 1 s poll interval): from each answer the batch received (loopback
timestamps), the latest time any task was seen finished after Kling finished it and the API
answered again: ``seen - max(Kling's end, the burst's last fault)``, the goal being <= 2 poll
intervals; and the makespan / limit under the burst.

    python benchmarks/batch_lifecycle.py [--prompts 200] [--slots 10] [--latency 5] [--n 1]
        [--poll-interval 0.25] [--kinds generations,omni-image] [--modes worker,deferrable]
        [--burst-prompts 40] [--burst-poll-interval 1] [--skip-burst]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_makespan import API_KEY, Timed, context, start_simulator


def requests_of(kind: str, count: int) -> list[Any]:
    if kind == "generations":
        return [f"benchmark prompt {i}" for i in range(count)]
    from airflow_provider_kling.testing import make_png

    photo = base64.b64encode(make_png("a bottle", 0, 300, 300)).decode()
    if kind == "omni-image":
        return [
            {"prompt": f"<<<image_1>>> on beach {i}", "image_list": [{"image": photo}]} for i in range(count)
        ]
    raise SystemExit(f"no benchmark requests for kind {kind!r}")


def batch_operator(
    args: argparse.Namespace, kind: str, count: int, poll: float, output: Path, deferrable: bool
) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_kling.operators.batch import KlingBatchOperator

    options: dict[str, Any] = {"n": args.n} if kind == "generations" else {"request_kind": kind}
    with DAG("bench", schedule=None):
        return KlingBatchOperator(
            task_id="batch",
            requests=requests_of(kind, count),
            slots=args.slots,
            poll_interval=poll,
            output_path=str(output),
            deferrable=deferrable,
            progress_interval=max(5.0, args.latency * 2),
            **options,
        )


class ThreadSampler:
    """Threads of this process that appear while a coroutine runs, sampled on its own event loop."""

    def __init__(self) -> None:
        self.before = {thread.ident for thread in threading.enumerate()}
        self.extra: dict[int | None, str] = {}
        self.peak = 0

    async def sample(self) -> None:
        while True:
            threads = threading.enumerate()
            self.peak = max(self.peak, len(threads))
            self.extra.update({t.ident: t.name for t in threads if t.ident not in self.before})
            await asyncio.sleep(0.05)


def run_trigger(trigger: Any, sampler: ThreadSampler | None = None, during: Any = None) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        helpers = [asyncio.ensure_future(c) for c in (sampler.sample() if sampler else None, during) if c]
        try:
            async for event in trigger.run():
                return event.payload
            raise SystemExit("the trigger yielded nothing")
        finally:
            for helper in helpers:
                helper.cancel()

    return asyncio.run(main())


def run_batch(
    args: argparse.Namespace, kind: str, count: int, poll: float, output: Path, mode: str, during: Any = None
) -> dict[str, Any]:
    from airflow.sdk.exceptions import TaskDeferred

    operator = batch_operator(args, kind, count, poll, output, deferrable=mode == "deferrable")
    timer = Timed(operator)
    ctx = context("batch")
    start = time.monotonic()
    sampler = None
    if mode == "worker":
        summary = operator.execute(ctx)
    else:
        try:
            operator.execute(ctx)
            raise SystemExit("the operator did not defer")
        except TaskDeferred as deferred:
            trigger = deferred.trigger
        sampler = ThreadSampler()
        event = run_trigger(trigger, sampler, during)
        summary = operator.execute_complete(ctx, event)
    total = time.monotonic() - start
    return {"total": total, "generation": total - timer.store_seconds, "summary": summary, "threads": sampler}


class Answers:
    """Every API answer this process received, with loopback timestamps (wall clock, as Kling's)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.last_fault = 0.0
        self.faults = 0
        self.first_seen_done: dict[str, tuple[float, float]] = {}  # task id -> (seen, Kling's end)

    def record(self, url: str, status: int, content: bytes) -> None:
        if "/v1/" not in url:
            return  # the simulator's control API, image downloads
        now = time.time()
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        with self.lock:
            if status >= 400 or not isinstance(body, dict):
                self.faults += 1
                self.last_fault = max(self.last_fault, now)
                return
            data = body.get("data")
            for task in data if isinstance(data, list) else [data]:
                if isinstance(task, dict) and task.get("task_status") in ("succeed", "failed"):
                    ended = float(task.get("updated_at") or 0) / 1000
                    self.first_seen_done.setdefault(str(task.get("task_id")), (now, ended))

    def install(self) -> None:
        import requests

        answers = self
        real_async, real_sync = httpx.AsyncClient.request, requests.Session.request

        async def async_request(client: httpx.AsyncClient, method: str, url: Any, **kwargs: Any) -> Any:
            response = await real_async(client, method, url, **kwargs)
            answers.record(str(url), response.status_code, response.content)
            return response

        def sync_request(session: requests.Session, method: str, url: Any, **kwargs: Any) -> Any:
            response = real_sync(session, method, url, **kwargs)
            answers.record(str(url), response.status_code, response.content)
            return response

        httpx.AsyncClient.request = async_request  # type: ignore[method-assign]
        requests.Session.request = sync_request  # type: ignore[method-assign]

    def recovery(self) -> float:
        """The latest a task was seen finished after both Kling had finished it and the API answered again."""
        return max(
            (seen - max(ended, self.last_fault) for seen, ended in self.first_seen_done.values()), default=0.0
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--kinds", default="generations,omni-image")
    parser.add_argument("--modes", default="worker,deferrable")
    parser.add_argument("--burst-prompts", type=int, default=40)
    parser.add_argument("--burst-poll-interval", type=float, default=1.0)
    parser.add_argument("--burst", default="503:20,500:10,429:20,malformed:10", help="kind:count,...")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="keep the operators' log lines")
    args = parser.parse_args()
    figures_out = os.fdopen(os.dup(1), "w", buffering=1)
    if not args.verbose:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    logging.disable(logging.WARNING)

    def say(text: str) -> None:
        print(text, file=figures_out)

    def limit_of(count: int, n: int) -> float:
        return math.ceil(count * n / args.slots) * args.latency

    limit = limit_of(args.prompts, args.n)
    say(
        f"N={args.prompts}, n={args.n}, S={args.slots} slots, L={args.latency}s, poll every "
        f"{args.poll_interval}s: limit ceil(N*n/S)*L = {limit:.1f}s"
    )
    answers = Answers()
    answers.install()
    with tempfile.TemporaryDirectory() as scratch:
        process, base_url = start_simulator(Path(scratch) / "ready", args.slots, args.latency)
        root = base_url.removesuffix("/kling")
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = json.dumps(
            {"conn_type": "kling", "host": base_url, "password": API_KEY}
        )
        try:
            for kind in args.kinds.split(","):
                n = args.n if kind == "generations" else 1
                kind_limit = limit_of(args.prompts, n)
                for mode in filter(None, args.modes.split(",")):
                    httpx.post(f"{root}/_sim/reset", timeout=10)
                    try:
                        figures = run_batch(
                            args, kind, args.prompts, args.poll_interval, Path(scratch) / kind / mode, mode
                        )
                    except Exception as exc:  # e.g. a batch that does not take this kind yet
                        say(f"{kind:>12} {mode:>10}: not run ({type(exc).__name__}: {exc})")
                        continue
                    counts = httpx.get(
                        f"{root}/_sim/counters", params={"api_key": API_KEY}, timeout=10
                    ).json()
                    line = (
                        f"{kind:>12} {mode:>10}: makespan/limit {figures['total'] / kind_limit:.3f} "
                        f"(generation {figures['generation'] / kind_limit:.3f}) | {figures['total']:.1f}s "
                        f"| creates per item {counts['creates'] / args.prompts:.2f} "
                        f"| {figures['summary']['counts']}"
                    )
                    sampler = figures["threads"]
                    if sampler is not None:
                        names = sorted(set(sampler.extra.values()))
                        line += f" | triggerer threads beyond the loop's: {len(sampler.extra)} {names}"
                    say(line)
            if not args.skip_burst:
                burst = dict(item.split(":") for item in args.burst.split(","))
                faults = {
                    "fail_next": int(burst.get("503", 0)),
                    "status": 503,
                    "rate_limit_next": int(burst.get("429", 0)),
                    "retry_after": 2,
                    "malformed_next": int(burst.get("malformed", 0)),
                    "error_next": {"code": 5000, "k": int(burst.get("500", 0))},
                }
                total_faults = sum(int(v) for v in burst.values())

                async def inject() -> None:
                    await asyncio.sleep(args.latency * 1.5)  # mid-run: tasks are running
                    async with httpx.AsyncClient() as control:
                        await control.post(f"{root}/_sim/faults", json=faults, timeout=10)

                httpx.post(f"{root}/_sim/reset", timeout=10)
                answers.reset()
                poll = args.burst_poll_interval
                figures = run_batch(
                    args,
                    "generations",
                    args.burst_prompts,
                    poll,
                    Path(scratch) / "burst",
                    "deferrable",
                    inject(),
                )
                recovery = answers.recovery()
                say(
                    f"fault burst ({args.burst}, Retry-After 2 s), deferred batch of {args.burst_prompts}, "
                    f"poll every {poll}s: {answers.faults} of {total_faults} faults met; a finished task "
                    f"seen at most {recovery:.2f}s ({recovery / poll:.2f} poll intervals) after Kling "
                    f"finished it and the API answered again | makespan/limit "
                    f"{figures['total'] / limit_of(args.burst_prompts, args.n):.3f} "
                    f"| {figures['summary']['counts']}"
                )
        finally:
            process.terminate()
            process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
