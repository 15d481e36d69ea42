"""KlingHook, async side (the trigger's path) against the simulator on a real loopback port.

Retry waits go through the fake clock each hook is given, which records them, so nothing
sleeps for real. The simulator's ``requests`` counter counts authenticated requests only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import structlog

from airflow_provider_kling.errors import KlingAuthError, KlingNotFoundError, KlingServerError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.policy import FailurePolicy
from airflow_provider_kling.models.task import TaskStatus
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.fakes import FakeClock

ACCESS_KEY = "ak-async-access-key"
SECRET_KEY = "sec-async-secret-key-0123456789abcdef"
JWT_CONN_ID = "kling_jwt"


@pytest.fixture
def clock() -> FakeClock:
    """The hooks' clock: async retry waits recorded instead of slept."""
    return FakeClock()


@pytest.fixture
def waits(clock: FakeClock) -> list[float]:
    return clock.waits


@pytest.fixture(scope="module")
def jwt_simulator() -> Iterator[KlingSimulator]:
    """A simulator that also accepts JWTs signed with ACCESS_KEY / SECRET_KEY."""
    with KlingSimulator(jwt_keys={ACCESS_KEY: SECRET_KEY}) as simulator:
        yield simulator


@pytest.fixture
def jwt_connection(jwt_simulator: KlingSimulator, monkeypatch: pytest.MonkeyPatch) -> KlingSimulator:
    jwt_simulator.reset()
    conn = {"conn_type": "kling", "host": jwt_simulator.base_url, "login": ACCESS_KEY, "password": SECRET_KEY}
    monkeypatch.setenv(f"AIRFLOW_CONN_{JWT_CONN_ID.upper()}", json.dumps(conn))
    return jwt_simulator


def set_connection(monkeypatch: pytest.MonkeyPatch, simulator: KlingSimulator, **changes: Any) -> None:
    conn = {**json.loads(simulator.airflow_conn_json()), **changes}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))


def create_task(**fields: Any) -> str:
    request = {"model_name": "kling-v1", "prompt": "a lighthouse in fog", "n": 1, **fields}
    return KlingHook(clock=FakeClock()).create_task(**request).task_id


async def test_aget_task_reads_a_task_by_its_id(kling_connection, clock):
    task_id = create_task()
    hook = KlingHook(clock=clock)

    try:
        task = await hook.aget_task(task_id)
    finally:
        await hook.aclose()

    assert task.task_id == task_id
    assert task.task_status == TaskStatus.SUCCEED
    assert task.images[0].url
    assert kling_connection.counters(kling_connection.api_key)["queries"] == 1


async def test_aget_task_reads_a_task_by_its_external_id(kling_connection, clock):
    task_id = create_task(external_task_id="nightly:2024-08-04")
    hook = KlingHook(clock=clock)

    try:
        task = await hook.aget_task("nightly:2024-08-04")
    finally:
        await hook.aclose()

    assert (task.task_id, task.external_task_id) == (task_id, "nightly:2024-08-04")


async def test_aget_task_of_an_unknown_task_is_not_found(kling_connection, waits, clock):
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingNotFoundError) as raised:
        await hook.aget_task("no-such-task")
    await hook.aclose()

    assert raised.value.task_id == "no-such-task"
    assert waits == []


@pytest.mark.parametrize("status", [500, 503, 504])
async def test_aget_retries_a_5xx_then_returns_the_task(kling_connection, waits, status, clock):
    task_id = create_task()
    kling_connection.fail_next(2, status=status)
    hook = KlingHook(clock=clock)

    try:
        task = await hook.aget_task(task_id)
    finally:
        await hook.aclose()

    assert task.task_id == task_id
    assert len(waits) == 2
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["faults"], counters["queries"]) == (2, 1)


async def test_aget_gives_up_after_max_retries_of_5xx(kling_simulator, monkeypatch, waits, clock):
    set_connection(monkeypatch, kling_simulator, extra={"max_retries": 2})
    kling_simulator.fail_next(10, status=500)
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingServerError) as raised:
        await hook.aget_task("867283741759111202")
    await hook.aclose()

    assert (raised.value.http_status, raised.value.code) == (500, 5000)
    assert kling_simulator.counters(kling_simulator.api_key)["requests"] == 3
    assert len(waits) == 2


async def test_aget_honours_retry_after(kling_connection, waits, clock):
    task_id = create_task()
    kling_connection.rate_limit_next(1, retry_after=6)
    hook = KlingHook(clock=clock)

    try:
        await hook.aget_task(task_id)
    finally:
        await hook.aclose()

    assert waits == [6.0]


async def test_aget_retries_a_malformed_answer(kling_connection, waits, clock):
    task_id = create_task()
    kling_connection.malformed_next(1)
    hook = KlingHook(clock=clock)

    try:
        task = await hook.aget_task(task_id)
    finally:
        await hook.aclose()

    assert task.task_id == task_id
    assert len(waits) == 1


async def test_aget_with_a_wrong_key_fails_at_once(kling_simulator, monkeypatch, waits, clock):
    set_connection(monkeypatch, kling_simulator, password="not-the-right-key")
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingAuthError) as raised:
        await hook.aget_task("867283741759111202")
    await hook.aclose()

    assert (raised.value.http_status, raised.value.code) == (401, 1002)
    assert waits == []


async def test_aclose_lets_the_hook_open_a_new_client(kling_connection, clock):
    task_id = create_task()
    hook = KlingHook(clock=clock)

    await hook.aget_task(task_id)
    await hook.aclose()
    task = await hook.aget_task(task_id)
    await hook.aclose()

    assert task.task_id == task_id
    assert kling_connection.counters(kling_connection.api_key)["queries"] == 2


# -- JWT ------------------------------------------------------------------------------------------


async def test_aget_authenticates_with_a_jwt_from_access_and_secret_key(jwt_connection, clock):
    creator = KlingHook(JWT_CONN_ID, clock=clock)
    task_id = creator.create_task(model_name="kling-v1", prompt="a fox", n=1).task_id
    hook = KlingHook(JWT_CONN_ID, clock=clock)

    try:
        task = await hook.aget_task(task_id)
    finally:
        await hook.aclose()

    assert task.task_id == task_id
    assert jwt_connection.counters(ACCESS_KEY)["queries"] == 1


async def test_aget_signs_a_new_jwt_once_when_kling_says_not_yet_valid(jwt_connection, waits, clock):
    hook = KlingHook(JWT_CONN_ID, clock=clock)
    await hook.aget_settings()
    assert hook._jwt is not None
    # A token signed by a clock two minutes fast: Kling answers 401/1003 until it is re-signed.
    early = hook._jwt.get(now=time.time() + 120)
    assert hook._jwt.get() == early

    with pytest.raises(KlingNotFoundError):
        await hook.aget_task("no-such-task")
    await hook.aclose()

    renewed = hook._jwt.get()
    assert renewed != early
    assert jwt.decode(renewed, SECRET_KEY, algorithms=["HS256"])["iss"] == ACCESS_KEY
    assert jwt_connection.counters(ACCESS_KEY)["requests"] == 1
    assert waits == []


async def test_aget_with_a_wrong_secret_key_fails_without_renewal(jwt_simulator, monkeypatch, waits, clock):
    jwt_simulator.reset()
    conn = {
        "conn_type": "kling",
        "host": jwt_simulator.base_url,
        "login": ACCESS_KEY,
        "password": "wrong-secret-key-of-a-decent-length-000",
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{JWT_CONN_ID.upper()}", json.dumps(conn))
    hook = KlingHook(JWT_CONN_ID, clock=clock)
    await hook.aget_settings()
    assert hook._jwt is not None
    token = hook._jwt.get()

    with pytest.raises(KlingAuthError) as raised:
        await hook.aget_task("867283741759111202")
    await hook.aclose()

    assert raised.value.code == 1002
    assert hook._jwt.get() == token, "a refused signature is not a reason to sign again"
    assert waits == []


# -- secrecy --------------------------------------------------------------------------------------


async def test_async_path_logs_no_key_even_at_debug(kling_connection, caplog, clock):
    caplog.set_level(logging.DEBUG)
    task_id = create_task()
    kling_connection.fail_next(1, status=503)
    hook = KlingHook(clock=clock)

    with structlog.testing.capture_logs() as events:
        await hook.aget_task(task_id)
        with pytest.raises(KlingNotFoundError) as raised:
            await hook.aget_task("no-such-task")
    await hook.aclose()

    texts = [str(raised.value), *map(repr, events), *(record.getMessage() for record in caplog.records)]
    assert any(record.name.startswith(("httpx", "httpcore")) for record in caplog.records)
    assert any("retry 1 of 5" in str(event["event"]) for event in events)
    assert not [text for text in texts if kling_connection.api_key in text]


async def test_alist_tasks_reads_a_page_newest_first(kling_connection, clock):
    older, newer = create_task(), create_task()
    hook = KlingHook(clock=clock)

    try:
        tasks = await hook.alist_tasks(page_num=1, page_size=10)
    finally:
        await hook.aclose()

    assert [task.task_id for task in tasks] == [newer, older]
    assert kling_connection.counters(kling_connection.api_key)["lists"] == 1


# -- creates: the same rules as the sync path, on the shared async client ----------------------------


def short_read_timeout(monkeypatch: pytest.MonkeyPatch, simulator: KlingSimulator, **extra: Any) -> None:
    """A connection whose read timeout ends before a held create answer comes."""
    set_connection(monkeypatch, simulator, extra={"read_timeout": 0.5, **extra})


@pytest.mark.parametrize("mode", ["hold", "reset"])
async def test_acreate_whose_answer_is_lost_returns_the_one_task_kling_made(
    kling_simulator, monkeypatch, clock, mode
):
    short_read_timeout(monkeypatch, kling_simulator)
    kling_simulator.lose_next_create_answers(1, mode=mode, hold_seconds=2.0)
    hook = KlingHook(clock=clock)

    try:
        task = await hook.acreate_task(model_name="kling-v1", prompt="a lighthouse in fog", n=1)
    finally:
        await hook.aclose()

    [made] = kling_simulator.tasks(kling_simulator.api_key)
    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 1
    assert task.task_id == made["task_id"]
    assert clock.waits == [], "found by its external task id, not sent again"


async def test_acreate_that_could_not_connect_is_resent_and_says_nothing_was_sent(monkeypatch, clock):
    import socket

    from airflow_provider_kling.errors import KlingConnectError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = {"conn_type": "kling", "host": f"http://127.0.0.1:{port}/kling", "password": "k" * 12}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps({**conn, "extra": {"max_retries": 2}}))
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingConnectError, match="nothing was sent"):
        await hook.acreate_task(model_name="kling-v1", prompt="a lighthouse in fog", n=1)
    await hook.aclose()

    assert len(clock.waits) == 2, "resent (nothing had reached Kling) until the retries ran out"


async def test_acreate_refused_for_maintenance_is_resent_and_makes_one_task(kling_connection, clock):
    kling_connection.fail_next(1, status=503)  # 5001: refused before processing
    hook = KlingHook(clock=clock)

    try:
        task = await hook.acreate_task(model_name="kling-v1", prompt="a lighthouse in fog", n=1)
    finally:
        await hook.aclose()

    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert task.task_id == kling_connection.tasks(kling_connection.api_key)[0]["task_id"]
    assert len(clock.waits) == 1


async def test_acreate_lost_at_a_host_that_ignores_external_ids_is_not_resent(
    kling_simulator, monkeypatch, clock
):
    from airflow_provider_kling.errors import KlingCreateOutcomeUnknownError

    short_read_timeout(monkeypatch, kling_simulator, external_task_id_support="no")
    kling_simulator.set_ignore_external_task_id(True)
    kling_simulator.lose_next_create_answers(1, mode="reset")
    hook = KlingHook(clock=clock)

    with pytest.raises(KlingCreateOutcomeUnknownError) as raised:
        await hook.acreate_task(model_name="kling-v1", prompt="a lighthouse in fog", n=1)
    await hook.aclose()

    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 1
    assert raised.value.airflow_retryable is False
    assert clock.waits == []


async def test_acreate_learns_that_a_host_ignores_external_ids_as_the_sync_path_does(kling_connection, clock):
    from airflow_provider_kling.hooks.create import ids_honoured

    kling_connection.set_ignore_external_task_id(True)
    hook = KlingHook(clock=clock)

    try:
        await hook.acreate_task(model_name="kling-v1", prompt="a lighthouse in fog", n=1)
    finally:
        await hook.aclose()

    assert ids_honoured(hook) is False


async def test_afind_task_by_external_id_finds_the_task_or_none(kling_connection, clock):
    task_id = create_task(external_task_id="nightly:2024-08-05")
    hook = KlingHook(clock=clock)

    try:
        found = await hook.afind_task_by_external_id("nightly:2024-08-05")
        missing = await hook.afind_task_by_external_id("nightly:1999-01-01")
    finally:
        await hook.aclose()

    assert found is not None and found.task_id == task_id
    assert missing is None


# -- the clock --------------------------------------------------------------------------------------


async def test_batch_loop_keeps_time_and_sleeps_on_the_hooks_clock(kling_connection):
    from airflow_provider_kling.batch.admission import SUCCEEDED, BatchAdmission, ItemProgress
    from airflow_provider_kling.batch.runner import BatchRunner
    from airflow_provider_kling.models.requests.generations import ImageGenerationRequest

    kling_connection.set_latency(0.3)
    clock = FakeClock(now=50.0, wall=1_700_000_000.0)
    hook = KlingHook(clock=clock)
    request = ImageGenerationRequest.build(model_name="kling-v1", prompt="kite", n=1, external_task_id="k-1")
    item = ItemProgress(key="k", n=1, external_task_id="k-1")
    admission = BatchAdmission([item], slots=1, poll_interval=60)
    # Fake hours pass in the real fraction of a second the task takes: the deadline is far off.
    deadline = clock.time() + 10**9
    log = hook.log
    runner = BatchRunner(
        hook, admission, {"k": request}, deadline=deadline, policy=FailurePolicy(max_regenerations=0), log=log
    )

    started = time.monotonic()
    await runner.run()

    assert item.status == SUCCEEDED
    assert item.admitted_at == 1_700_000_000.0  # the fake wall clock
    assert sum(clock.waits) >= 60, "it waited out a poll interval (in progress-line steps) on the fake clock"
    assert time.monotonic() - started < 10, "minutes of poll intervals passed on the fake clock only"
