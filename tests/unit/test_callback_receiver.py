"""The receiver's security and answers, against the real FastAPI app (in-process ASGI client)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.dialects import mysql, postgresql
from starlette.testclient import TestClient

from airflow_provider_kling.callbacks import URL_PREFIX
from airflow_provider_kling.callbacks.receiver import MAX_BODY_BYTES, create_receiver_app
from airflow_provider_kling.callbacks.recorder import CALLBACK_KEYS, Outcome, _insert_key
from airflow_provider_kling.callbacks.signature import TIMESTAMP_TOLERANCE
from tests.unit.callback_helpers import OLD_SECRET, SECRET, Connections, Recorder, signed_headers, task_body

URL = "/callbacks/kling_default"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder("kling://kling_default/tasks", "kling://kling_default/shop-a")


@pytest.fixture
def connections() -> Connections:
    return Connections(kling_default={"webhook_secret": SECRET}, no_secret={})


@pytest.fixture
def client(recorder: Recorder, connections: Connections) -> TestClient:
    return TestClient(create_receiver_app(connections=connections, recorder=recorder))


def counters(client: TestClient) -> Mapping[str, int]:
    return client.app.state.kling_callbacks  # type: ignore[attr-defined,no-any-return]


def post(client: TestClient, body: bytes, headers: dict[str, str], url: str = URL) -> Any:
    return client.post(url, content=body, headers=headers)


def test_a_signed_terminal_callback_records_one_asset_event(client: TestClient, recorder: Recorder) -> None:
    body = task_body("42")

    answer = post(client, body, signed_headers(body))

    assert answer.status_code == 200
    assert answer.json() == {"status": "recorded", "asset": "kling://kling_default/tasks"}
    ((asset, extra),) = recorder.events
    assert asset == "kling://kling_default/tasks"
    assert (extra["kling_task_id"], extra["status"], extra["webhook_id"]) == ("42", "succeed", "msg_1")
    assert extra["image_urls"] == ["https://cdn.example/42/0.png"]


def test_a_bad_signature_is_refused_401_and_nothing_is_recorded(
    client: TestClient, recorder: Recorder
) -> None:
    body = task_body()
    headers = signed_headers(body)
    tampered = body.replace(b"succeed", b"failed ")

    assert post(client, tampered, headers).status_code == 401
    assert post(client, body, signed_headers(body, OLD_SECRET)).status_code == 401  # another secret
    assert recorder.events == []
    assert counters(client)["bad_signature"] == 2


def test_an_unsigned_callback_is_refused_401(client: TestClient, recorder: Recorder) -> None:
    answer = post(client, task_body(), {"content-type": "application/json"})

    assert answer.status_code == 401
    assert recorder.events == []
    assert counters(client)["unsigned"] == 1


@pytest.mark.parametrize("age", [TIMESTAMP_TOLERANCE + 5, -(TIMESTAMP_TOLERANCE + 5)])
def test_a_stale_timestamp_is_refused_401_even_with_a_valid_signature(
    client: TestClient, recorder: Recorder, age: int
) -> None:
    body = task_body()

    answer = post(client, body, signed_headers(body, timestamp=int(time.time()) - age))

    assert answer.status_code == 401
    assert recorder.events == []
    assert counters(client)["stale"] == 1


def test_a_replayed_webhook_id_answers_200_and_records_nothing_again(
    client: TestClient, recorder: Recorder
) -> None:
    body = task_body("7")
    headers = signed_headers(body, webhook_id="msg_replayed")

    first, second = post(client, body, headers), post(client, body, headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert recorder.task_ids() == ["7"]


def test_the_same_task_status_under_a_new_webhook_id_is_not_recorded_twice(
    client: TestClient, recorder: Recorder
) -> None:
    body = task_body("7")

    post(client, body, signed_headers(body, webhook_id="msg_a"))
    again = post(client, body, signed_headers(body, webhook_id="msg_b"))

    assert again.json()["status"] == "duplicate"
    assert recorder.task_ids() == ["7"]


def test_an_unknown_connection_or_one_without_a_secret_is_401(client: TestClient, recorder: Recorder) -> None:
    body = task_body()

    for url in ("/callbacks/nobody", "/callbacks/no_secret", "/callbacks/bad%20id"):
        assert post(client, body, signed_headers(body), url=url).status_code == 401
    assert recorder.events == []


def test_an_oversized_body_is_refused_413_before_anything_else(
    client: TestClient, recorder: Recorder, connections: Connections
) -> None:
    body = task_body(task_status_msg="x" * MAX_BODY_BYTES)

    answer = post(client, body, signed_headers(body))

    assert answer.status_code == 413
    assert recorder.events == [] and connections.lookups == 0


def test_an_oversized_body_without_content_length_is_cut_off_at_the_cap(client: TestClient) -> None:
    chunks = [b"{" + b" " * (64 * 1024)] * 8  # streamed: no Content-Length

    answer = client.post(URL, content=iter(chunks), headers=signed_headers(b"irrelevant"))

    assert answer.status_code == 413


def test_progress_callbacks_are_counted_not_recorded(client: TestClient, recorder: Recorder) -> None:
    for number, status in enumerate(("submitted", "processing")):
        body = task_body("5", status)
        answer = post(client, body, signed_headers(body, webhook_id=f"msg_{number}"))
        assert answer.json() == {"status": "counted"}

    assert recorder.events == []
    assert counters(client)["progress"] == 2


def test_a_signed_body_that_is_not_a_task_is_400_and_may_be_resent(client: TestClient) -> None:
    body = b'{"hello": "world"}'

    assert post(client, body, signed_headers(body)).status_code == 400
    assert post(client, body, signed_headers(body)).status_code == 400  # not remembered as handled


def test_the_query_names_a_pipeline_asset_under_the_connection(
    client: TestClient, recorder: Recorder
) -> None:
    body = task_body("8")

    answer = post(client, body, signed_headers(body), url=URL + "?asset=shop-a")

    assert answer.json()["asset"] == "kling://kling_default/shop-a"
    assert recorder.events[0][0] == "kling://kling_default/shop-a"
    bad = post(client, body, signed_headers(body, webhook_id="msg_2"), url=URL + "?asset=../x")
    assert bad.status_code == 400


def test_an_asset_no_dag_declares_is_404_and_the_retry_is_handled_again(
    connections: Connections,
) -> None:
    recorder = Recorder("kling://kling_default/other")
    client = TestClient(create_receiver_app(connections=connections, recorder=recorder))
    body = task_body()
    headers = signed_headers(body)

    assert post(client, body, headers).status_code == 404
    recorder.assets.add("kling://kling_default/tasks")  # the DAG is deployed; the sender retries
    assert post(client, body, headers).json()["status"] == "recorded"


def test_a_recorder_failure_answers_500_and_the_retry_records(connections: Connections) -> None:
    class Flaky(Recorder):
        failures = 1

        def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("database is locked")
            return super().record(asset_uri, extra)

    recorder = Flaky()
    client = TestClient(
        create_receiver_app(connections=connections, recorder=recorder), raise_server_exceptions=False
    )
    body = task_body()

    assert post(client, body, signed_headers(body)).status_code == 500
    assert post(client, body, signed_headers(body)).json()["status"] == "recorded"


def test_rotation_accepts_old_and_new_secrets_listed_on_the_connection(recorder: Recorder) -> None:
    connections = Connections(kling_default={"webhook_secret": f"{SECRET}, {OLD_SECRET}"})
    client = TestClient(create_receiver_app(connections=connections, recorder=recorder))

    for number, secrets in enumerate([(OLD_SECRET,), (SECRET,), (OLD_SECRET, SECRET)]):
        body = task_body(str(number))
        assert post(client, body, signed_headers(body, *secrets, webhook_id=f"m{number}")).status_code == 200
    assert recorder.task_ids() == ["0", "1", "2"]


def test_concurrent_deliveries_of_one_webhook_record_it_once(connections: Connections) -> None:
    class Slow(Recorder):
        def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome:
            time.sleep(0.2)
            return super().record(asset_uri, extra)

    recorder = Slow()
    client = TestClient(create_receiver_app(connections=connections, recorder=recorder))
    body = task_body()
    headers = signed_headers(body)
    answers: list[int] = []

    threads = [
        threading.Thread(target=lambda: answers.append(post(client, body, headers).status_code))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert recorder.task_ids() == ["860000000000000001"]
    assert sorted(answers)[0] == 200 and set(answers) <= {200, 409}


def test_connections_are_read_once_per_cache_period(connections: Connections) -> None:
    now = [1_000_000.0]
    client = TestClient(
        create_receiver_app(connections=connections, recorder=Recorder(), clock=lambda: now[0])
    )
    for number in range(3):
        body = task_body(str(number), "processing")
        post(client, body, signed_headers(body, webhook_id=f"m{number}", timestamp=int(now[0])))

    assert connections.lookups == 1


def test_the_answer_never_shows_the_secret_or_the_body(client: TestClient) -> None:
    body = task_body()
    answer = post(client, body, signed_headers(body, OLD_SECRET))

    assert SECRET.removeprefix("whsec_") not in answer.text
    assert json.loads(answer.text) == {"detail": "not a verified Kling callback"}


def test_the_plugin_mounts_the_receiver_on_the_api_server_under_kling() -> None:
    from airflow.api_fastapi.app import init_plugins
    from fastapi import FastAPI

    api_server = FastAPI()
    init_plugins(api_server)
    client = TestClient(api_server)
    body = task_body()

    # No connection ``nobody`` exists in this Airflow: the mounted receiver answers 401 by itself.
    answer = client.post(f"{URL_PREFIX}/callbacks/nobody", content=body, headers=signed_headers(body))

    assert answer.status_code == 401
    assert answer.json() == {"detail": "not a verified Kling callback"}


def test_the_default_lookup_reads_an_airflow_connection_and_only_of_type_kling(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KLING_DEFAULT",
        json.dumps({"conn_type": "kling", "password": "api-key", "extra": {"webhook_secret": SECRET}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_HTTP_DEFAULT",
        json.dumps({"conn_type": "http", "host": "example.com", "extra": {"webhook_secret": SECRET}}),
    )
    client = TestClient(create_receiver_app(recorder=recorder))
    body = task_body()

    assert post(client, body, signed_headers(body)).json()["status"] == "recorded"
    assert post(client, body, signed_headers(body), url="/callbacks/http_default").status_code == 401


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("https://airflow.example/", "https://airflow.example")],
)
def test_the_callback_base_url_extra_is_read_and_checked(value: str | None, expected: str | None) -> None:
    from airflow_provider_kling.hooks.connection import callback_base_url_extra

    assert callback_base_url_extra({"callback_base_url": value}, "k") == expected


@pytest.mark.parametrize("value", ["airflow.example", "ftp://h", "https://h/?x=1"])
def test_a_callback_base_url_that_is_not_a_plain_http_url_is_refused(value: str) -> None:
    from airflow_provider_kling.hooks.connection import callback_base_url_extra

    with pytest.raises(ValueError, match="extra 'callback_base_url' must be"):
        callback_base_url_extra({"callback_base_url": value}, "k")


def test_a_bad_webhook_secret_extra_names_the_connection_and_is_served_as_no_secret(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KLING_BAD",
        json.dumps({"conn_type": "kling", "password": "k", "extra": {"webhook_secret": "whsec_%%%"}}),
    )
    client = TestClient(create_receiver_app(recorder=Recorder()))
    body = task_body()

    assert post(client, body, signed_headers(body), url="/callbacks/kling_bad").status_code == 401
    assert "Connection 'kling_bad': extra 'webhook_secret': secret 1 must be base64" in caplog.text
    assert "%%%" not in caplog.text


REFUSED = {"detail": "not a verified Kling callback"}


def test_every_refusal_of_an_unauthenticated_callback_is_one_answer(client: TestClient) -> None:
    """No connection-id oracle: an unknown id, one without a secret, and a bad signature look alike."""
    body = task_body()
    unsigned = {"content-type": "application/json"}
    answers = [
        post(client, body, signed_headers(body), url="/callbacks/nobody"),
        post(client, body, signed_headers(body), url="/callbacks/no_secret"),
        post(client, body, signed_headers(body), url="/callbacks/bad%20id"),
        post(client, body, unsigned, url="/callbacks/nobody"),
        post(client, body, unsigned),
        post(client, body, signed_headers(body, OLD_SECRET)),
        post(client, body, signed_headers(body, timestamp=int(time.time()) - 10 * TIMESTAMP_TOLERANCE)),
    ]

    assert [(answer.status_code, answer.json()) for answer in answers] == [(401, REFUSED)] * len(answers)


@pytest.mark.parametrize("timestamp", ["\u00b2\u00b3", "12 ", "+123", "-5", "1_000"])
def test_a_timestamp_that_is_not_plain_ascii_digits_is_refused_401(
    client: TestClient, recorder: Recorder, timestamp: str
) -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": timestamp, "webhook-signature": "v1,x"}

    answer = client.post(
        URL, content=task_body(), headers={k: v.encode("latin-1") for k, v in headers.items()}
    )

    assert answer.status_code == 401 and recorder.events == []
    assert counters(client)["malformed"] == 1


@pytest.mark.parametrize("name", ["pipe1\n", "pipe1\r\n", "../x", ""])
def test_an_asset_name_must_match_whole(name: str) -> None:
    from airflow_provider_kling.callbacks.events import asset_for_callback, callback_asset_uri

    with pytest.raises(ValueError, match="a callback asset name"):
        callback_asset_uri("kling_default", name or "-")
    if name:
        with pytest.raises(ValueError, match="a callback asset name"):
            asset_for_callback("kling_default", {}, name)


def test_a_connection_id_must_match_whole(client: TestClient, connections: Connections) -> None:
    body = task_body()

    answer = post(client, body, signed_headers(body), url="/callbacks/kling_default%0a")

    assert answer.status_code == 401 and connections.lookups == 0


def test_a_signed_body_nested_deep_is_a_400(client: TestClient, recorder: Recorder) -> None:
    body = b'{"task_id": "1", "task_status": "succeed", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    answer = post(client, body, signed_headers(body))

    assert answer.status_code == 400 and recorder.events == []


@pytest.mark.parametrize("units", ["1e999", "NaN", "-1", "9" * 4000])
def test_signed_units_that_are_not_a_finite_bounded_number_are_a_400(
    client: TestClient, recorder: Recorder, units: str
) -> None:
    body = task_body(final_unit_deduction=units)

    answer = post(client, body, signed_headers(body))

    assert answer.status_code == 400 and recorder.events == []


def test_a_client_that_disconnects_mid_body_is_not_a_server_error() -> None:
    import asyncio

    from starlette.requests import ClientDisconnect, Request

    from airflow_provider_kling.callbacks.receiver import BodyRefused, read_capped

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/"}, receive)

    with pytest.raises(ClientDisconnect):
        asyncio.run(request.body())  # what Starlette raises: the receiver must not answer 500
    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/"}, receive)
    with pytest.raises(BodyRefused) as refused:
        asyncio.run(read_capped(request, 10))
    assert refused.value.status == 400


def test_unknown_connection_ids_are_remembered_in_a_bounded_lru(connections: Connections) -> None:
    from airflow_provider_kling.callbacks.receiver import CachedConnections

    cache = CachedConnections(connections, clock=lambda: 0.0, max_entries=3)
    cache.get("kling_default")
    for n in range(10):
        cache.get(f"nobody{n}")
    lookups = connections.lookups
    cache.get("nobody9")

    assert connections.lookups == lookups  # the newest are kept
    assert len(cache) == 4  # the known connection, and the 3 newest unknown ids


def test_a_content_length_that_is_not_ascii_digits_is_not_a_server_error() -> None:
    import asyncio

    from starlette.requests import Request

    from airflow_provider_kling.callbacks.receiver import read_capped

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"\xb2\xb3")]}

    assert asyncio.run(read_capped(Request(scope, receive), 10)) == b"{}"


def test_reading_unknown_ids_is_rate_limited_and_known_connections_are_not(connections: Connections) -> None:
    from airflow_provider_kling.callbacks.receiver import CachedConnections

    now = [0.0]
    cache = CachedConnections(connections, clock=lambda: now[0], lookups_per_second=1, lookup_burst=5)
    assert cache.get("kling_default") is not None
    for n in range(50):
        assert cache.get(f"nobody{n}") is None

    assert connections.lookups == 5  # kling_default and 4 unknown ids, then nothing is read
    now[0] += 31  # the known connection is read again whatever the flood
    assert cache.get("kling_default") is not None and connections.lookups == 6
    now[0] += 2
    cache.get("nobody-new")
    assert connections.lookups == 7


def test_what_the_cache_holds_is_answered_without_a_read(connections: Connections) -> None:
    from airflow_provider_kling.callbacks.receiver import CachedConnections

    now = [0.0]
    cache = CachedConnections(connections, clock=lambda: now[0])
    assert cache.cached("kling_default") == (False, None)  # a read: the receiver does it in a thread
    known = cache.get("kling_default")
    assert cache.get("nobody") is None
    assert cache.cached("kling_default") == (True, known) and cache.cached("nobody") == (True, None)
    assert connections.lookups == 2
    now[0] += 31
    assert cache.cached("kling_default") == (False, None) and cache.cached("nobody") == (False, None)


def test_a_database_that_refuses_the_write_is_a_503_to_send_again(connections: Connections) -> None:
    from sqlalchemy.exc import OperationalError

    class Locked:
        def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))

    client = TestClient(create_receiver_app(connections=connections, recorder=Locked()))
    body = task_body()

    first = post(client, body, signed_headers(body))
    again = post(client, body, signed_headers(body))  # the same webhook id is not remembered as done

    assert (first.status_code, again.status_code) == (503, 503)
    assert counters(client)["database_busy"] == 2


def test_a_callback_key_already_recorded_inserts_no_row_and_leaves_the_transaction_usable() -> None:
    key = {"conn_id": "kling_default", "kling_task_id": "1", "status": "succeed", "asset_uri": "u"}
    engine = create_engine("sqlite://")
    CALLBACK_KEYS.create(engine)
    with engine.begin() as connection:  # one transaction: no error, no rollback between the two
        inserted = [
            connection.execute(_insert_key("sqlite", {**key, "webhook_id": w})).rowcount for w in "ab"
        ]
        rows = connection.execute(
            select(CALLBACK_KEYS.c.webhook_id, func.count()).group_by("webhook_id")
        ).all()
    assert inserted == [1, 0]
    assert rows == [("a", 1)]
    assert "ON CONFLICT DO NOTHING" in str(
        _insert_key("postgresql", key).compile(dialect=postgresql.dialect())
    )
    assert str(_insert_key("mysql", key).compile(dialect=mysql.dialect())).startswith("INSERT IGNORE")
