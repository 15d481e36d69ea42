"""Task progress a test controls: immediate, timed, or manual (advanced on the handle or a route)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator
from airflow_provider_kling.testing.tasks import GENERATION_ERROR_MESSAGE

BODY = {"model_name": "kling-v1", "prompt": "a windmill", "n": 2}


@pytest.fixture
def client(kling_simulator: KlingSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": "Bearer test-key"}
    with httpx.Client(base_url=kling_simulator.base_url, headers=headers, timeout=10) as http:
        yield http


def _create(client: httpx.Client, **fields: Any) -> str:
    response = client.post("/v1/images/generations", json={**BODY, **fields})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["task_status"] == "submitted"
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def _status(client: httpx.Client, task_id: str) -> str:
    status: str = client.get(f"/v1/images/generations/{task_id}").json()["data"]["task_status"]
    return status


def test_immediate_tasks_have_ended_by_the_first_query_whatever_the_latency(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.configure(latency=600, progress="immediate")

    assert _status(client, _create(client)) == "succeed"


def test_manual_tasks_wait_for_advance_and_hold_their_slots(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.set_slots(2)
    kling_simulator.set_progress("manual")
    task_id = _create(client)

    assert _status(client, task_id) == "submitted"
    assert client.post("/v1/images/generations", json=BODY).json()["code"] == 1303
    assert kling_simulator.advance(task_id) == [task_id]
    assert _status(client, task_id) == "processing"
    kling_simulator.advance(task_id)
    assert _status(client, task_id) == "succeed"
    assert kling_simulator.advance(task_id) == [task_id]  # an ended task stays ended
    assert _status(client, task_id) == "succeed"
    assert client.post("/v1/images/generations", json=BODY).status_code == 200


def test_advance_to_failed_fails_for_a_reason_and_gives_the_units_back(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.set_progress("manual")
    before = kling_simulator.resource_packs()[0]["remaining_quantity"]
    task_id = _create(client)
    assert kling_simulator.resource_packs()[0]["remaining_quantity"] == before - 2

    kling_simulator.advance(task_id, to="failed")

    task = client.get(f"/v1/images/generations/{task_id}").json()["data"]
    assert (task["task_status"], task["task_status_msg"]) == ("failed", GENERATION_ERROR_MESSAGE)
    assert task["task_result"] == {}
    assert kling_simulator.resource_packs()[0]["remaining_quantity"] == before


def test_control_routes_advance_one_task_or_all_and_set_progress(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    control = f"{kling_simulator.root_url}/_sim"
    assert httpx.post(f"{control}/progress", json={"progress": "manual"}).status_code == 200
    first, second = _create(client), _create(client)

    one = httpx.post(f"{control}/tasks/{first}/advance", json={"to": "succeed"})
    everything = httpx.post(f"{control}/advance")

    assert one.json() == {"advanced": [first]}
    assert everything.json() == {"advanced": [second]}
    assert (_status(client, first), _status(client, second)) == ("succeed", "processing")
    assert httpx.post(f"{control}/tasks/123/advance").status_code == 404
    assert httpx.post(f"{control}/tasks/{second}/advance", json={"to": "processing"}).status_code == 400
    assert httpx.post(f"{control}/progress", json={"progress": "sometimes"}).status_code == 400


def test_one_task_can_switch_progress(client: httpx.Client, kling_simulator: KlingSimulator) -> None:
    kling_simulator.set_progress("manual")
    waiting, released = _create(client), _create(client)

    kling_simulator.set_progress("immediate", task_id=released)

    assert (_status(client, waiting), _status(client, released)) == ("submitted", "succeed")
    assert {t["task_id"]: t["progress"] for t in kling_simulator.tasks()} == {
        waiting: "manual",
        released: "immediate",
    }


def test_manual_tasks_send_their_callbacks_when_advanced(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        kling_simulator.set_progress("manual")
        task_id = _create(client, callback_url=f"http://127.0.0.1:{server.server_address[1]}/hook")
        _wait_for(lambda: len(received) == 1)
        kling_simulator.advance(task_id, to="succeed")
        _wait_for(lambda: len(received) == 2)
    finally:
        server.shutdown()
        server.server_close()

    assert [body["task_status"] for body in received] == ["submitted", "succeed"]
    assert len(received[1]["task_result"]["images"]) == 2


def _wait_for(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
