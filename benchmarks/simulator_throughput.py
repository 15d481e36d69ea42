"""Throughput of one simulator process: concurrent task queries, and creates as stored tasks grow.

Starts ``python -m airflow_provider_kling.testing`` on a free port in a separate process (so the
client does not share its interpreter). Part 1 creates one task, then sends ``--requests`` queries
at once with ``httpx.AsyncClient`` and ``asyncio.gather``. Part 2 fills the simulator up to each
``--stored`` level and measures ``--creates`` creates (``--concurrency`` at a time) there: a
simulator that scans every stored task on each create slows down as tasks pile up. Prints requests
per second and the simulator's own CPU per request; exits 1 unless every call answered 200 with
Kling's ``code`` 0.

    python benchmarks/simulator_throughput.py [--requests 500] [--stored 1000,10000] [--creates 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

API_KEY = "bench-key"


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, on Linux; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_simulator(ready_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "airflow_provider_kling.testing", "--port", "0", "--latency", "0"]
    command += [
        "--api-key",
        API_KEY,
        "--ready-file",
        str(ready_file),
        "--slots",
        "1000000",
        "--pack-units",
        "1e9",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process, ready_file.read_text().strip()


async def run(
    base_url: str, requests: int, timeout: float, server_pid: int
) -> list[tuple[int, float, float | None]]:
    """Two rounds of concurrent queries: the first opens connections, the second reuses them."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
    client = httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=timeout)
    async with client:
        body = {"model_name": "kling-v1", "prompt": "benchmark", "n": 1}
        task_id = (await client.post("/v1/images/generations", json=body)).json()["data"]["task_id"]

        async def query() -> bool:
            try:
                response = await client.get(f"/v1/images/generations/{task_id}")
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                return False
            return response.status_code == 200 and response.json()["code"] == 0

        rounds = []
        for _ in range(2):
            errors: Counter[str] = Counter()
            started, server_cpu = time.perf_counter(), cpu_seconds(server_pid)
            results = await asyncio.wait_for(asyncio.gather(*(query() for _ in range(requests))), timeout)
            elapsed, server_cpu_after = time.perf_counter() - started, cpu_seconds(server_pid)
            used = None if server_cpu is None or server_cpu_after is None else server_cpu_after - server_cpu
            rounds.append((sum(results), elapsed, used))
            if errors:
                print(f"errors: {dict(errors)}")
    return rounds


async def create_rates(
    base_url: str, levels: list[int], creates: int, concurrency: int, server_pid: int
) -> list[tuple[int, int, float, float | None]]:
    """For each stored-task level: (level, creates that succeeded, seconds, simulator CPU seconds)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    stored, results = 0, []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(concurrency)

        async def create(number: int) -> bool:
            body = {
                "model_name": "kling-v1",
                "prompt": "benchmark",
                "n": 1,
                "external_task_id": f"b-{number}",
            }
            async with gate:
                response = await client.post("/v1/images/generations", json=body)
            return response.status_code == 200 and response.json()["code"] == 0

        for level in levels:
            if level > stored:
                await asyncio.gather(*(create(i) for i in range(stored, level)))
                stored = level
            started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
            done = await asyncio.gather(*(create(i) for i in range(stored, stored + creates)))
            elapsed, cpu_after = time.perf_counter() - started, cpu_seconds(server_pid)
            stored += creates
            used = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            results.append((level, sum(done), elapsed, used))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="concurrent queries (at most 2000)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed for all of them")
    parser.add_argument("--stored", default="1000,10000", help="stored-task levels for creates ('' skips)")
    parser.add_argument("--creates", type=int, default=1000, help="creates measured at each level")
    parser.add_argument("--concurrency", type=int, default=20, help="creates in flight at once")
    args = parser.parse_args()
    requests = max(1, min(args.requests, 2000))
    levels = sorted(int(level) for level in args.stored.split(",") if level.strip())
    with tempfile.TemporaryDirectory() as workdir:
        process, base_url = start_simulator(Path(workdir) / "ready")
        try:
            rounds = asyncio.run(run(base_url, requests, args.timeout, process.pid))
            create_results = asyncio.run(
                create_rates(base_url, levels, args.creates, args.concurrency, process.pid)
            )
        finally:
            process.terminate()
            process.wait(timeout=20)
    for label, (ok, elapsed, server_cpu) in zip(
        ("new connections", "kept-alive connections"), rounds, strict=True
    ):
        rate = requests / elapsed
        print(f"{label}: {ok}/{requests} concurrent queries succeeded in {elapsed:.3f} s, {rate:.0f} req/s")
        if server_cpu:  # the client is usually the bottleneck: show what the server itself spent
            print(f"  simulator CPU {server_cpu:.2f} s, {1000 * server_cpu / requests:.2f} ms per request")
    for level, ok, elapsed, server_cpu in create_results:
        print(
            f"creates with {level} tasks stored: {ok}/{args.creates} succeeded in {elapsed:.2f} s, "
            f"{args.creates / elapsed:.0f} creates/s"
        )
        if server_cpu:
            print(f"  simulator CPU {server_cpu:.2f} s, {1000 * server_cpu / args.creates:.2f} ms per create")
    return (
        0
        if all(ok == requests for ok, _, _ in rounds) and all(r[1] == args.creates for r in create_results)
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
