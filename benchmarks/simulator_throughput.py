"""Throughput of one simulator process: 500 concurrent task queries over loopback.

Starts ``python -m airflow_provider_kling.testing`` on a free port in a separate process (so the
client does not share its interpreter), creates one task, then sends the queries at once with
``httpx.AsyncClient`` and ``asyncio.gather``. Prints requests per second and the total time;
exits 1 unless every query answered 200 with Kling's ``code`` 0.

    python benchmarks/simulator_throughput.py [--requests 500] [--timeout 60]
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
    command += ["--api-key", API_KEY, "--ready-file", str(ready_file)]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="concurrent queries (at most 2000)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed for all of them")
    args = parser.parse_args()
    requests = max(1, min(args.requests, 2000))
    with tempfile.TemporaryDirectory() as workdir:
        process, base_url = start_simulator(Path(workdir) / "ready")
        try:
            rounds = asyncio.run(run(base_url, requests, args.timeout, process.pid))
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
    return 0 if all(ok == requests for ok, _, _ in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
