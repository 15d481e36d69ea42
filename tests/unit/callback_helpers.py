"""Fakes for the callback receiver's tests: connections, a recorder, a signer, a loopback server."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn

from airflow_provider_kling.callbacks.receiver import CallbackConnection
from airflow_provider_kling.callbacks.recorder import Outcome, callback_key
from airflow_provider_kling.callbacks.signature import parse_secrets, signature

SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-of-32-bytes").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the-old-secret-before-rotation!!").decode()


class Connections:
    """``conn_id -> extras``; the webhook secrets come from the extras as in Airflow."""

    def __init__(self, **connections: Mapping[str, Any]) -> None:
        self.connections = dict(connections)
        self.lookups = 0

    def __call__(self, conn_id: str) -> CallbackConnection | None:
        self.lookups += 1
        extras = self.connections.get(conn_id)
        if extras is None:
            return None
        keys = tuple(secret.key for secret in parse_secrets(extras.get("webhook_secret")))
        return CallbackConnection(conn_id=conn_id, keys=keys, extras=extras)


class Recorder:
    """Records events in memory, one per the real recorder's key (on any asset); ``assets`` are
    the declared ones."""

    def __init__(self, *assets: str) -> None:
        self.assets = set(assets) or {"kling://kling_default/tasks"}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome:
        with self.lock:
            if asset_uri not in self.assets:
                return Outcome.NO_ASSET
            if any(callback_key(seen) == callback_key(extra) for _, seen in self.events):
                return Outcome.DUPLICATE
            self.events.append((asset_uri, dict(extra)))
            return Outcome.RECORDED

    def task_ids(self) -> list[str]:
        with self.lock:
            return [extra["kling_task_id"] for _, extra in self.events]


def signed_headers(
    body: bytes, *secrets: str, webhook_id: str = "msg_1", timestamp: int | None = None
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    keys = [secret.key for secret in parse_secrets(list(secrets or (SECRET,)))]
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join("v1," + signature(key, webhook_id, timestamp, body) for key in keys),
    }


def task_body(task_id: str = "860000000000000001", status: str = "succeed", **fields: Any) -> bytes:
    task: dict[str, Any] = {"task_id": task_id, "task_status": status, "task_info": {}, "task_result": {}}
    if status == "succeed":
        task["task_result"] = {"images": [{"index": 0, "url": f"https://cdn.example/{task_id}/0.png"}]}
        task["final_unit_deduction"] = "1"
    task.update(fields)
    return json.dumps(task).encode()


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
