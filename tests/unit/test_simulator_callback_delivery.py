"""The simulator delivers its signed callbacks to the real receiver on loopback: retries, duplicates,
out-of-order delivery, bad signatures and a rotated secret, each with nothing recorded twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_kling.callbacks.receiver import create_receiver_app
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.callback_helpers import OLD_SECRET, SECRET, Connections, Recorder, serve


class Receiver:
    """The receiver app on a loopback port, with what arrived in order (status, task status) and a
    switch that answers 503 to the next k posts before the app sees them."""

    def __init__(self, secret: str = SECRET) -> None:
        self.connections = Connections(kling_default={"webhook_secret": secret})
        self.recorder = Recorder()
        self.app = create_receiver_app(connections=self.connections, recorder=self.recorder)
        self.arrivals: list[tuple[int, str]] = []
        self.unavailable_next = 0
        self.url = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.unavailable_next > 0:
            self.unavailable_next -= 1
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return None
        status = {"value": 0}
        body = bytearray()

        async def recording_receive() -> Any:
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["value"] = message["status"]
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        self.arrivals.append((status["value"], json.loads(body)["task_status"]))
        return None

    @property
    def counters(self) -> Any:
        return self.app.state.kling_callbacks


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve(receiver) as base_url:
        receiver.url = f"{base_url}/callbacks/kling_default"
        yield receiver


@pytest.fixture
def simulator() -> Iterator[KlingSimulator]:
    with KlingSimulator(latency=0.3, webhook_secret=SECRET) as simulator:
        simulator.app.state.callbacks.configure(backoff=0.05)
        yield simulator


def create(simulator: KlingSimulator, callback_url: str, prompt: str = "a bridge in fog") -> str:
    answer = httpx.post(
        f"{simulator.base_url}/v1/images/generations",
        json={"model_name": "kling-v1", "prompt": prompt, "n": 1, "callback_url": callback_url},
        headers={"Authorization": f"Bearer {simulator.api_key}"},
    )
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["data"]["task_id"]
    return task_id


def wait_until(check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def delivery(simulator: KlingSimulator) -> dict[str, Any]:
    described: dict[str, Any] = simulator.app.state.callbacks.describe()
    return described


def test_every_task_is_recorded_once_and_its_progress_counted(
    simulator: KlingSimulator, receiver: Receiver
) -> None:
    task_ids = [create(simulator, receiver.url, f"bridge {n}") for n in range(3)]

    wait_until(lambda: len(receiver.recorder.events) == 3 and receiver.counters["progress"] == 6)

    assert sorted(receiver.recorder.task_ids()) == sorted(task_ids)
    assert all(status == 200 for status, _ in receiver.arrivals)


def test_a_receiver_that_is_down_gets_the_message_again_under_the_same_id(
    simulator: KlingSimulator, receiver: Receiver
) -> None:
    receiver.unavailable_next = 4  # the first message fails 4 times, then gets through
    create(simulator, receiver.url)

    wait_until(lambda: len(receiver.recorder.events) == 1 and receiver.counters["progress"] == 2)
    wait_until(lambda: delivery(simulator)["stats"].get("delivered") == 3)  # counted once answered

    assert delivery(simulator)["stats"]["retries"] == 4
    assert delivery(simulator)["stats"]["delivered"] == 3


def test_a_duplicate_delivery_is_answered_200_and_recorded_once(
    simulator: KlingSimulator, receiver: Receiver
) -> None:
    simulator.app.state.callbacks.configure(duplicate_next=3)  # every message of the task twice
    create(simulator, receiver.url)

    wait_until(lambda: receiver.counters["duplicate"] == 3)

    assert len(receiver.recorder.events) == 1
    assert [status for status, _ in receiver.arrivals] == [200] * 6
    assert receiver.counters["progress"] == 2


def test_a_task_resent_under_new_webhook_ids_is_recorded_once(
    simulator: KlingSimulator, receiver: Receiver
) -> None:
    simulator.app.state.callbacks.configure(resend_next=3)  # every message again, under a new id
    create(simulator, receiver.url)

    wait_until(lambda: delivery(simulator)["stats"].get("resent") == 3 and len(receiver.arrivals) == 6)

    assert len(receiver.recorder.events) == 1
    assert receiver.counters["duplicate"] == 1  # the terminal one; progress callbacks are only counted
    assert receiver.counters["progress"] == 4


def test_a_terminal_callback_before_the_processing_one_is_recorded_and_the_late_one_only_counted(
    simulator: KlingSimulator, receiver: Receiver
) -> None:
    simulator.app.state.callbacks.configure(out_of_order_next=1)
    create(simulator, receiver.url)

    wait_until(lambda: len(receiver.arrivals) == 3)

    assert [task_status for _, task_status in receiver.arrivals] == ["submitted", "succeed", "processing"]
    assert len(receiver.recorder.events) == 1
    assert receiver.counters["progress"] == 2


def test_a_badly_signed_attempt_is_refused_and_the_retry_recorded(
    simulator: KlingSimulator, receiver: Receiver
) -> None:
    create(simulator, receiver.url, "a bridge #fail")  # ends failed: a terminal callback too
    simulator.app.state.callbacks.configure(bad_signature_next=1)

    wait_until(lambda: len(receiver.recorder.events) == 1 and receiver.counters["progress"] == 2)

    assert receiver.counters["bad_signature"] == 1
    assert 401 in [status for status, _ in receiver.arrivals]
    assert receiver.recorder.events[0][1]["status"] == "failed"


def test_a_standard_rotation_signs_with_both_secrets_and_an_emergency_one_with_the_new_only(
    simulator: KlingSimulator,
) -> None:
    sender = simulator.app.state.callbacks
    new_secret = sender.rotate_secret(mode="standard")
    # The receiver already knows only the new secret: the message's second signature matches.
    receiver = Receiver(secret=new_secret)
    with serve(receiver) as base_url:
        create(simulator, f"{base_url}/callbacks/kling_default")
        wait_until(lambda: len(receiver.recorder.events) == 1)

        sender.rotate_secret(mode="emergency")  # the receiver was not told: every attempt is refused
        sender.configure(max_attempts=2)
        create(simulator, f"{base_url}/callbacks/kling_default", "second")
        wait_until(lambda: delivery(simulator)["stats"].get("given_up", 0) == 3)

    assert len(receiver.recorder.events) == 1
    assert receiver.counters["bad_signature"] == 6


def test_the_control_route_sets_faults_and_rotates_without_showing_old_secrets(
    simulator: KlingSimulator,
) -> None:
    answer = httpx.post(
        f"{simulator.root_url}/_sim/callbacks",
        json={"duplicate_next": 2, "rotate_secret": {"secret": OLD_SECRET, "mode": "standard"}},
    ).json()

    assert answer["controls"]["duplicate_next"] == 2
    assert answer["signing_secrets"] == 2
    assert answer["secret"] == OLD_SECRET
    assert SECRET not in httpx.get(f"{simulator.root_url}/_sim/callbacks").text
    bad = httpx.post(f"{simulator.root_url}/_sim/callbacks", json={"max_attempts": 0})
    assert bad.status_code == 400
    simulator.reset()
    assert delivery(simulator)["controls"]["duplicate_next"] == 0
    assert delivery(simulator)["signing_secrets"] == 1
