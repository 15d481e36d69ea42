"""Peak memory of storing one large Kling video: the provider's streamed store against a naive copy.

The simulator (in this process) makes a text2video task and serves its video as a valid MP4 padded
to SIZE MB (its ``huge`` download fault, with Content-Length). Each way of storing it runs in a
fresh Python process of its own, which reports its peak RSS growth (``ru_maxrss`` after the store
minus before it, imports and a small warm-up download already done):

- ``streamed``: the provider's path, ``KlingHook.iter_video_bytes`` (the connection's session, checks, cap)
  into ``storage.store_file`` on local storage (verified, partial file, rename);
- ``naive``: the peer, ``requests.get(url).content`` read whole, then written to a file.

Goal: the streamed store grows peak RSS by less than 32 MB. Prints a table; asserts nothing.

    .venv/bin/python benchmarks/video_storage_memory.py [SIZE_MB, default 200]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kling-bench-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

MB = 1024 * 1024
GOAL_MB = 32


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(way: str, url: str, warm_url: str, folder: str) -> None:
    """Runs in a child process: store ``url`` one way, print what it cost as JSON."""
    import requests

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.storage import VIDEO, store_file, to_storage_path

    hook = KlingHook()
    base = to_storage_path(folder)
    store_file(
        base, "warm/up_0", hook.iter_video_bytes(warm_url), VIDEO
    )  # imports, session, TLS-free warm-up
    _ = requests.get(warm_url, timeout=30).content
    print("ready", flush=True)
    sys.stdin.readline()  # the parent turns the video into a big one now
    before = _peak_mb()
    started = time.perf_counter()
    if way == "streamed":
        stored = store_file(base, "bench/run/video_0", hook.iter_video_bytes(url), VIDEO)
        size = stored.stat()["size"]
    else:
        body = requests.get(url, timeout=300).content
        path = os.path.join(folder, "naive_0.mp4")
        with open(path, "wb") as handle:
            handle.write(body)
        size = os.path.getsize(path)
        del body
    seconds = time.perf_counter() - started
    print(json.dumps({"way": way, "growth_mb": _peak_mb() - before, "seconds": seconds, "size": size}))


def main(size_mb: float) -> None:
    import httpx

    from airflow_provider_kling.testing import KlingSimulator

    with KlingSimulator(progress="immediate") as simulator, tempfile.TemporaryDirectory() as folder:
        headers = {"Authorization": f"Bearer {simulator.api_key}"}
        with httpx.Client(base_url=simulator.base_url, headers=headers) as http:
            created = http.post(
                "/v1/videos/text2video",
                json={"model_name": "kling-v2-6", "prompt": "a product turning slowly"},
            ).json()["data"]
            task = http.get(f"/v1/videos/text2video/{created['task_id']}").json()["data"]
        url = task["task_result"]["videos"][0]["url"]
        env = {
            **os.environ,
            "AIRFLOW_CONN_KLING_DEFAULT": json.dumps(
                {
                    "conn_type": "kling",
                    "host": simulator.base_url,
                    "password": simulator.api_key,
                    "extra": {"max_video_bytes": int((size_mb + 1) * MB)},
                }
            ),
        }
        rows = []
        for way in ("streamed", "naive"):
            child = subprocess.Popen(
                [sys.executable, __file__, "--worker", way, url, url, folder],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert child.stdin is not None and child.stdout is not None
            child.stdout.readline()  # "ready": imports and the small warm-up downloads are done
            simulator.image_fault("huge", k=1, size=int(size_mb * MB))
            child.stdin.write("go\n")
            child.stdin.flush()
            out, err = child.communicate(timeout=600)
            if child.returncode:
                sys.exit(f"{way} failed:\n{err[-3000:]}")
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"Storing one {size_mb:g} MB video from the simulator to local storage (fresh process each):")
    print(f"{'way':<10} {'stored MB':>10} {'peak RSS growth MB':>19} {'seconds':>8}")
    for row in rows:
        print(f"{row['way']:<10} {row['size'] / MB:>10.1f} {row['growth_mb']:>19.1f} {row['seconds']:>8.2f}")
    streamed = next(row for row in rows if row["way"] == "streamed")
    verdict = "met" if streamed["growth_mb"] < GOAL_MB else "NOT met"
    print(f"goal: streamed growth < {GOAL_MB} MB: {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 200.0)
