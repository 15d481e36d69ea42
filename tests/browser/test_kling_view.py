"""The Kling view in a real browser: headless Chromium (the OS package) against ``airflow standalone``
with the demo DAGs run on the simulator.

Logs in, opens a run's Kling tab and the Kling page inside Airflow's UI, and checks every stored
image and video is shown (one image decoded, one video read, from the page's own requests), the
plot's total equals the manifests' units, and a user who may read no DAG is refused. Screenshots
are kept in ``build/browser/`` (and, smaller, in ``build/browser/docs/``: the docs' copies in
``docs/_static/screenshots/``). Skipped, loudly, without Chromium (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_kling.spend import sum_units
from airflow_provider_kling.testing import KlingSimulator
from tests.browser.harness import (
    REPO,
    Browser,
    airflow,
    airflow_env,
    call,
    chromium,
    free_port,
    log_in,
    standalone,
    token_of,
)

ARTIFACTS = REPO / "build" / "browser"
DATE = "2026-12-07"
BATCH, MAPPED, VIDEO = "kling_scheduled_batch_operator", "kling_scheduled_batch", "kling_product_video"
IN_FRAME = "document.querySelector('iframe')?.contentDocument?.querySelector('{}')"

pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="NO CHROMIUM: the browser test of the Kling view did not run (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def airflow_with_runs() -> Iterator[dict[str, Any]]:
    """The demo DAGs run once, then ``airflow standalone`` serving them, the simulator still up."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    home, out = ARTIFACTS / "airflow-home", ARTIFACTS / "out"
    home.mkdir(parents=True)
    with KlingSimulator(api_key=secrets.token_hex(8), latency=0.5, slots=8) as simulator:
        env = airflow_env(home, free_port(), simulator.airflow_conn_json(), out, REPO / "dags_examples")
        airflow(env, "db", "migrate")
        airflow(env, "pools", "set", "kling_slots", "8", "Kling slots", "--include-deferred")
        for dag_id in (MAPPED, BATCH, VIDEO):  # the video DAG reads the images the first one stored
            airflow(env, "dags", "test", dag_id, DATE, log=ARTIFACTS / f"{dag_id}.log")
        with standalone(env, ARTIFACTS / "standalone.log") as (api, passwords):
            token = token_of(api, "admin", passwords["admin"])
            runs = {
                dag_id: call(f"{api}/api/v2/dags/{dag_id}/dagRuns", token=token)["dag_runs"][0]["dag_run_id"]
                for dag_id in (MAPPED, BATCH, VIDEO)
            }
            yield {"api": api, "passwords": passwords, "runs": runs, "out": out, "token": token}


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = chromium()
    assert executable is not None
    browser = Browser(executable)
    yield browser
    browser.close()


def run_tab(api: str, dag_id: str, run_id: str) -> str:
    return f"{api}/dags/{dag_id}/runs/{quote(run_id, safe='')}/plugin/kling-dag_run"


def frame(browser: Browser, expression: str) -> Any:
    """An expression evaluated with ``document`` the Kling view's iframe's (same origin)."""
    return browser.evaluate(
        f"(async (document) => ({expression}))(document.querySelector('iframe').contentDocument)"
    )


def manifest_of(out: Path, dag_id: str) -> dict[str, Any]:
    (path,) = out.rglob(f"{dag_id}/*/generate_catalogue_manifest.json")
    return dict(json.loads(path.read_text()))


def test_a_runs_kling_tab_shows_every_stored_image(
    browser: Browser, airflow_with_runs: dict[str, Any]
) -> None:
    api, runs, out = airflow_with_runs["api"], airflow_with_runs["runs"], airflow_with_runs["out"]
    log_in(browser, api, "admin", airflow_with_runs["passwords"]["admin"])
    browser.open(run_tab(api, BATCH, runs[BATCH]), IN_FRAME.format("#summary") + " != null")
    manifest = manifest_of(out, BATCH)
    files = [file for item in manifest["items"] for file in item["files"]]

    shown = frame(browser, "[...document.querySelectorAll('main img')].map(i => i.alt)")
    assert len(shown) == len(files) == 4
    assert sorted(shown) == sorted(item["prompt"] for item in manifest["items"])
    # One image, decoded by the browser and byte for byte the stored file, from the page's request.
    image = frame(
        browser,
        "(async () => { const img = document.querySelector('main img'); await img.decode();"
        " const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());"
        " return [img.naturalWidth, btoa(String.fromCharCode(...bytes)), decodeURIComponent(img.src)]; })()",
    )
    width, data, src = image
    stored = next(file for file in files if file in src)
    assert width > 0
    assert base64.b64decode(data) == Path(stored.removeprefix("file://")).read_bytes()
    assert "kling" not in src.split("?")[0].split("/kling-ui/")[0]  # served by Airflow, not Kling
    browser.screenshot(ARTIFACTS / "kling-run-tab.png")
    browser.screenshot(ARTIFACTS / "docs" / "kling-run-tab.jpg", scale=0.6)


def test_a_runs_videos_play_from_storage(browser: Browser, airflow_with_runs: dict[str, Any]) -> None:
    api, runs, out = airflow_with_runs["api"], airflow_with_runs["runs"], airflow_with_runs["out"]
    log_in(browser, api, "admin", airflow_with_runs["passwords"]["admin"])
    browser.open(run_tab(api, VIDEO, runs[VIDEO]), IN_FRAME.format("#summary") + " != null")
    videos = [path for path in out.rglob(f"{VIDEO}/*/*.mp4")]

    assert frame(browser, "document.querySelectorAll('main video').length") == len(videos) == 4
    head = frame(
        browser,
        "(async () => { const v = document.querySelector('main video');"
        " const bytes = new Uint8Array(await (await fetch(v.src)).arrayBuffer());"
        " return String.fromCharCode(...bytes.slice(4, 8)); })()",
    )
    assert head == "ftyp"
    # It plays, and its frames change (the simulator's video: a sun moving, a progress bar growing).
    frames = frame(
        browser,
        "(async () => { const v = document.querySelector('main video'); v.muted = true;"
        " const c = document.createElement('canvas'); c.width = 64; c.height = 36;"
        " const g = c.getContext('2d'); const seen = new Set();"
        " await new Promise(done => { const f = () => {"
        " g.drawImage(v, 0, 0, 64, 36); seen.add(c.toDataURL());"
        " if (v.ended) done(); else v.requestVideoFrameCallback(f); };"
        " v.requestVideoFrameCallback(f); v.addEventListener('ended', done); v.play(); });"
        " return seen.size; })()",
    )
    assert frames > 1
    browser.screenshot(ARTIFACTS / "kling-video-tab.png")
    browser.screenshot(ARTIFACTS / "docs" / "kling-video-tab.jpg", scale=0.6)


def test_the_kling_page_plots_the_units_the_manifests_hold(
    browser: Browser, airflow_with_runs: dict[str, Any]
) -> None:
    api, out = airflow_with_runs["api"], airflow_with_runs["out"]
    log_in(browser, api, "admin", airflow_with_runs["passwords"]["admin"])
    browser.open(f"{api}/plugin/kling-nav", IN_FRAME.format("#spend") + " != null")

    plotted = frame(
        browser,
        f"[...document.querySelectorAll('rect.spent[data-dag=\"{BATCH}\"]')].map(r => r.dataset.units)",
    )
    manifest = manifest_of(out, BATCH)
    assert sum(float(units) for units in plotted) == sum_units(item["units"] for item in manifest["items"])
    assert frame(browser, "document.body.innerText.includes('lag by up to 12 hours')")
    assert frame(browser, "document.querySelectorAll('h4').length") >= 1  # kling_default's packs
    browser.screenshot(ARTIFACTS / "kling-page.png")
    browser.screenshot(ARTIFACTS / "docs" / "kling-page.jpg", scale=0.6)


def test_a_user_who_may_read_no_dag_is_refused(browser: Browser, airflow_with_runs: dict[str, Any]) -> None:
    api, runs = airflow_with_runs["api"], airflow_with_runs["runs"]
    view = f"{api}/kling-ui/runs/{BATCH}/{quote(runs[BATCH], safe='')}"
    browser.open(view)
    assert "Not authenticated" in browser.evaluate("document.body.innerText")

    log_in(browser, api, "guest", airflow_with_runs["passwords"]["guest"])
    browser.open(view)
    assert "Not allowed to read the DAG" in browser.evaluate("document.body.innerText")
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    browser.open(f"{api}/kling-ui/")
    assert "No Kling spend recorded yet" in browser.evaluate("document.body.innerText")
    browser.screenshot(ARTIFACTS / "kling-refused.png")
