"""A stored video seeks in Chromium (which seeks only in what a server serves in byte ranges): the
view's file route served by uvicorn on a port of 18800-18899, no Airflow process. Skipped without
Chromium, as the other browser test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn
from airflow.api_fastapi.core_api.security import get_user
from fastapi import FastAPI

from airflow_provider_kling.testing.mp4 import make_mp4
from airflow_provider_kling.ui import URL_PREFIX, app
from airflow_provider_kling.ui.render import Item
from tests.browser.harness import Browser, chromium, free_port, wait_for

pytestmark = pytest.mark.skipif(chromium() is None, reason="NO CHROMIUM: apt-get install chromium")


@pytest.fixture
def view_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    video = tmp_path / "v.mp4"
    video.write_bytes(make_mp4("a teapot turning", seconds=5.0))
    item = Item("t", "t", "a teapot", "881", "succeed", 1.5, None, [video.as_uri()])
    monkeypatch.setattr(app, "get_auth_manager", lambda: SimpleNamespace(is_authorized_dag=lambda **_: True))
    monkeypatch.setattr(app, "run_items", lambda dag_id, run_id: [item])
    ui = app.create_ui_app()
    ui.dependency_overrides[get_user] = lambda: SimpleNamespace(username="viewer")
    api_server = FastAPI()  # the page's links are under the view's prefix, as on the api-server
    api_server.mount(URL_PREFIX, ui)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api_server, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for("uvicorn", lambda: server.started, 30)
    yield f"http://127.0.0.1:{port}{URL_PREFIX}/runs/d/r"
    server.should_exit = True
    thread.join(30)


def test_a_stored_video_seeks_in_chromium(view_url: str) -> None:
    executable = chromium()
    assert executable is not None
    browser = Browser(executable)
    try:
        browser.open(view_url, "document.querySelector('main video') != null")
        seeked = browser.evaluate(
            "(async () => { const v = document.querySelector('main video'); v.muted = true;"
            " const when = (event) => new Promise(done => v.addEventListener(event, done, {once: true}));"
            " const metadata = Promise.race([when('loadedmetadata'), when('error')]);"
            " v.preload = 'auto'; v.load(); await metadata; if (v.error) return [-1, v.error.code];"
            " const landed = when('seeked'); v.currentTime = 3.5;"
            " await Promise.race([landed, new Promise(done => setTimeout(done, 20000))]);"
            " return [v.currentTime, v.seekable.length ? v.seekable.end(0) : 0]; })()"
        )
    finally:
        browser.close()

    assert seeked[0] == pytest.approx(3.5, abs=0.5)
    assert seeked[1] == pytest.approx(5.0, abs=0.5)
