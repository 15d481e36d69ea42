"""K Kling triggers in Airflow's own ``TriggerRunner``, beside the HTTP provider's ``HttpEventTrigger``.

For each K and each kind, against one simulator process (``python -m airflow_provider_kling.testing``):
the simulator is reset, K tasks are created (each takes 20-60 s), then a child process runs
Airflow's ``TriggerRunner.run()`` (its real event loop, trigger creation, watchdog and cleanup; only
the supervisor at the other end of its socket is faked) with one trigger per task, each polling
every 5-10 s. The parent samples the child's RSS and open sockets from ``/proc``; the simulator
counts requests. Kinds:

- ``kling``: ``KlingTaskTrigger`` reading statuses from rounds of the task list (the connection
  says ``tasks_query: no``, as a host without ``GET /tasks``);
- ``kling-tasks``: the same trigger reading the waiting tasks with ``GET /tasks?task_ids=`` (20 a request);
- ``kling-by-id``: the same trigger querying each task by id (no list, no ``/tasks``);
- ``http``: ``HttpEventTrigger`` polling each task's query URL with an async response check.

``--others N`` adds N finished tasks to the account after the K waited ones (other pipelines' history,
newer than the waited tasks, as when pipelines keep creating): list rounds read the account's newest
pages, so their cost grows with it; ``GET /tasks`` asks only for the waiting tasks.
``req/task/interval`` is requests per waiting task per poll interval (1.0: one query per task per
poll); ``clients`` counts ``httpx.AsyncClient`` objects built in the triggerer; ``stalls`` counts
event-loop stalls over 0.2 s (a watchdog coroutine that should wake every 50 ms), with the longest.

Lateness is from the moment the task ended in the simulator (or the hand-over, for a task that ended
while the K tasks were still being created: ``ended_before`` counts them) to the moment the (fake)
supervisor received the event (the runner syncs with its supervisor about once a second). RSS per
trigger is (peak RSS - RSS before the first trigger) / K, after importing what the kind's triggers
use; CPU per trigger is the child's CPU time from the first trigger to the last event, / K. Prints
figures and ratios to ``http``; asserts nothing. The CPU is shared with whatever else runs on the
machine.

    python benchmarks/triggerer_scale.py [--k 100 1000 2000] [--kinds kling kling-by-id http]
    python benchmarks/triggerer_scale.py --k 1000 10000 --kinds kling kling-tasks --others 50000 \
        --task-seconds 60 --poll-seconds 10
    python benchmarks/triggerer_scale.py --k 10000 --kinds kling-tasks --others 50000 \
        --task-seconds 60 --poll-seconds 10 --before OLD_CHECKOUT   # old code and this one, side by side
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

API_KEY = "bench-key"
KINDS = ("kling", "kling-tasks", "kling-by-id", "http")
TASK_SECONDS = (20.0, 60.0)
POLL_SECONDS = (5.0, 10.0)
STALL_SECONDS = 0.2
HERE = Path(__file__).resolve().parent


# -- parent: simulator, tasks, sampling ---------------------------------------------------------


def start_simulator(ready_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [
        sys.executable,
        "-m",
        "airflow_provider_kling.testing",
        "--port",
        "0",
        "--slots",
        "1000000",
        "--pack-units",
        "1e9",
    ]
    command += ["--api-key", API_KEY, "--ready-file", str(ready_file)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process, ready_file.read_text().strip()


def create_tasks(
    root: str, base_url: str, k: int, rng: random.Random, task_seconds: tuple[float, float], others: int
) -> list[str]:
    """K tasks, each with its own duration in ``task_seconds`` (set through the control API before its
    create), then ``others`` finished tasks of the account (newer than the K)."""
    import httpx

    headers = {"Authorization": f"Bearer {API_KEY}"}
    task_ids = []
    with httpx.Client(timeout=30) as client:
        client.post(f"{root}/_sim/reset").raise_for_status()
        latency = None
        for i in range(k):
            wanted = round(rng.uniform(*task_seconds), 1)
            if wanted != latency:
                client.post(f"{root}/_sim/settings", json={"latency": wanted}).raise_for_status()
                latency = wanted
            body = {"model_name": "kling-v3", "prompt": f"benchmark {i}", "n": 1}
            answer = client.post(f"{base_url}/v1/images/generations", json=body, headers=headers)
            task_ids.append(answer.raise_for_status().json()["data"]["task_id"])
        if others:
            client.post(
                f"{root}/_sim/tasks/seed", json={"count": others, "api_key": API_KEY}
            ).raise_for_status()
        client.post(f"{root}/_sim/counters/reset").raise_for_status()
    return task_ids


def sockets_of(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return count


class Sampler(threading.Thread):
    """Peak open sockets of the child, every 0.25 s, from outside it."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_sockets, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            try:
                self.peak_sockets = max(self.peak_sockets, sockets_of(self.pid))
            except OSError:
                return


def run_kind(
    kind: str,
    k: int,
    root: str,
    base_url: str,
    workdir: Path,
    seed: int,
    args: argparse.Namespace,
    code: str = "",
) -> dict[str, Any]:
    import httpx

    rng = random.Random(seed)
    task_ids = create_tasks(root, base_url, k, rng, args.task_seconds, args.others)
    polls = [round(rng.uniform(*args.poll_seconds), 2) for _ in task_ids]
    name = f"{kind}-{k}{'-' + code if code else ''}"
    plan, out = workdir / f"{name}.plan.json", workdir / f"{name}.out.json"
    plan.write_text(
        json.dumps(
            {"kind": kind, "task_ids": task_ids, "polls": polls, "root": root, "gc_freeze": args.gc_freeze}
        )
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(workdir / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_KLING_DEFAULT": json.dumps(
            {
                "conn_type": "kling",
                "host": base_url,
                "password": API_KEY,
                "extra": {"tasks_query": "yes" if kind == "kling-tasks" else "no"},
            }
        ),
        "AIRFLOW_CONN_KLING_HTTP": json.dumps({"conn_type": "http", "host": root}),
        "PYTHONPATH": os.pathsep.join(
            [str(HERE), *([args.before] if code == "before" else []), os.environ.get("PYTHONPATH", "")]
        ),
    }
    with open(workdir / f"{name}.log", "wb") as log:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", str(plan), str(out)], env=env, stdout=log, stderr=log
        )
        sampler = Sampler(child.pid)
        sampler.start()
        child.wait()
        sampler.done.set()
    if child.returncode != 0 or not out.exists():
        raise SystemExit(f"{name}: the child failed; see {workdir / f'{name}.log'}")
    result = json.loads(out.read_text())
    with httpx.Client(timeout=60) as client:
        ended = {t["task_id"]: t["updated_at"] / 1000 for t in client.get(f"{root}/_sim/tasks").json()}
        requests = client.get(f"{root}/_sim/counters", params={"api_key": API_KEY}).json()["requests"]
    # From the task's end, or from the hand-over for a task that ended before it (creating K tasks
    # takes a while): such tasks are found at the first polls, as after a triggerer restart.
    handover = result["started"]
    lateness = sorted(
        max(0.0, at - max(ended[task_id], handover)) for task_id, at in result["events"].items()
    )
    durations = {t: ended[t] for t in task_ids}
    polls_if_fixed = sum(
        max(1.0, (durations[t] - result["started"]) / p) for t, p in zip(task_ids, polls, strict=True)
    )
    mean_poll = statistics.fmean(polls)
    return {
        "kind": kind + (f"@{code}" if code else ""),
        "ended_before": sum(ended[t] < handover for t in task_ids),
        "k": k,
        "others": args.others,
        "poll": mean_poll,
        "events": len(result["events"]),
        "failures": result["failures"],
        "peak_rss_mib": result["peak_rss_kib"] / 1024,
        "rss_per_trigger_kib": (result["peak_rss_kib"] - result["base_rss_kib"]) / k,
        "cpu_per_trigger_ms": result["cpu_seconds"] * 1000 / k,
        "peak_sockets": sampler.peak_sockets,
        "requests": requests,
        "requests_per_task": requests / k,
        "requests_vs_one_per_interval": requests / polls_if_fixed,
        "lateness_p50": statistics.median(lateness) if lateness else float("nan"),
        "lateness_p95": lateness[int(0.95 * (len(lateness) - 1))] if lateness else float("nan"),
        "lateness_max": lateness[-1] if lateness else float("nan"),
        "lateness_max_intervals": (lateness[-1] / mean_poll) if lateness else float("nan"),
        "clients": result["clients"],
        "stalls": result["stalls"],
        "stall_max": result["stall_max"],
        "stall_times": result["stall_times"],
        "gc_pauses": result["gc_pauses"],
        "blocked_warnings": result["blocked_warnings"],
        "wall_seconds": result["wall_seconds"],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("kind", "{}"),
        ("k", "{}"),
        ("ended_before", "{}"),
        ("events", "{}"),
        ("peak_rss_mib", "{:.0f}"),
        ("rss_per_trigger_kib", "{:.1f}"),
        ("cpu_per_trigger_ms", "{:.1f}"),
        ("peak_sockets", "{}"),
        ("requests", "{}"),
        ("requests_per_task", "{:.2f}"),
        ("requests_vs_one_per_interval", "{:.3f}"),
        ("lateness_p50", "{:.1f}"),
        ("lateness_p95", "{:.1f}"),
        ("lateness_max", "{:.1f}"),
        ("lateness_max_intervals", "{:.2f}"),
        ("clients", "{}"),
        ("stalls", "{}"),
        ("stall_max", "{:.2f}"),
        ("blocked_warnings", "{}"),
    ]
    print("  ".join(name for name, _ in columns))
    for row in rows:
        print("  ".join(fmt.format(row[name]) for name, fmt in columns), flush=True)
    by_key = {(row["kind"], row["k"]): row for row in rows}
    for row in rows:
        lists = by_key.get(("kling", row["k"]))
        if row["kind"] == "kling-tasks" and lists is not None:
            print(
                f"K={row['k']} with {row['others']} other tasks: requests per waiting task per poll interval "
                f"{lists['requests_vs_one_per_interval']:.3f} (list rounds) vs "
                f"{row['requests_vs_one_per_interval']:.3f} (GET /tasks); lateness max "
                f"{lists['lateness_max']:.1f}s vs {row['lateness_max']:.1f}s"
            )
        peer = by_key.get(("http", row["k"]))
        if row["kind"] == "http" or peer is None:
            continue
        ratios = [
            f"{name} x{row[name] / peer[name]:.2f}" if peer[name] else f"{name} n/a"
            for name in ("rss_per_trigger_kib", "cpu_per_trigger_ms", "peak_sockets", "requests")
        ]
        late = f"lateness max {row['lateness_max']:.1f}s vs {peer['lateness_max']:.1f}s"
        print(f"{row['kind']} / http at K={row['k']}: {', '.join(ratios)}, {late}")
    for row in rows:
        old = by_key.get((row["kind"].replace("@after", "@before"), row["k"]))
        if row["kind"].endswith("@after") and old is not None:
            print(
                f"{row['kind'].removesuffix('@after')} K={row['k']}, before -> after: lateness max "
                f"{old['lateness_max']:.1f} -> {row['lateness_max']:.1f} s, stalls over {STALL_SECONDS} s "
                f"{old['stalls']} (longest {old['stall_max']:.2f} s) -> "
                f"{row['stalls']} ({row['stall_max']:.2f} s), requests per task per interval "
                f"{old['requests_vs_one_per_interval']:.3f} -> {row['requests_vs_one_per_interval']:.3f}, "
                f"CPU per trigger {old['cpu_per_trigger_ms']:.1f} -> {row['cpu_per_trigger_ms']:.1f} ms"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--others", type=int, default=0, help="finished tasks of other pipelines in the account"
    )
    parser.add_argument(
        "--task-seconds", type=float, nargs="+", default=list(TASK_SECONDS), help="one value, or a range"
    )
    parser.add_argument(
        "--poll-seconds", type=float, nargs="+", default=list(POLL_SECONDS), help="one value, or a range"
    )
    parser.add_argument(
        "--before", metavar="DIR", help="also run each kind on the package checked out in DIR, side by side"
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() in the triggerer once its imports are loaded (full collections skip them)",
    )
    parser.add_argument("--child", nargs=2, metavar=("PLAN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(Path(args.child[0]), Path(args.child[1]))
    args.task_seconds = (args.task_seconds[0], args.task_seconds[-1])
    args.poll_seconds = (args.poll_seconds[0], args.poll_seconds[-1])
    print(
        f"{os.cpu_count()} CPUs, shared with whatever else runs here; tasks take {args.task_seconds[0]:.0f}-"
        f"{args.task_seconds[1]:.0f} s, triggers poll every {args.poll_seconds[0]:.0f}-"
        f"{args.poll_seconds[1]:.0f} s; {args.others} other tasks in the account.",
        flush=True,
    )
    rows = []
    codes = ["before", "after"] if args.before else [""]
    with tempfile.TemporaryDirectory(prefix="triggerer-scale-") as tmp:
        workdir = Path(tmp)
        simulator, base_url = start_simulator(workdir / "ready")
        root = base_url.removesuffix("/kling")
        try:
            for k in args.k:
                for kind, code in ((kind, code) for kind in args.kinds for code in codes):
                    rows.append(run_kind(kind, k, root, base_url, workdir, args.seed + k, args, code))
                    print_table(rows[-1:])
                    if rows[-1]["stall_times"]:
                        print(
                            f"  stalls at (s after the hand-over): {rows[-1]['stall_times']}; "
                            f"full garbage collections over {STALL_SECONDS} s: {rows[-1]['gc_pauses']}"
                        )
        finally:
            simulator.terminate()
            simulator.wait(10)
    print()
    print_table(rows)
    return 0


# -- child: Airflow's TriggerRunner with a fake supervisor ----------------------------------------


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def warm_imports(kind: str) -> None:
    """What a kind's triggers import at run time, imported before the baseline (as in a triggerer that
    has run such triggers before), so RSS per trigger is the cost of a trigger, not of first imports."""
    import importlib

    modules = {
        "http": ["aiohttp", "airflow.providers.http.hooks.http"],
    }.get(
        kind,
        [
            "httpx",
            "tenacity",
            "airflow_provider_kling.hooks.kling",
            "airflow_provider_kling.hooks.async_client",
            "airflow_provider_kling.hooks.transport",
            "airflow_provider_kling.models.requests",
            "airflow_provider_kling.models.task",
            "airflow_provider_kling.triggers.watch",
            "airflow.providers.common.compat.connection",
        ],
    )
    for module in modules:
        importlib.import_module(module)


def count_clients() -> list[int]:
    """Count ``httpx.AsyncClient`` objects built from now on (one per connection is the aim)."""
    import httpx

    built = [0]
    init = httpx.AsyncClient.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        init(self, *args, **kwargs)

    httpx.AsyncClient.__init__ = counting_init  # type: ignore[method-assign]
    return built


async def watch_stalls(stalls: list[tuple[float, float]]) -> None:
    """Wake every 50 ms; note each wake-up that came more than STALL_SECONDS late (when, how late)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(0.05)
        late = loop.time() - before - 0.05
        if late > STALL_SECONDS:
            stalls.append((time.time(), late))


def watch_collections() -> list[float]:
    """Seconds of each full (generation 2) garbage collection over STALL_SECONDS, from now on."""
    import gc

    pauses: list[float] = []
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[0] = time.perf_counter()
            elif (took := time.perf_counter() - started[0]) > STALL_SECONDS:
                pauses.append(round(took, 2))

    gc.callbacks.append(timed)
    return pauses


def child_main(plan_path: Path, out_path: Path) -> int:
    plan = json.loads(plan_path.read_text())
    collections = watch_collections()
    clients = count_clients()
    stalls: list[tuple[float, float]] = []
    from airflow.executors.workloads import RunTrigger
    from airflow.jobs.triggerer_job_runner import TriggerRunner, messages
    from airflow.models.trigger import Trigger

    if plan["kind"] == "http":
        import _http_check  # noqa: F401 - imported once here, as the response check path
        from airflow.providers.http.triggers.http import HttpEventTrigger

        def make(task_id: str, poll: float) -> Any:
            return HttpEventTrigger(
                response_check_path="_http_check.task_ended",
                http_conn_id="kling_http",
                endpoint=f"kling/v1/images/generations/{task_id}",
                headers={"Authorization": f"Bearer {API_KEY}"},
                poll_interval=poll,
            )
    else:
        from airflow_provider_kling.triggers import watch
        from airflow_provider_kling.triggers.kling import KlingTaskTrigger

        watch.LIST_POLLING = plan["kind"] == "kling"
        watch.TASKS_QUERY = plan["kind"] == "kling-tasks"

        def make(task_id: str, poll: float) -> Any:
            return KlingTaskTrigger(task_id, poll_interval=poll, deadline=time.time() + 600)

    warm_imports(plan["kind"])
    workloads = []
    for number, (task_id, poll) in enumerate(zip(plan["task_ids"], plan["polls"], strict=True), start=1):
        classpath, kwargs = make(task_id, poll).serialize()
        workloads.append(
            RunTrigger(id=number, classpath=classpath, encrypted_kwargs=Trigger.encrypt_kwargs(kwargs))
        )
    if plan.get("gc_freeze"):  # what a triggerer could do once its imports are loaded
        import gc

        gc.freeze()
    by_number = dict(enumerate(plan["task_ids"], start=1))
    events: dict[str, float] = {}
    failures: list[int] = []
    blocked = [0]

    class CountingLog:
        """The runner's logger, counting the watchdog's "async thread was blocked" lines."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def ainfo(self, event: str, *args: Any, **kw: Any) -> None:
            if "was blocked" in event:
                blocked[0] += 1
            await self.inner.ainfo(event, *args, **kw)

    class FakeSupervisorRunner(TriggerRunner):
        """TriggerRunner whose supervisor is this object: it hands out the workloads and takes the events."""

        async def init_comms(self) -> None:
            from types import SimpleNamespace

            self.log = CountingLog(self.log)
            self.comms_decoder = SimpleNamespace(_reader_task=asyncio.get_running_loop().create_future())
            self.stall_watch = asyncio.get_running_loop().create_task(watch_stalls(stalls))

        async def asend(self, msg: Any) -> Any:
            now = time.time()
            for entry in msg.events or []:
                events[by_number[entry.trigger_id]] = now
            failures.extend(trigger_id for trigger_id, _ in msg.failures or [])
            if len(events) + len(failures) >= total:
                self.stop = True
            to_create, workloads[:] = list(workloads), []
            if to_create:
                state["base_rss"], state["cpu0"], state["started"] = (
                    rss_kib("VmRSS"),
                    time.process_time(),
                    now,
                )
            return messages.TriggerStateSync(to_create=to_create, to_cancel=set())

    state: dict[str, float] = {}
    total = len(workloads)
    runner = FakeSupervisorRunner()
    wall0 = time.monotonic()
    if os.environ.get("TRIGGERER_SCALE_PROFILE"):  # a cProfile of the child, to find where its CPU goes
        import cProfile

        cProfile.runctx("runner.run()", globals(), {"runner": runner}, os.environ["TRIGGERER_SCALE_PROFILE"])
    else:
        runner.run()
    out_path.write_text(
        json.dumps(
            {
                "events": events,
                "failures": len(failures),
                "triggers": total,
                "base_rss_kib": state["base_rss"],
                "peak_rss_kib": rss_kib("VmHWM"),
                "cpu_seconds": time.process_time() - state["cpu0"],
                "started": state["started"],
                "blocked_warnings": blocked[0],
                "clients": clients[0],
                "stalls": len(stalls),
                "stall_max": max((late for _, late in stalls), default=0.0),
                "gc_pauses": collections,
                # when each stall happened, in seconds after the triggers were handed over
                "stall_times": [round(at - state["started"], 1) for at, _ in stalls],
                "wall_seconds": time.monotonic() - wall0,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
