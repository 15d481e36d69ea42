"""One transport policy: the same scenarios through the sync and async paths, with the same outcome."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from airflow_provider_kling.errors import KlingError
from airflow_provider_kling.hooks.connection import KlingConnectionSettings
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.hooks.transport import (
    MAX_REDIRECTS,
    build_async_client,
    build_session,
    transport_policy,
)
from airflow_provider_kling.testing import KlingSimulator
from airflow_provider_kling.testing.rules import validate
from tests.unit.tls_certs import Pki, make_pki

API_KEY = "transport-key"


class TlsSimulator:
    """The simulator's app served over HTTPS on loopback (optionally asking for a client certificate)."""

    def __init__(self, pki: Pki, *, require_client_cert: bool) -> None:
        self.simulator = KlingSimulator(api_key=API_KEY)  # its app and state; served here, not by it
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        extra: dict[str, Any] = {}
        if require_client_cert:
            extra = {"ssl_ca_certs": str(pki.ca_cert), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        config = uvicorn.Config(
            self.simulator.app,
            log_level="critical",
            lifespan="off",
            ssl_certfile=str(pki.server_cert),
            ssl_keyfile=str(pki.server_key),
            **extra,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            assert time.monotonic() < deadline, "the TLS simulator did not start"
            time.sleep(0.01)
        request = validate({"model_name": "kling-v1", "prompt": "a lighthouse", "n": 1})
        self.task_id = self.simulator.state.create_task(API_KEY, request).task_id

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/kling"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_simulator(pki: Pki) -> Iterator[TlsSimulator]:
    server = TlsSimulator(pki, require_client_cert=False)
    yield server
    server.close()


@pytest.fixture(scope="module")
def mtls_simulator(pki: Pki) -> Iterator[TlsSimulator]:
    server = TlsSimulator(pki, require_client_cert=True)
    yield server
    server.close()


def set_connection(monkeypatch: pytest.MonkeyPatch, host: str, password: str, **extra: Any) -> None:
    # A CA bundle in the environment (common on CI images) must not override the connection's choice.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ssl.get_default_verify_paths().openssl_cafile)
    conn = {"conn_type": "kling", "host": host, "password": password, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))


def outcome_sync(task_id: str) -> str:
    try:
        return f"ok {KlingHook(max_retries=0).get_task(task_id).task_id}"
    except KlingError as exc:
        return type(exc).__name__


def outcome_async(task_id: str) -> str:
    async def query() -> str:
        hook = KlingHook(max_retries=0)
        try:
            return f"ok {(await hook.aget_task(task_id)).task_id}"
        except KlingError as exc:
            return type(exc).__name__
        finally:
            await hook.aclose()

    return asyncio.run(query())


def both_paths(task_id: str) -> tuple[str, str]:
    return outcome_sync(task_id), outcome_async(task_id)


def test_moved_api_answering_308_is_followed_alike_in_both_modes(kling_simulator, monkeypatch):
    hook_direct = KlingHook(max_retries=0)
    set_connection(monkeypatch, kling_simulator.base_url, kling_simulator.api_key)
    task = hook_direct.create_task(model_name="kling-v1", prompt="a lighthouse", n=1)
    set_connection(monkeypatch, f"{kling_simulator.root_url}/moved/kling", kling_simulator.api_key)

    assert both_paths(task.task_id) == (f"ok {task.task_id}", f"ok {task.task_id}")


def test_a_create_sent_to_a_moved_api_reaches_it_once(kling_simulator, monkeypatch):
    set_connection(monkeypatch, f"{kling_simulator.root_url}/moved/kling", kling_simulator.api_key)

    task = KlingHook(max_retries=0).create_task(model_name="kling-v1", prompt="a lighthouse", n=1)

    assert [t["task_id"] for t in kling_simulator.tasks()] == [task.task_id]
    assert kling_simulator.counters(kling_simulator.api_key)["creates"] == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "KlingConnectionError"),  # a certificate no default trust store knows
        ({"verify": False}, "ok"),
        ({"ca_bundle": "CA"}, "ok"),
        ({"ca_bundle": "CA", "verify": "false"}, "ok"),
    ],
    ids=["default-verify", "verify-off", "ca-bundle", "verify-off-wins"],
)
def test_tls_verification_means_the_same_in_both_modes(tls_simulator, pki, monkeypatch, extra, expected):
    extra = {key: (str(pki.ca_cert) if value == "CA" else value) for key, value in extra.items()}
    set_connection(monkeypatch, tls_simulator.base_url, API_KEY, **extra)
    want = f"ok {tls_simulator.task_id}" if expected == "ok" else expected

    assert both_paths(tls_simulator.task_id) == (want, want)


@pytest.mark.parametrize("with_cert", [False, True], ids=["no-client-cert", "client-cert"])
def test_client_certificate_means_the_same_in_both_modes(mtls_simulator, pki, monkeypatch, with_cert):
    extra: dict[str, Any] = {"ca_bundle": str(pki.ca_cert)}
    if with_cert:
        extra |= {"client_cert": str(pki.client_cert), "client_key": str(pki.client_key)}
    set_connection(monkeypatch, mtls_simulator.base_url, API_KEY, **extra)
    want = f"ok {mtls_simulator.task_id}" if with_cert else "KlingConnectionError"

    assert both_paths(mtls_simulator.task_id) == (want, want)


def settings_with(**fields: Any) -> KlingConnectionSettings:
    return KlingConnectionSettings(api_key="sk-test", **fields)


def test_both_clients_get_the_same_timeouts_redirect_budget_and_proxy():
    settings = settings_with(connect_timeout=3, read_timeout=45, proxy="http://127.0.0.1:3128")
    policy = transport_policy(settings)
    session = build_session(settings)
    client = build_async_client(settings)

    assert policy.requests_timeout == (3, 45)
    assert (client.timeout.connect, client.timeout.read) == (3, 45)
    assert session.max_redirects == client.max_redirects == MAX_REDIRECTS
    assert client.follow_redirects is True
    assert session.proxies == {"http": "http://127.0.0.1:3128", "https": "http://127.0.0.1:3128"}
    assert set(client._mounts)  # httpx mounts a proxy transport per scheme
    asyncio.run(client.aclose())


def test_proxy_password_is_registered_with_the_secrets_masker(monkeypatch):
    import airflow.sdk.log

    masked: list[str] = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", masked.append)
    settings = settings_with(proxy="http://user:pr%40xy-pass@127.0.0.1:3128")

    build_session(settings)

    assert "pr@xy-pass" in masked
    assert "pr@xy-pass" not in repr(settings) and "pr@xy-pass" not in repr(transport_policy(settings))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"verify": "sometimes"}, "extra 'verify' must be true or false"),
        ({"allowed_image_hosts": 5}, "extra 'allowed_image_hosts' must be a list"),
    ],
)
def test_bad_transport_extras_name_the_extra(monkeypatch, extra, message):
    set_connection(monkeypatch, "http://127.0.0.1:1/kling", "sk-test", **extra)
    with pytest.raises(ValueError, match=message):
        _ = KlingHook().settings


def test_extras_read_into_settings(monkeypatch, tmp_path: Path):
    set_connection(
        monkeypatch,
        "http://127.0.0.1:1/kling",
        "sk-test",
        verify="false",
        ca_bundle="/etc/ca.pem",
        client_cert="/etc/c.pem",
        client_key="/etc/c.key",
        allowed_image_hosts="cdn.internal, 10.0.0.5:8080",
        max_image_bytes=1000,
    )
    settings = KlingHook().settings
    assert settings.verify is False
    assert (settings.ca_bundle, settings.client_cert, settings.client_key) == (
        "/etc/ca.pem",
        "/etc/c.pem",
        "/etc/c.key",
    )
    assert settings.allowed_image_hosts == ("cdn.internal", "10.0.0.5:8080")
    assert settings.max_image_bytes == 1000
