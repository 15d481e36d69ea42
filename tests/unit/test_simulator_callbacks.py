"""Callbacks: the bare task object on each status change, signed as a Standard Webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator

SECRET = "whsec_" + base64.b64encode(b"simulator-webhook-test-secret-32b").decode()


class Received:
    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.url = ""

    def next(self, timeout: float = 120) -> tuple[dict[str, str], bytes]:
        return self.calls.get(timeout=timeout)


@pytest.fixture
def receiver() -> Iterator[Received]:
    """A loopback HTTP server that records every POST."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.calls.put(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/kling-callback"
    yield received
    server.shutdown()
    server.server_close()


def verify(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """Standard Webhooks verification, written independently of the simulator's signer."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [sig.partition(",")[2] for sig in headers["webhook-signature"].split() if sig.startswith("v1,")]
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, sig) for sig in offered)


def _create(simulator: KlingSimulator, **fields: object) -> str:
    body = {"model_name": "kling-v1", "prompt": "a bridge in fog", "n": 1, **fields}
    response = httpx.post(
        f"{simulator.base_url}/v1/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {simulator.api_key}"},
    )
    assert response.status_code == 200
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def test_callbacks_post_the_bare_task_on_each_status_change_with_a_valid_signature(
    receiver: Received,
) -> None:
    with KlingSimulator(latency=0.2, webhook_secret=SECRET) as simulator:
        task_id = _create(simulator, callback_url=receiver.url, external_task_id="cb-1")
        calls = [receiver.next() for _ in range(3)]
        deadline = time.monotonic() + 120  # counted once the receiver has answered
        while simulator.counters("test-key")["callbacks"] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        counted = simulator.counters("test-key")["callbacks"]

    tasks = [json.loads(body) for _, body in calls]
    assert [t["task_status"] for t in tasks] == ["submitted", "processing", "succeed"]
    assert all(t["task_id"] == task_id and "code" not in t for t in tasks)
    assert tasks[0]["task_info"] == {"external_task_id": "cb-1"}
    assert len(tasks[-1]["task_result"]["images"]) == 1
    for headers, body in calls:
        assert headers["content-type"] == "application/json"
        assert verify(headers, body, SECRET)
        assert not verify(headers, body + b" ", SECRET)
    assert len({headers["webhook-id"] for headers, _ in calls}) == 3
    assert counted == 3


def test_failed_task_callback_carries_the_failure_message(
    receiver: Received, kling_simulator: KlingSimulator
) -> None:
    _create(kling_simulator, callback_url=receiver.url, prompt="forbidden #fail")

    last = json.loads([receiver.next() for _ in range(3)][-1][1])

    assert last["task_status"] == "failed"
    assert last["task_status_msg"]


def test_callbacks_are_unsigned_without_a_webhook_secret(
    receiver: Received, kling_simulator: KlingSimulator
) -> None:
    _create(kling_simulator, callback_url=receiver.url)

    headers, _ = receiver.next()

    assert "webhook-signature" not in headers


def test_unreachable_callback_url_does_not_disturb_the_task(kling_simulator: KlingSimulator) -> None:
    task_id = _create(kling_simulator, callback_url="http://127.0.0.1:9/nowhere")

    response = httpx.get(
        f"{kling_simulator.base_url}/v1/images/generations/{task_id}",
        headers={"Authorization": "Bearer test-key"},
    )

    assert response.json()["data"]["task_status"] == "succeed"


def test_a_webhook_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="webhook_secret"):
        KlingSimulator(webhook_secret="whsec_not base64!")
