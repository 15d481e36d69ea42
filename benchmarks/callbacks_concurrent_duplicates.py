"""Concurrent duplicates, replays and throughput of the callback receiver in a real deployment.

PostgreSQL and ``airflow api-server --workers 2`` (``callbacks_deployment.py``), the ``kling``
connection with a webhook secret, the assets ``kling://kling_default/tasks`` and ``.../pipe1``
active as a DAG declaring them would make them. Parts (``--parts``):

- ``concurrency``: per trial, the same signed task body under 20 new webhook ids at once (``ids``),
  and one delivery 20 times at once (``same-id``), each sender on its own connection; counts the
  asset events of that task (the goal: exactly 1 each, in every trial) and the answers' codes;
- ``replay``: a delivery recorded on ``tasks``, then replayed unchanged with ``?asset=pipe1``
  (4 times, new connections: both workers); counts the task's events (the goal: 1, none on pipe1);
- ``hostile``: every hostile input of issue 31 once (unsigned and signed ``\u00b2\u00b3`` timestamps,
  JSON nested 100,000 deep, ``?asset=pipe1%0a``, 300 KiB, a bad signature, an unknown connection,
  units ``1e999``/``NaN``/4,000 digits, a client gone mid-body, ``--flood`` random connection ids);
  the answers, and the tracebacks in the api-server's log (the goal: all 4xx, 0 tracebacks);
- ``throughput``: ``--callbacks`` terminal callbacks of distinct tasks from ``--clients``
  concurrent clients, once with no recent event and once after ``--recent`` recent events on
  the asset (written straight into the database); callbacks/s and p50/p99 ms of the answers;
- ``statements``: ``--callbacks`` / 20 terminal callbacks one at a time (then the same again)
  with PostgreSQL's ``log_statement=all``: the statements (each one round trip, ``BEGIN`` and
  ``COMMIT`` included) the api-server sends per callback, by kind.

``--pg-port`` and ``--api-port`` choose the deployment's ports (15433 and 18310 by default).

``--before <commit>`` runs the same parts on that commit's provider (``git archive`` into
``build/``) after the current checkout's, each in a fresh database.

    python benchmarks/callbacks_concurrent_duplicates.py [--trials 10] [--senders 20]
        [--callbacks 2000] [--clients 20] [--recent 10000]
        [--parts concurrency,replay,hostile,statements,throughput]
        [--pg-port 15433] [--api-port 18310]
        [--before 000d1a2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callbacks_deployment import API_PORT, BUILD, PG_PORT, ROOT, Deployment

SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-of-32-bytes!!!!").decode()
CONNECTION = json.dumps(
    {"conn_type": "kling", "host": "http://127.0.0.1:9", "password": "k", "extra": {"webhook_secret": SECRET}}
)
SUPERSCRIPT = "\u00b2\u00b3".encode()  # a header's bytes as sent: UTF-8 (httpx sends only ASCII str)
TASKS, PIPE1 = "kling://kling_default/tasks", "kling://kling_default/pipe1"


def task_body(task_id: str, **fields: Any) -> bytes:
    task = {
        "task_id": task_id,
        "task_status": "succeed",
        "task_info": {},
        "task_result": {"images": [{"index": 0, "url": f"https://cdn.example/{task_id}.png"}]},
        **fields,
    }
    return json.dumps(task).encode()


def signed(webhook_id: str, body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    timestamp = int(time.time())
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


# What runs in the deployment's environment (its database, its provider) ---------------------
def activate_assets() -> None:
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        for uri in (TASKS, PIPE1):
            if session.query(AssetModel).filter(AssetModel.uri == uri).count():
                continue
            asset = AssetModel(name=uri, uri=uri)
            session.add(asset)
            session.flush()
            session.add(AssetActive.for_asset(asset))


def events_of(task_id: str) -> Counter[str]:
    """The task's asset events by asset URI."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.extra["kling_task_id"].as_string() == task_id)
        ).all()
    return Counter(uri for uri, _ in rows)


def add_recent_events(count: int) -> None:
    """``count`` events of distinct tasks on ``tasks``, recorded now (and their keys, where the
    provider has its key table)."""
    from datetime import UTC, datetime

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert, inspect, select, text

    if not count:
        return
    now = datetime.now(UTC)
    with create_session() as session:
        asset_id = session.scalar(select(AssetModel.id).where(AssetModel.uri == TASKS))
        extras = [
            {"kling_task_id": f"recent-{n}", "status": "succeed", "conn_id": "kling_default",
             "webhook_id": f"msg_recent_{n}", "image_urls": [f"https://cdn.example/recent-{n}.png"]}
            for n in range(count)
        ]  # fmt: skip
        session.execute(
            insert(AssetEvent), [{"asset_id": asset_id, "extra": e, "timestamp": now} for e in extras]
        )
        if inspect(session.get_bind()).has_table("kling_callback_key"):
            session.execute(
                text("INSERT INTO kling_callback_key VALUES (:c, :t, :s, :a, :w, :r)"),
                [{"c": "kling_default", "t": e["kling_task_id"], "s": "succeed", "a": TASKS,
                  "w": e["webhook_id"], "r": now} for e in extras],
            )  # fmt: skip


def concurrency(url: str, trials: int, senders: int) -> dict[str, Any]:
    def send(payload: bytes, webhook_id: str, start: threading.Barrier, codes: list[int]) -> None:
        headers = signed(webhook_id, payload)
        start.wait()
        try:
            codes.append(httpx.post(url, content=payload, headers=headers, timeout=60).status_code)
        except httpx.HTTPError as exc:
            codes.append(type(exc).__name__)  # type: ignore[arg-type]

    events: dict[str, list[int]] = {"ids": [], "same-id": []}
    answers: dict[str, Counter[Any]] = {"ids": Counter(), "same-id": Counter()}
    for trial in range(trials):
        for mode in events:
            task_id, codes = f"{mode}-{trial}-{time.time_ns()}", []
            payload, start = task_body(task_id), threading.Barrier(senders)
            ids = [f"msg_{task_id}_{n}" if mode == "ids" else f"msg_{task_id}" for n in range(senders)]
            threads = [threading.Thread(target=send, args=(payload, i, start, codes)) for i in ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            events[mode].append(sum(events_of(task_id).values()))
            answers[mode].update(codes)
    return {"events_per_trial": events, "answers": {k: dict(v) for k, v in answers.items()}}


def replay(url: str) -> dict[str, Any]:
    task_id = f"replayed-{time.time_ns()}"
    payload = task_body(task_id)
    headers = signed(f"msg_{task_id}", payload)
    first = httpx.post(url, content=payload, headers=headers, timeout=60).status_code
    replays = [
        httpx.post(url, params={"asset": "pipe1"}, content=payload, headers=headers, timeout=60).status_code
        for _ in range(4)
    ]
    return {"first": first, "replays": replays, "events": dict(events_of(task_id))}


def hostile(url: str, flood: int) -> dict[str, Any]:
    """Every hostile input of the issue, once each: the answers (each must be a 4xx)."""
    import socket
    import uuid
    from urllib.parse import urlsplit

    def post(
        body: bytes, headers: dict[str, str], params: dict[str, str] | None = None, to: str = url
    ) -> int:
        return httpx.post(to, params=params, content=body, headers=headers, timeout=60).status_code

    body = task_body("hostile-1")
    deep = (
        b'{"task_id": "hostile-2", "task_status": "succeed", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    )
    answers: dict[str, Any] = {
        "unsigned, timestamp \u00b2\u00b3": post(body, {"webhook-id": "m", "webhook-timestamp": SUPERSCRIPT}),
        "signed, timestamp \u00b2\u00b3": post(
            body, {**signed("m1", body), "webhook-timestamp": SUPERSCRIPT}
        ),
        "signed JSON nested 100,000 deep": post(deep, signed("m2", deep)),
        "?asset=pipe1%0a": post(body, signed("m3", body), {"asset": "pipe1\n"}),
        "body over 256 KiB": post(b" " * (300 * 1024), signed("m4", b" " * (300 * 1024))),
        "bad signature, known connection": post(body, {**signed("m5", body), "webhook-signature": "v1,AAAA"}),
        "unknown connection": post(body, signed("m6", body), to=url.rsplit("/", 1)[0] + "/nobody"),
        "connection id with a newline": post(body, signed("m7", body), to=url + "%0a"),
    }
    for units in ("1e999", "NaN", "9" * 4000):
        units_body = task_body(f"hostile-units-{len(units)}", final_unit_deduction=units)
        answers[f"signed units {units[:8]}"] = post(units_body, signed(f"m-units-{len(units)}", units_body))
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port)) as sock:  # gone mid-body
        sock.sendall(f"POST {address.path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{{".encode())
    answers["client gone mid-body"] = "no answer to read"
    started, codes = time.perf_counter(), Counter()
    with httpx.Client(timeout=60) as http:
        for _ in range(flood):
            codes[http.post(url.rsplit("/", 1)[0] + f"/{uuid.uuid4().hex}", content=body).status_code] += 1
    answers[f"{flood} random connection ids"] = {
        "answers": dict(codes),
        "per_second": round(flood / (time.perf_counter() - started)),
    }
    time.sleep(1)  # the disconnected request's log line
    return answers


def cpu_seconds(root: int) -> float:
    """CPU seconds of ``root``'s process tree: each live process's own and its reaped children's."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(value) for value in stats[pid][11:15])  # utime stime cutime cstime
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def throughput(url: str, callbacks: int, clients: int, label: str, pids: dict[str, int]) -> dict[str, Any]:
    async def run() -> tuple[list[float], Counter[Any], float]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(callbacks):
            queue.put_nowait(n)
        times: list[float] = []
        codes: Counter[Any] = Counter()

        async def client() -> None:
            async with httpx.AsyncClient(timeout=120) as http:
                while not queue.empty():
                    n = queue.get_nowait()
                    payload = task_body(f"{label}-{n}")
                    headers = signed(f"msg_{label}_{n}", payload)
                    started = time.perf_counter()
                    try:
                        codes[(await http.post(url, content=payload, headers=headers)).status_code] += 1
                    except httpx.HTTPError as exc:
                        codes[type(exc).__name__] += 1
                    times.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return times, codes, time.perf_counter() - started

    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    times, codes, wall = asyncio.run(run())
    cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
    times.sort()
    return {
        "cpu ms per callback": {name: round(seconds * 1000 / callbacks, 2) for name, seconds in cpu.items()},
        "per_second": round(callbacks / wall, 1),
        "p50_ms": round(times[len(times) // 2]),
        "p99_ms": round(times[int(len(times) * 0.99) - 1]),
        "answers": dict(codes),
        "load average": round(os.getloadavg()[0], 1),
    }


def statements(url: str, callbacks: int, pg_port: int, data: Path) -> dict[str, Any]:
    """What the api-server sends PostgreSQL per terminal callback (``log_statement=all`` meanwhile)."""
    import psycopg2

    admin = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="airflow")
    admin.autocommit = True

    def configure(*settings: str) -> None:
        with admin.cursor() as cursor:
            for setting in settings:
                cursor.execute(setting)
            cursor.execute("SELECT pg_reload_conf()")
        time.sleep(1)  # every backend reloads its configuration

    def count(label: str) -> dict[str, Any]:
        """The statements of ``callbacks`` callbacks, one at a time: new tasks, or the same again."""
        log = data / "log"
        configure("ALTER SYSTEM SET log_statement = 'all'", "ALTER SYSTEM SET log_line_prefix = '%u '")
        start = log.stat().st_size
        with httpx.Client(timeout=60) as http:
            for n in range(callbacks):
                payload = task_body(f"statements-{n}")
                headers = signed(f"msg_statements_{label}_{n}", payload)
                http.post(url, content=payload, headers=headers).raise_for_status()
        time.sleep(0.5)
        with log.open("rb") as file:
            file.seek(start)
            lines = file.read().decode(errors="replace").splitlines()
        configure("ALTER SYSTEM RESET log_statement", "ALTER SYSTEM RESET log_line_prefix")
        kinds: Counter[str] = Counter()
        for number, line in enumerate(lines):
            user, _, rest = line.partition(" ")
            if user == "airflow" and "statement: " in rest:  # the statement may start on the next line
                words = (
                    f"{rest.split('statement: ', 1)[1]} {' '.join(lines[number + 1 : number + 3])}".split()
                )
                table = words[words.index("FROM") + 1] if "FROM" in words else ""  # SELECT's first table
                kinds[" ".join(words[:3] if words[0] in ("INSERT", "DELETE") else [*words[:1], table])] += 1
        errors = sum("ERROR:" in line for line in lines)
        return {
            "statements per callback": round(sum(kinds.values()) / callbacks, 2),
            "errors in PostgreSQL's log per callback": round(errors / callbacks, 2),
            "by kind": {kind.strip(): round(count / callbacks, 2) for kind, count in kinds.most_common()},
        }

    figures = {"new task": count("new"), "the same task again (another webhook id)": count("again")}
    admin.close()
    return figures


def child(args: argparse.Namespace) -> None:
    url = f"{args.api_url}/kling/callbacks/kling_default"
    activate_assets()
    parts, figures = args.parts.split(","), {}
    if "concurrency" in parts:
        figures["concurrency"] = concurrency(url, args.trials, args.senders)
    if "replay" in parts:
        figures["replay"] = replay(url)
    if "hostile" in parts:
        figures["hostile"] = hostile(url, args.flood)
    pids = dict(zip(("api-server", "postgresql"), map(int, args.pids.split(",")), strict=True))
    if "statements" in parts or "throughput" in parts:  # apps built, connections open
        throughput(url, 2 * args.clients, args.clients, "warm-up", pids)
    if "statements" in parts:
        sample = max(args.callbacks // 20, 1)
        figures["statements"] = statements(url, sample, args.pg_port, Path(args.pg_data))
    if "throughput" in parts:
        figures["throughput fresh"] = throughput(url, args.callbacks, args.clients, "fresh", pids)
        add_recent_events(args.recent)
        figures[f"throughput after {args.recent} recent"] = throughput(
            url, args.callbacks, args.clients, "busy", pids
        )
    print(json.dumps(figures))


def run_on(source: Path, label: str, args: argparse.Namespace) -> dict[str, Any]:
    state = BUILD / f"deployment-{label}"
    shutil.rmtree(state, ignore_errors=True)  # a fresh database and log
    env = {"AIRFLOW_CONN_KLING_DEFAULT": CONNECTION}
    ports = {"pg_port": args.pg_port, "api_port": args.api_port}
    with Deployment(state, source=source, env=env, **ports) as deployment:
        postmaster = int((deployment.data / "postmaster.pid").read_text().split()[0])
        options = {"--api-url": deployment.api_url, "--parts": args.parts, "--trials": args.trials,
                   "--senders": args.senders, "--recent": args.recent, "--callbacks": args.callbacks,
                   "--clients": args.clients, "--flood": args.flood, "--pg-port": args.pg_port,
                   "--pg-data": deployment.data,
                   "--pids": f"{deployment.processes['api-server'].pid},{postmaster}"}  # fmt: skip
        command = [sys.executable, __file__, "--child", *(str(x) for pair in options.items() for x in pair)]
        done = subprocess.run(command, env=deployment.env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"the benchmark's client failed:\n{done.stderr[-3000:]}")
        log = (deployment.logs / "api-server.log").read_text(errors="replace")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["tracebacks in the api-server log"] = log.count("Traceback")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--callbacks", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--recent", type=int, default=10000)
    parser.add_argument("--parts", default="concurrency,replay,hostile,statements,throughput")
    parser.add_argument("--flood", type=int, default=2000, help="random connection ids in the hostile part")
    parser.add_argument("--before", help="also run on this commit's provider (e.g. 000d1a2)")
    parser.add_argument("--pg-port", type=int, default=PG_PORT)
    parser.add_argument("--api-port", type=int, default=API_PORT)
    parser.add_argument("--json", action="store_true", help="one JSON line of every figure")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--pg-data", help=argparse.SUPPRESS)
    parser.add_argument("--pids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    results = {"current": run_on(ROOT, "current", args)}
    if args.before:
        before = BUILD / f"before-{args.before}"
        if not before.exists():
            before.mkdir(parents=True)
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True
            )
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        results[args.before] = run_on(before, "before", args)
    if args.json:
        print(json.dumps(results))
        return
    for label, figures in results.items():
        print(f"== {label}")
        for part, value in figures.items():
            print(f"  {part}: {json.dumps(value)}")


if __name__ == "__main__":
    main()
