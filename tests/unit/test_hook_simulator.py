"""KlingHook, sync side, end to end against the simulator on a real loopback port.

Retry waits are recorded instead of slept (a fake clock); polling sleeps for real, in steps of
0.05 s, for the fraction of a second a simulated task takes.
"""

from __future__ import annotations

import io
import json
import logging
import struct

import pytest
import structlog

from airflow_provider_kling.errors import KlingAuthError, KlingRateLimitError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models import TaskStatus
from tests.unit.fakes import FakeClock

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUEST = {"model_name": "kling-v2-1", "prompt": "a tram crossing a bridge at dusk", "n": 2}


@pytest.fixture
def clock() -> FakeClock:
    """The hooks' clock: retry waits recorded instead of slept."""
    return FakeClock()


@pytest.fixture
def waits(clock: FakeClock) -> list[float]:
    return clock.waits


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_create_get_wait_and_download_real_pngs(kling_connection):
    kling_connection.set_latency(0.2)
    hook = KlingHook()

    created = hook.create_task(**REQUEST, aspect_ratio="1:1", external_task_id="e2e-1")
    assert created.task_status == TaskStatus.SUBMITTED
    assert hook.get_task(created.task_id).task_status in (TaskStatus.SUBMITTED, TaskStatus.PROCESSING)
    task = hook.wait_for_task(created.task_id, poll_interval=0.05, timeout=300)
    images = []
    for image in task.images:
        destination = io.BytesIO()
        written = hook.download_image(str(image.url), destination)
        assert written == len(destination.getvalue())
        images.append(destination.getvalue())

    assert task.task_status == TaskStatus.SUCCEED
    assert [image.index for image in task.images] == [0, 1]
    assert [png_size(image) for image in images] == [(256, 256), (256, 256)]
    assert images[0] != images[1]
    assert hook.get_task("e2e-1").task_id == created.task_id
    assert [listed.task_id for listed in hook.list_tasks(page_size=10)] == [created.task_id]
    assert kling_connection.counters(kling_connection.api_key)["images"] == 2


def test_create_with_a_known_external_id_returns_the_first_task(kling_connection, clock):
    hook = KlingHook(clock=clock)
    first = hook.create_task(**REQUEST, external_task_id="only-once")

    again = hook.create_task(**REQUEST, external_task_id="only-once")

    assert again.task_id == first.task_id
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_429_1303_twice_then_success_creates_after_two_retries(kling_connection, waits, clock):
    kling_connection.rate_limit_next(2)

    task = KlingHook(clock=clock).create_task(**REQUEST)

    assert task.task_status == TaskStatus.SUBMITTED
    assert len(waits) == 2
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["requests"], counters["faults"], counters["creates"]) == (3, 2, 1)


def test_concurrency_limit_is_retried_until_the_retries_run_out(kling_connection, waits, clock):
    kling_connection.set_latency(3600)
    kling_connection.set_slots(2)
    hook = KlingHook(max_retries=2, clock=clock)
    hook.create_task(**REQUEST)  # n=2: holds both slots for an hour

    with pytest.raises(KlingRateLimitError) as raised:
        hook.create_task(**{**REQUEST, "n": 1})

    assert raised.value.code == 1303
    assert len(waits) == 2
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["requests"], counters["creates"]) == (4, 1)


def test_wrong_key_fails_at_once_and_test_connection_says_so(kling_simulator, monkeypatch, waits, clock):
    conn = {**json.loads(kling_simulator.airflow_conn_json()), "password": "sk-not-the-right-key"}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingAuthError) as raised:
        hook.list_tasks()
    ok, message = hook.test_connection()

    assert raised.value.code == 1002
    assert ok is False
    assert "rejected the credentials" in message
    assert waits == []


def test_test_connection_succeeds_against_the_simulator(kling_connection, clock):
    ok, message = KlingHook(clock=clock).test_connection()

    assert ok is True
    assert kling_connection.base_url in message
    assert kling_connection.counters(kling_connection.api_key)["lists"] == 1


def test_no_key_in_any_log_record_over_real_http(kling_connection, caplog, clock):
    caplog.set_level(logging.DEBUG)
    kling_connection.fail_next(1, status=503)
    hook = KlingHook(clock=clock)
    texts: list[str] = []

    with structlog.testing.capture_logs() as events:
        task = hook.create_task(**REQUEST)
        task = hook.wait_for_task(task.task_id, poll_interval=0.05, timeout=300)
        hook.download_image(str(task.images[0].url), io.BytesIO())
        hook.test_connection()
    texts += [repr(event) for event in events]
    texts += [f"{record.getMessage()} {record.args!r}" for record in caplog.records]

    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert any("retry 1 of 5" in str(event["event"]) for event in events)
    assert not [text for text in texts if kling_connection.api_key in text]
