"""Concurrent duplicate callbacks against the real receiver and recorder on a SQLite metadata DB.

Two receiver apps (two api-server workers: each its own replay memory and recorder) on loopback
ports, recording through Airflow's asset manager into a freshly migrated SQLite database. Each
trial sends, from 20 threads at once and alternating between the two workers:

- ``ids``: the same signed task body under 20 new webhook ids;
- ``same-id``: the same delivery (one webhook id) 20 times;

and counts the asset events recorded for that task (the goal: 1) and the answers' status codes.
SQLite serialises writers, so some answers are 503 ("database is locked", nothing recorded: the
sender sends again); PostgreSQL with a real api-server is what the issue's figures need.

``--recent N`` then measures the recorder alone: the median and worst milliseconds of recording
200 new terminal callbacks one after another, with no recent event and with N recent events on
the asset (the cost per callback must not grow with recent traffic).

    python benchmarks/callbacks_concurrent_duplicates.py [--trials 10] [--senders 20] [--recent 2000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-of-32-bytes!!!!").decode()
URI = "kling://kling_default/tasks"


def _serve(app: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def recorder_latency(recent: int) -> dict[str, list[float]]:
    """Median and worst ms of 200 records on a fresh asset, then after ``recent`` more events."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.utils.session import create_session

    from airflow_provider_kling.callbacks.recorder import AirflowAssetEvents

    uri = "kling://kling_default/latency"
    with create_session() as session:
        asset = AssetModel(name=uri, uri=uri)
        session.add(asset)
        session.flush()
        session.add(AssetActive.for_asset(asset))
    recorder, figures = AirflowAssetEvents(), {}

    def extra(task_id: str) -> dict[str, Any]:
        return {
            "kling_task_id": task_id,
            "status": "succeed",
            "conn_id": "kling_default",
            "webhook_id": task_id,
        }

    for label, filler in (("fresh", 0), (f"after {recent} recent events", recent)):
        with create_session() as session:
            model = session.query(AssetModel).filter(AssetModel.uri == uri).one()
            for n in range(filler):
                asset_manager.register_asset_change(
                    asset=model, extra=extra(f"fill-{n}"), session=session, source_is_api=True
                )
        times = []
        for n in range(200):
            started = time.perf_counter()
            recorder.record(uri, extra(f"{label}-{n}"))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        figures[label] = [round(times[len(times) // 2], 1), round(times[-1], 1)]
    return figures


def child(trials: int, senders: int, recent: int) -> None:
    import httpx
    from airflow.models.asset import AssetActive, AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_kling.callbacks.receiver import CallbackConnection, create_receiver_app
    from airflow_provider_kling.callbacks.signature import parse_secrets, signature

    with create_session() as session:
        asset = AssetModel(name=URI, uri=URI)
        session.add(asset)
        session.flush()
        session.add(AssetActive.for_asset(asset))
    keys = tuple(secret.key for secret in parse_secrets(SECRET))

    def lookup(conn_id: str) -> CallbackConnection | None:
        return (
            CallbackConnection(conn_id=conn_id, keys=keys, extras={}) if conn_id == "kling_default" else None
        )

    workers = [_serve(create_receiver_app(connections=lookup)) for _ in range(2)]

    def events_of(task_id: str) -> int:
        with create_session() as session:
            rows = session.scalars(select(AssetEvent.extra)).all()
            return sum(
                1 for extra in rows if isinstance(extra, dict) and extra.get("kling_task_id") == task_id
            )

    def body(task_id: str) -> bytes:
        task = {
            "task_id": task_id,
            "task_status": "succeed",
            "task_info": {},
            "task_result": {"images": [{"index": 0, "url": f"https://cdn.example/{task_id}.png"}]},
        }
        return json.dumps(task).encode()

    def send(n: int, payload: bytes, webhook_id: str, start: threading.Barrier, codes: list[int]) -> None:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + signature(keys[0], webhook_id, timestamp, payload),
        }
        start.wait()
        answer = httpx.post(
            f"{workers[n % 2][0]}/callbacks/kling_default", content=payload, headers=headers, timeout=60
        )
        codes.append(answer.status_code)

    results: dict[str, list[int]] = {"ids": [], "same-id": []}
    statuses: dict[str, Counter[int]] = {"ids": Counter(), "same-id": Counter()}
    for trial in range(trials):
        for mode in ("ids", "same-id"):
            task_id = f"{mode}-{trial}"
            payload, codes = body(task_id), []
            start = threading.Barrier(senders)
            threads = [
                threading.Thread(
                    target=send,
                    args=(
                        n,
                        payload,
                        f"msg_{task_id}_{n}" if mode == "ids" else f"msg_{task_id}",
                        start,
                        codes,
                    ),
                )
                for n in range(senders)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            results[mode].append(events_of(task_id))
            statuses[mode].update(codes)
    for _, server, thread in workers:
        server.should_exit = True
        thread.join(timeout=10)
    answers = {k: dict(v) for k, v in statuses.items()}
    latency = recorder_latency(recent) if recent else {}
    print(json.dumps({"events_per_trial": results, "answers": answers, "record_ms_median_max": latency}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--recent", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.trials, args.senders, args.recent)
        return
    with tempfile.TemporaryDirectory() as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=home,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{Path(home) / 'airflow.db'}",
            PYTHONWARNINGS="ignore",
        )
        airflow = str(Path(sys.executable).parent / "airflow")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        command = [sys.executable, __file__, "--child", "--trials", str(args.trials)]
        command += ["--senders", str(args.senders), "--recent", str(args.recent)]
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
