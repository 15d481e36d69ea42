"""K Kling triggers in Airflow's own ``TriggerRunner``, beside the HTTP provider's ``HttpEventTrigger``.

For each K and each kind, against one simulator process (``python -m airflow_provider_kling.testing``):
the simulator is reset, K tasks are created (each takes 20-60 s), then a child process runs
Airflow's ``TriggerRunner.run()`` (its real event loop, trigger creation, watchdog and cleanup; only
the supervisor at the other end of its socket is faked) with one trigger per task, each polling
every 5-10 s. The parent samples the child's RSS and open sockets from ``/proc``; the simulator
counts requests. Kinds:

- ``kling``: ``KlingImageTaskTrigger`` (shared client, statuses from rounds of the task list);
- ``kling-by-id``: the same trigger querying each task by id (``watch.LIST_POLLING = False``);
- ``http``: ``HttpEventTrigger`` polling each task's query URL with an async response check.

Lateness is from the moment the task ended in the simulator to the moment the (fake) supervisor
received the event (the runner syncs with its supervisor about once a second). RSS per trigger is
(peak RSS - RSS before the first trigger) / K, after importing what the kind's triggers use; CPU per
trigger is the child's CPU time from the first trigger to the last event, / K. Prints figures and
ratios to ``http``; asserts nothing. The CPU is shared with whatever else runs on the machine.

    python benchmarks/triggerer_scale.py [--k 100 1000 2000] [--kinds kling kling-by-id http]
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
KINDS = ("kling", "kling-by-id", "http")
TASK_SECONDS = (20.0, 60.0)
POLL_SECONDS = (5.0, 10.0)
HERE = Path(__file__).resolve().parent


# -- parent: simulator, tasks, sampling ---------------------------------------------------------


def start_simulator(ready_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "airflow_provider_kling.testing", "--port", "0", "--slots", "1000000"]
    command += ["--api-key", API_KEY, "--ready-file", str(ready_file)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process, ready_file.read_text().strip()


def create_tasks(root: str, base_url: str, k: int, rng: random.Random) -> list[str]:
    """K tasks, each with its own duration in TASK_SECONDS (set through the control API before its create)."""
    import httpx

    headers = {"Authorization": f"Bearer {API_KEY}"}
    task_ids = []
    with httpx.Client(timeout=30) as client:
        client.post(f"{root}/_sim/reset").raise_for_status()
        for i in range(k):
            latency = round(rng.uniform(*TASK_SECONDS), 1)
            client.post(f"{root}/_sim/settings", json={"latency": latency}).raise_for_status()
            body = {"model_name": "kling-v1", "prompt": f"benchmark {i}", "n": 1}
            answer = client.post(f"{base_url}/v1/images/generations", json=body, headers=headers)
            task_ids.append(answer.raise_for_status().json()["data"]["task_id"])
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


def run_kind(kind: str, k: int, root: str, base_url: str, workdir: Path, seed: int) -> dict[str, Any]:
    import httpx

    rng = random.Random(seed)
    task_ids = create_tasks(root, base_url, k, rng)
    polls = [round(rng.uniform(*POLL_SECONDS), 2) for _ in task_ids]
    plan, out = workdir / f"{kind}-{k}.plan.json", workdir / f"{kind}-{k}.out.json"
    plan.write_text(json.dumps({"kind": kind, "task_ids": task_ids, "polls": polls, "root": root}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(workdir / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_KLING_DEFAULT": json.dumps(
            {"conn_type": "kling", "host": base_url, "password": API_KEY}
        ),
        "AIRFLOW_CONN_KLING_HTTP": json.dumps({"conn_type": "http", "host": root}),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    with open(workdir / f"{kind}-{k}.log", "wb") as log:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", str(plan), str(out)], env=env, stdout=log, stderr=log
        )
        sampler = Sampler(child.pid)
        sampler.start()
        child.wait()
        sampler.done.set()
    if child.returncode != 0 or not out.exists():
        raise SystemExit(f"{kind} K={k}: the child failed; see {workdir / f'{kind}-{k}.log'}")
    result = json.loads(out.read_text())
    with httpx.Client(timeout=60) as client:
        ended = {t["task_id"]: t["updated_at"] / 1000 for t in client.get(f"{root}/_sim/tasks").json()}
        requests = client.get(f"{root}/_sim/counters", params={"api_key": API_KEY}).json()["requests"]
    lateness = sorted(max(0.0, at - ended[task_id]) for task_id, at in result["events"].items())
    durations = {t: ended[t] for t in task_ids}
    polls_if_fixed = sum(
        max(1.0, (durations[t] - result["started"]) / p) for t, p in zip(task_ids, polls, strict=True)
    )
    return {
        "kind": kind,
        "k": k,
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
        "lateness_max": lateness[-1] if lateness else float("nan"),
        "blocked_warnings": result["blocked_warnings"],
        "wall_seconds": result["wall_seconds"],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("kind", "{}"),
        ("k", "{}"),
        ("events", "{}"),
        ("peak_rss_mib", "{:.0f}"),
        ("rss_per_trigger_kib", "{:.1f}"),
        ("cpu_per_trigger_ms", "{:.1f}"),
        ("peak_sockets", "{}"),
        ("requests", "{}"),
        ("requests_per_task", "{:.2f}"),
        ("requests_vs_one_per_interval", "{:.3f}"),
        ("lateness_p50", "{:.1f}"),
        ("lateness_max", "{:.1f}"),
        ("blocked_warnings", "{}"),
    ]
    print("  ".join(name for name, _ in columns))
    for row in rows:
        print("  ".join(fmt.format(row[name]) for name, fmt in columns), flush=True)
    by_key = {(row["kind"], row["k"]): row for row in rows}
    for row in rows:
        peer = by_key.get(("http", row["k"]))
        if row["kind"] == "http" or peer is None:
            continue
        ratios = [
            f"{name} x{row[name] / peer[name]:.2f}" if peer[name] else f"{name} n/a"
            for name in ("rss_per_trigger_kib", "cpu_per_trigger_ms", "peak_sockets", "requests")
        ]
        late = f"lateness max {row['lateness_max']:.1f}s vs {peer['lateness_max']:.1f}s"
        print(f"{row['kind']} / http at K={row['k']}: {', '.join(ratios)}, {late}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("PLAN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(Path(args.child[0]), Path(args.child[1]))
    print(
        f"{os.cpu_count()} CPUs, shared with whatever else runs here; tasks take {TASK_SECONDS[0]:.0f}-"
        f"{TASK_SECONDS[1]:.0f} s, triggers poll every {POLL_SECONDS[0]:.0f}-{POLL_SECONDS[1]:.0f} s.",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="triggerer-scale-") as tmp:
        workdir = Path(tmp)
        simulator, base_url = start_simulator(workdir / "ready")
        root = base_url.removesuffix("/kling")
        try:
            for k in args.k:
                for kind in args.kinds:
                    rows.append(run_kind(kind, k, root, base_url, workdir, args.seed + k))
                    print_table(rows[-1:])
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
            "airflow_provider_kling.models",
            "airflow_provider_kling.triggers.watch",
            "airflow.providers.common.compat.connection",
        ],
    )
    for module in modules:
        importlib.import_module(module)


def child_main(plan_path: Path, out_path: Path) -> int:
    plan = json.loads(plan_path.read_text())
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
        from airflow_provider_kling.triggers.kling import KlingImageTaskTrigger

        watch.LIST_POLLING = plan["kind"] == "kling"

        def make(task_id: str, poll: float) -> Any:
            return KlingImageTaskTrigger(task_id, poll_interval=poll, deadline=time.time() + 600)

    warm_imports(plan["kind"])
    workloads = []
    for number, (task_id, poll) in enumerate(zip(plan["task_ids"], plan["polls"], strict=True), start=1):
        classpath, kwargs = make(task_id, poll).serialize()
        workloads.append(
            RunTrigger(id=number, classpath=classpath, encrypted_kwargs=Trigger.encrypt_kwargs(kwargs))
        )
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
                "wall_seconds": time.monotonic() - wall0,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
