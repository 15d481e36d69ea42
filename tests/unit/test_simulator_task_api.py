"""The simulator's 2026 task API (``testing/task_api.py``, ``testing/new_style.py``): new-style video
creates, ``GET``/``POST /tasks`` with its own limits, the switch that turns ``/tasks`` off, and
per-type resource packs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from airflow_provider_kling.testing import KlingSimulator

T2V = {"prompt": "a fox running in snow", "settings": {"duration": 5, "resolution": "1080p"}}
IMAGE = {"model_name": "kling-v3", "prompt": "a red kite", "n": 2}


@pytest.fixture(scope="module")
def server() -> Iterator[KlingSimulator]:
    with KlingSimulator(jwt_keys={"ak-1": "sk-1"}, progress="immediate") as simulator:
        yield simulator


@pytest.fixture
def sim(server: KlingSimulator) -> Iterator[KlingSimulator]:
    server.reset()
    yield server
    server.reset()


def client(sim: KlingSimulator, token: str | None = None, *, prefix: str = "/kling") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or sim.api_key}"}
    return httpx.Client(base_url=f"{sim.root_url}{prefix}", headers=headers, timeout=10)


def create_video(sim: KlingSimulator, **options: Any) -> dict[str, Any]:
    with client(sim) as api:
        answer = api.post("/text-to-video/kling-3.0", json={**T2V, "options": options} if options else T2V)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def create_image(sim: KlingSimulator, **fields: Any) -> str:
    with client(sim) as api:
        answer = api.post("/v1/images/generations", json={**IMAGE, **fields})
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["data"]["task_id"]
    return task_id


def tasks(sim: KlingSimulator, **params: str) -> httpx.Response:
    with client(sim) as api:
        return api.get("/tasks", params=params)


# --- new-style creates -------------------------------------------------------------------------


def test_a_new_style_create_answers_a_submitted_record_and_tasks_shows_it_succeeded(
    sim: KlingSimulator,
) -> None:
    created = create_video(sim, external_task_id="run-1")
    assert set(created) == {"id", "status", "create_time", "update_time", "external_id"}
    assert (created["status"], created["external_id"]) == ("submitted", "run-1")

    (record,) = tasks(sim, task_ids=created["id"]).json()["data"]

    assert record["status"] == "succeeded"
    (output,) = record["outputs"]
    assert output["video"]["duration"] == "5"
    assert record["billing"] == [
        {"charge_type": "unit", "amount": "4", "currency": "", "package_type": "video"}
    ]
    video = httpx.get(output["video"]["url"], timeout=10)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"


def test_a_jwt_on_a_new_style_path_answers_401_1002(sim: KlingSimulator) -> None:
    token = jwt.encode({"iss": "ak-1", "exp": int(time.time()) + 600, "nbf": int(time.time()) - 5}, "sk-1")
    with client(sim, token) as api:
        answer = api.post("/text-to-video/kling-3.0", json=T2V)
    assert (answer.status_code, answer.json()["code"]) == (401, 1002)
    with client(sim, token) as api:  # the same token is fine on /v1/
        assert api.post("/v1/images/generations", json=IMAGE).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/text-to-video/kling-3.0-omni", T2V, 404, "not served at /text-to-video"),
        ("/text-to-video/kling-2.6", {**T2V, "settings": {"duration": 7}}, 400, "settings.duration"),
        (
            "/text-to-video/kling-3.0-turbo",
            {**T2V, "settings": {"audio": "native"}},
            400,
            "has no audio setting",
        ),
        (
            "/image-to-video/kling-3.0",
            {"contents": [{"type": "prompt", "text": "x"}]},
            400,
            "needs a first_frame",
        ),
        ("/image-to-video/kling-3.0", {**T2V}, 400, "prompt: is not a field of /image-to-video"),
        (
            "/omni-video/kling-3.0-omni",
            {"contents": [{"type": "prompt", "text": "x"}, {"type": "base_video", "url": "ftp://v"}]},
            400,
            "by http(s) URL only",
        ),
    ],
)
def test_new_style_rules_answer_klings_codes(
    sim: KlingSimulator, path: str, body: dict[str, Any], status: int, words: str
) -> None:
    with client(sim) as api:
        answer = api.post(path, json=body)
    assert answer.status_code == status
    assert words in answer.json()["message"]


def test_a_second_create_with_a_used_external_id_makes_no_second_task(sim: KlingSimulator) -> None:
    create_video(sim, external_task_id="once")
    with client(sim) as api:
        again = api.post("/text-to-video/kling-3.0", json={**T2V, "options": {"external_task_id": "once"}})
    assert (again.status_code, again.json()["code"]) == (400, 1201)
    assert "already exists" in again.json()["message"]
    assert len(sim.tasks()) == 1


# --- GET /tasks --------------------------------------------------------------------------------


def test_tasks_returns_known_ids_of_either_style_and_leaves_unknown_ones_out(sim: KlingSimulator) -> None:
    video_id = create_video(sim)["id"]
    image_id = create_image(sim, external_task_id="img-1")

    records = tasks(sim, task_ids=f"{image_id},unknown-1,{video_id}").json()["data"]

    assert [record["id"] for record in records] == [image_id, video_id]
    image = records[0]
    assert image["external_id"] == "img-1" and len(image["outputs"]) == 2 and "image" in image["outputs"][0]
    assert tasks(sim, task_ids="unknown-1,unknown-2").json()["data"] == []
    by_external = tasks(sim, external_task_ids="img-1").json()["data"]
    assert [record["id"] for record in by_external] == [image_id]
    assert tasks(sim, task_ids="img-1").json()["data"] == []  # an external id is not a task id


@pytest.mark.parametrize(
    "params",
    [
        {"task_ids": ",".join(str(i) for i in range(21))},
        {"task_ids": "1", "external_task_ids": "2"},
        {},
    ],
    ids=["21 ids", "both", "neither"],
)
def test_tasks_limits_answer_400_1201(sim: KlingSimulator, params: dict[str, str]) -> None:
    answer = tasks(sim, **params)
    assert (answer.status_code, answer.json()["code"]) == (400, 1201)


def test_twenty_ids_are_accepted(sim: KlingSimulator) -> None:
    assert tasks(sim, task_ids=",".join(str(i) for i in range(20))).status_code == 200


def test_tasks_can_be_switched_off_like_a_host_without_them(sim: KlingSimulator) -> None:
    task_id = create_image(sim)
    sim.configure(tasks_query=False)
    answer = tasks(sim, task_ids=task_id)
    assert (answer.status_code, answer.json()["code"]) == (404, 1203)
    with client(sim) as api:
        assert api.post("/tasks", json={}).status_code == 404
        assert api.get(f"/v1/images/generations/{task_id}").status_code == 200


def test_tasks_answer_under_both_prefixes(sim: KlingSimulator) -> None:
    task_id = create_image(sim)
    with client(sim, prefix="") as api:
        assert [r["id"] for r in api.get("/tasks", params={"task_ids": task_id}).json()["data"]] == [task_id]


# --- POST /tasks -------------------------------------------------------------------------------


def test_search_pages_with_a_cursor_newest_first(sim: KlingSimulator) -> None:
    created = [create_image(sim, n=1) for _ in range(5)]
    seen, cursor = [], None
    with client(sim) as api:
        while True:
            page = api.post("/tasks", json={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()[
                "data"
            ]
            assert page["count"] == 5
            seen += [record["id"] for record in page["result"]]
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
    assert seen == created[::-1]


def test_search_filters_by_product_type_and_status(sim: KlingSimulator) -> None:
    video_id = create_video(sim)["id"]
    image_id = create_image(sim)
    with client(sim) as api:
        videos = api.post("/tasks", json={"filters": {"product_type": "video"}}).json()["data"]["result"]
        done = api.post("/tasks", json={"filters": {"status": "succeeded"}}).json()["data"]["result"]
        failed = api.post("/tasks", json={"filters": {"status": "failed"}}).json()["data"]["result"]
    assert [record["id"] for record in videos] == [video_id]
    assert {record["id"] for record in done} == {video_id, image_id}
    assert failed == []


@pytest.mark.parametrize(
    "body",
    [{"limit": 501}, {"limit": 0}, {"filters": {"status": "succeed"}}, {"cursor": "nope"}, {"page": 1}],
)
def test_search_limits_answer_400_1201(sim: KlingSimulator, body: dict[str, Any]) -> None:
    with client(sim) as api:
        answer = api.post("/tasks", json=body)
    assert (answer.status_code, answer.json()["code"]) == (400, 1201)


def test_search_accepts_the_largest_page(sim: KlingSimulator) -> None:
    with client(sim) as api:
        assert api.post("/tasks", json={"limit": 500}).status_code == 200


# --- resource packs per type -------------------------------------------------------------------


def test_with_only_a_video_pack_an_image_create_answers_429_1102_and_a_video_create_works(
    sim: KlingSimulator,
) -> None:
    sim.set_resource_packs([{"total_quantity": 100, "product_type": "video"}])
    with client(sim) as api:
        image = api.post("/v1/images/generations", json=IMAGE)
    assert (image.status_code, image.json()["code"]) == (429, 1102)
    assert create_video(sim)["status"] == "submitted"


def test_with_only_an_image_pack_a_video_create_answers_429_1102(sim: KlingSimulator) -> None:
    sim.set_resource_packs([{"total_quantity": 100, "product_type": "image"}])
    with client(sim) as api:
        video = api.post("/text-to-video/kling-3.0", json=T2V)
    assert (video.status_code, video.json()["code"]) == (429, 1102)
    create_image(sim)
