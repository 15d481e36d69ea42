"""The Kling view: what a run's results show, the spend plot, the plugin's views, and its guards."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_kling.ui import URL_PREFIX
from airflow_provider_kling.ui.render import Item, items_of, run_page, spend_of, spend_svg

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def single_result(path: str) -> dict[str, Any]:
    return {
        "task_id": "881",
        "task_status": "succeed",
        "task_status_msg": None,
        "final_unit_deduction": "2",
        "prompt": "a teapot",
        "images": [{"index": 0, "url": "https://kling.example/a.png", "path": path}],
        "output_conn_id": None,
    }


def batch_summary(manifest: str) -> dict[str, Any]:
    return {"total": 2, "counts": {"succeeded": 1, "failed": 1}, "manifest": manifest, "units": 3.5}


MANIFEST = {
    "items": [
        {"key": "lamp", "prompt": "a lamp", "kling_task_id": "1", "status": "succeeded", "message": None,
         "units": "3.5", "files": ["file:///out/d/r/b_lamp_0.png", "file:///out/d/r/b_lamp_1.png"]},
        {"key": "shoe", "prompt": "a shoe", "kling_task_id": "2", "status": "failed",
         "message": "content policy", "units": "0", "files": []},
    ]
}  # fmt: skip


def test_a_run_lists_each_kling_task_with_its_files_units_and_failure_reason() -> None:
    read = {"file:///out/d/r/b_manifest.json": MANIFEST}
    items = items_of("batch", batch_summary("file:///out/d/r/b_manifest.json"), lambda uri, conn: read[uri])
    items += items_of("single[0]", single_result("file:///out/d/r/s_0_0.png"), lambda uri, conn: {})

    assert [(i.key, i.kling_task_id, i.status, i.units, i.message) for i in items] == [
        ("lamp", "1", "succeeded", 3.5, None),
        ("shoe", "2", "failed", 0.0, "content policy"),
        ("single[0]", "881", "succeed", 2.0, None),
    ]
    assert [len(i.files) for i in items] == [2, 0, 1]
    html = run_page("run", items, lambda path: f"/f?{path}")
    assert len(re.findall(r'<img loading="lazy"', html)) == 3
    assert 'data-files="3" data-units="5.5"' in html
    assert "content policy" in html
    assert "kling.example" not in html  # never Kling's URLs: only the stored files


def test_values_that_are_not_kling_results_show_nothing() -> None:
    # The example DAG's own manifest task returns a "manifest" too, without the batch's counts.
    def read(uri: str, conn: str | None) -> Any:
        raise AssertionError("not one of ours: never read")

    for value in ({"manifest": "x.json", "prompts": 4}, "a string", [1, 2], None, {"approved": True}):
        assert items_of("t", value, read) == []


def test_spend_of_reads_units_spent_approved_estimates_and_budgets() -> None:
    assert spend_of(single_result("p")) == {"spent": 2.0}
    assert spend_of({**batch_summary("m"), "max_units": 40}) == {"spent": 3.5, "budget": 40.0}
    assert spend_of({"approved": True, "estimate": {"units": 12}}) == {"approved": 12.0}
    assert spend_of({"approved": False, "estimate": {"units": 12}}) == {}


def test_the_plot_stacks_each_days_dags_and_its_total_is_their_sum() -> None:
    spend = {
        ("2026-12-07", "a"): {"spent": 3.5, "approved": 10.0},
        ("2026-12-07", "b"): {"spent": 2.0},
        ("2026-12-08", "a"): {"spent": 1.5, "budget": 8.0},
    }
    svg = spend_svg(spend)

    assert 'data-total="7"' in svg
    assert sorted(float(u) for u in re.findall(r'class="spent" data-units="([0-9.]+)"', svg)) == [1.5, 2, 3.5]
    assert svg.count('class="approved"') == 1 and svg.count('class="budget"') == 1
    assert "No Kling spend" in spend_svg({})


def test_importing_the_plugin_builds_no_app_and_imports_no_operator() -> None:
    code = (
        "import sys, airflow_provider_kling.callbacks.plugin as p;"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_kling')));"
        "print([v['href'] for v in p.KlingCallbacksPlugin.external_views])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules, hrefs = out.splitlines()
    assert "ui.app" not in modules and "operators" not in modules
    assert eval(hrefs) == [  # noqa: S307 - our own subprocess's output
        f"{URL_PREFIX}/",
        f"{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}",
        f"{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}?task_id={{TASK_ID}}&map_index={{MAP_INDEX}}",
    ]


def test_the_view_is_mounted_on_the_api_server_and_answers_no_one_unauthenticated() -> None:
    from airflow.api_fastapi.app import init_plugins
    from fastapi import FastAPI

    api_server = FastAPI()
    init_plugins(api_server)
    client = TestClient(api_server)

    for path in ("/", "/runs/d/r", "/runs/d/r/file?path=file:///etc/passwd"):
        answer = client.get(f"{URL_PREFIX}{path}")
        assert (answer.status_code, answer.json()) == (401, {"detail": "Not authenticated"})


def test_the_views_are_valid_external_views_of_the_installed_airflow() -> None:
    # Airflow 3.1 has no nav_top_level (its Kling page is then under the "Plugins" menu): an extra
    # field its response model allows, so one list serves 3.1 to 3.3.
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from airflow_provider_kling.callbacks.plugin import KlingCallbacksPlugin

    views = [ExternalViewResponse.model_validate(view) for view in KlingCallbacksPlugin.external_views]
    assert [(v.destination, v.url_route) for v in views] == [
        ("nav", "kling-nav"),
        ("dag_run", "kling-dag_run"),
        ("task_instance", "kling-task_instance"),
    ]


def test_the_api_server_lets_in_airflows_session_cookie_and_bearer_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real auth manager and get_user (the UI's iframe sends the _token cookie; scripts a bearer).
    from airflow.api_fastapi.app import create_auth_manager, init_plugins
    from airflow.api_fastapi.auth.managers import base_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi import FastAPI

    from airflow_provider_kling.ui import app

    # Airflow 3.2+ looks a token's id up in the database's revoked tokens: none here (no database).
    none_revoked = SimpleNamespace(is_revoked=lambda jti: False)
    monkeypatch.setattr(base_auth_manager, "RevokedToken", none_revoked, raising=False)
    item = Item("t", "t", "a teapot", "881", "succeed", 2.0, None, [])
    monkeypatch.setattr(app, "run_items", lambda dag_id, run_id: [item])
    token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    api_server = FastAPI()
    init_plugins(api_server)
    client = TestClient(api_server)

    for credential in ({"cookies": {"_token": token}}, {"headers": {"Authorization": f"Bearer {token}"}}):
        answer = client.get(f"{URL_PREFIX}/runs/d/r", **credential)  # type: ignore[arg-type]
        assert (answer.status_code, "a teapot" in answer.text) == (200, True), answer.text
    forged = client.get(f"{URL_PREFIX}/runs/d/r", cookies={"_token": token[:-4] + "AAAA"})
    assert forged.status_code in (401, 403)  # Airflow's answer: 3.1 says 403, later lines 401


@pytest.fixture
def view(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[TestClient, Path]:
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_provider_kling.ui import app

    image = tmp_path / "d" / "r" / "t_0.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(PNG)
    item = Item("t", "t", "a teapot", "881", "succeed", 2.0, None, [image.as_uri()])
    readable = {"d"}
    manager = SimpleNamespace(is_authorized_dag=lambda method, details, user: details.id in readable)
    monkeypatch.setattr(app, "get_auth_manager", lambda: manager)
    monkeypatch.setattr(app, "run_items", lambda dag_id, run_id: [item])
    ui = app.create_ui_app()
    ui.dependency_overrides[get_user] = lambda: SimpleNamespace(username="viewer")
    return TestClient(ui), image


def test_a_stored_file_of_the_run_is_streamed_and_nothing_else(view: tuple[TestClient, Path]) -> None:
    client, image = view

    answer = client.get("/runs/d/r/file", params={"path": image.as_uri()})
    assert (answer.status_code, answer.headers["content-type"], answer.content) == (200, "image/png", PNG)
    other = image.with_name("secret.png")
    other.write_bytes(PNG)
    assert client.get("/runs/d/r/file", params={"path": other.as_uri()}).status_code == 404


def test_a_dag_the_user_may_not_read_is_refused(view: tuple[TestClient, Path]) -> None:
    client, image = view

    assert client.get("/runs/other/r").status_code == 403
    assert client.get("/runs/other/r/file", params={"path": image.as_uri()}).status_code == 403
    assert "a teapot" in client.get("/runs/d/r").text


def test_a_listed_file_gone_from_storage_is_not_found(view: tuple[TestClient, Path]) -> None:
    client, image = view
    image.unlink()

    assert client.get("/runs/d/r/file", params={"path": image.as_uri()}).status_code == 404


def test_a_video_is_served_in_byte_ranges_so_players_can_seek(view: tuple[TestClient, Path]) -> None:
    client, image = view
    image.write_bytes(bytes(range(100)))
    url = f"/runs/d/r/file?path={image.as_uri()}"

    whole = client.get(url)
    assert (whole.status_code, whole.headers["accept-ranges"], len(whole.content)) == (200, "bytes", 100)
    for asked, (first, last) in {"bytes=10-19": (10, 19), "bytes=95-": (95, 99), "bytes=-5": (95, 99),
                                 "bytes=90-500": (90, 99)}.items():  # fmt: skip
        part = client.get(url, headers={"Range": asked})
        assert (part.status_code, part.headers["content-range"]) == (206, f"bytes {first}-{last}/100")
        assert part.content == bytes(range(first, last + 1))
        assert part.headers["content-length"] == str(last - first + 1)
    for bad in ("bytes=100-", "bytes=20-10", "bytes=-0", "bytes=x-y", "lines=1-2"):
        refused = client.get(url, headers={"Range": bad})
        assert (refused.status_code, refused.headers["content-range"]) == (416, "bytes */100"), bad
