"""Safe image downloads against the simulator's faults: junk, redirects to internal hosts, huge bodies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_kling.errors import (
    KlingConnectionError,
    KlingDownloadRejectedError,
)
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.storage import IMAGE, store_file, to_storage_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MiB = 1024 * 1024


class InternalService:
    """A stand-in for a metadata service on this machine: answers 200 with a 'secret', counts requests."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = PNG_SIGNATURE + b"internal secret" * 10
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/latest/meta-data/credentials"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal_service() -> Iterator[InternalService]:
    service = InternalService()
    yield service
    service.close()


def connect(monkeypatch, simulator, **extra) -> KlingHook:
    conn = {"conn_type": "kling", "host": simulator.base_url, "password": simulator.api_key, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    return KlingHook(max_retries=0)


def image_url(hook: KlingHook) -> str:
    task = hook.create_task(model_name="kling-v1", prompt="a lighthouse", n=1)
    return str(wait_for_task(hook, task.task_id, poll_interval=0.05, timeout=30).images[0].url)


def test_a_normal_image_carries_its_content_type_and_length(kling_simulator, monkeypatch):
    hook = connect(monkeypatch, kling_simulator)
    download = hook.iter_image_bytes(image_url(hook))

    body = b"".join(download)

    assert download.content_type == "image/png"
    assert download.content_length == len(body)
    assert body.startswith(PNG_SIGNATURE)


def test_html_answer_is_not_stored(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("html", k=1)

    with pytest.raises(KlingDownloadRejectedError, match="text/html"):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_image_bytes(url), IMAGE)

    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_bytes_that_are_no_image_are_not_stored(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("not_image", k=1)

    with pytest.raises(KlingDownloadRejectedError, match="not a PNG, JPEG, WebP or GIF"):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_image_bytes(url), IMAGE)

    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_body_cut_short_is_not_stored(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("short", k=1)

    with pytest.raises((KlingConnectionError, KlingDownloadRejectedError)):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_image_bytes(url), IMAGE)

    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_redirect_to_another_host_on_this_machine_is_refused_unfetched(
    kling_simulator, monkeypatch, internal_service
):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("redirect", k=1, location=internal_service.url)

    with pytest.raises(KlingDownloadRejectedError, match=r"internal address 127.0.0.1"):
        b"".join(hook.iter_image_bytes(url))

    assert internal_service.hits == []


def test_redirect_to_a_link_local_metadata_address_is_refused(kling_simulator, monkeypatch):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("redirect", k=1, location="http://169.254.169.254/latest/meta-data/")

    with pytest.raises(KlingDownloadRejectedError, match=r"169.254.169.254"):
        b"".join(hook.iter_image_bytes(url))


def test_an_internal_host_named_in_the_extra_is_allowed(kling_simulator, monkeypatch, internal_service):
    port = internal_service.server.server_address[1]
    hook = connect(monkeypatch, kling_simulator, allowed_image_hosts=[f"127.0.0.1:{port}"])
    url = image_url(hook)
    kling_simulator.image_fault("redirect", k=1, location=internal_service.url)

    assert b"".join(hook.iter_image_bytes(url)).startswith(PNG_SIGNATURE)
    assert internal_service.hits == ["/latest/meta-data/credentials"]


def test_a_redirect_to_the_connections_own_host_is_followed(kling_simulator, monkeypatch):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("redirect", k=1, location=url)

    assert b"".join(hook.iter_image_bytes(url)).startswith(PNG_SIGNATURE)


def test_endless_redirects_stop_after_a_few_hops(kling_simulator, monkeypatch):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("redirect", location=url)  # every download, until cleared

    with pytest.raises(KlingDownloadRejectedError, match="redirected more than 5 times"):
        b"".join(hook.iter_image_bytes(url))
    kling_simulator.image_fault(None)


def test_redirect_to_a_file_url_is_refused(kling_simulator, monkeypatch):
    hook = connect(monkeypatch, kling_simulator)
    url = image_url(hook)
    kling_simulator.image_fault("redirect", k=1, location="file:///etc/passwd")

    with pytest.raises(KlingDownloadRejectedError, match="not http"):
        b"".join(hook.iter_image_bytes(url))


def test_a_huge_image_with_content_length_is_refused_before_reading(kling_simulator, monkeypatch, tmp_path):
    """The 300 MiB row of the issue, with a 1 MiB cap so the test stays small."""
    hook = connect(monkeypatch, kling_simulator, max_image_bytes=MiB)
    url = image_url(hook)
    kling_simulator.image_fault("huge", k=1, size=300 * MiB)

    with pytest.raises(KlingDownloadRejectedError, match=f"is {300 * MiB} bytes, more than max_image_bytes"):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_image_bytes(url), IMAGE)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_huge_stream_without_content_length_is_cut_at_the_cap(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator, max_image_bytes=MiB)
    url = image_url(hook)
    kling_simulator.image_fault("huge", k=1, size=300 * MiB, length=False)
    received = 0

    with pytest.raises(KlingDownloadRejectedError, match="sent more than max_image_bytes"):
        for chunk in hook.iter_image_bytes(url):
            received += len(chunk)
    assert received <= MiB


def test_max_image_bytes_default_and_bad_value(monkeypatch, kling_simulator):
    assert connect(monkeypatch, kling_simulator).settings.max_image_bytes == 50 * MiB
    with pytest.raises(ValueError, match="extra 'max_image_bytes' must be a number"):
        _ = connect(monkeypatch, kling_simulator, max_image_bytes="lots").settings


def test_with_a_proxy_an_internal_ip_or_localhost_is_still_refused(kling_simulator, monkeypatch):
    from airflow_provider_kling.hooks.download import check_image_url

    settings = connect(monkeypatch, kling_simulator, proxy="http://127.0.0.1:3128").settings
    for url in ("http://169.254.169.254/latest/", "http://localhost:9000/x.png", "http://[::1]:80/x.png"):
        with pytest.raises(KlingDownloadRejectedError, match="internal address"):
            check_image_url(url, settings)
    check_image_url("https://cdn.example.com/x.png", settings)  # a name: the proxy resolves it
