"""Accounts: keys sharing slots, tasks and resource packs; GET /account/costs; answers' deductions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator

URL = "/v1/images/generations"
BODY = {"model_name": "kling-v2", "prompt": "a red bicycle", "n": 1}


@pytest.fixture(scope="module")
def shared() -> Iterator[KlingSimulator]:
    """Two keys of the account 'acme', one key of its own account."""
    accounts = {"key-a": "acme", "key-b": "acme"}
    with KlingSimulator(api_key="key-a", extra_keys=["key-b", "key-c"], accounts=accounts) as simulator:
        yield simulator


@pytest.fixture
def sim(shared: KlingSimulator) -> Iterator[KlingSimulator]:
    shared.reset()
    yield shared
    shared.reset()


def _as(sim: KlingSimulator, key: str) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def _costs(client: httpx.Client, **params: Any) -> httpx.Response:
    now = int(time.time() * 1000)
    return client.get("/account/costs", params={"start_time": now - 1000, "end_time": now + 1000, **params})


def test_keys_of_one_account_share_its_slots(sim: KlingSimulator) -> None:
    sim.set_slots(2)
    sim.set_progress("manual")
    with _as(sim, "key-a") as a, _as(sim, "key-b") as b, _as(sim, "key-c") as c:
        assert a.post(URL, json={**BODY, "n": 2}).status_code == 200

        refused = b.post(URL, json=BODY)
        other_account = c.post(URL, json={**BODY, "n": 2})

    assert (refused.status_code, refused.json()["code"]) == (429, 1303)
    assert other_account.status_code == 200
    assert {task["account"] for task in sim.tasks()} == {"acme", sim.account_of("key-c")}


def test_keys_of_one_account_see_its_tasks_and_external_ids_are_unique_per_account(
    sim: KlingSimulator,
) -> None:
    with _as(sim, "key-a") as a, _as(sim, "key-b") as b, _as(sim, "key-c") as c:
        task_id = a.post(URL, json={**BODY, "external_task_id": "run-1"}).json()["data"]["task_id"]

        by_colleague = b.get(f"{URL}/run-1")
        duplicate = b.post(URL, json={**BODY, "external_task_id": "run-1"})
        elsewhere = c.post(URL, json={**BODY, "external_task_id": "run-1"})
        stranger = c.get(f"{URL}/{task_id}")
        listed = b.get(URL).json()["data"]

    assert by_colleague.json()["data"]["task_id"] == task_id
    assert (duplicate.status_code, duplicate.json()["code"]) == (400, 1201)
    assert elsewhere.status_code == 200
    assert stranger.status_code == 404
    assert [task["task_id"] for task in listed] == [task_id]


def test_account_names_never_contain_the_key(sim: KlingSimulator) -> None:
    assert "key-c" not in sim.account_of("key-c")
    assert sim.account_of("key-c") == sim.account_of("key-c")


def test_costs_show_resource_packs_decremented_by_each_task_in_klings_shape(sim: KlingSimulator) -> None:
    with _as(sim, "key-a") as a:
        before = _costs(a).json()["data"]["resource_pack_subscribe_infos"]
        a.post(URL, json={**BODY, "n": 3, "resolution": "2k"})  # 3 images at 4 stand-in units
        a.post(URL, json={**BODY, "prompt": "refused later #fail"})
        answer = _costs(a)

    body = answer.json()
    assert (answer.status_code, body["code"], body["data"]["code"]) == (200, 0, 0)
    (pack,) = body["data"]["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == before[0]["remaining_quantity"] - 12
    assert pack["total_quantity"] == 10_000
    assert pack["status"] == "online"
    assert {"resource_pack_name", "resource_pack_id", "resource_pack_type", "purchase_time"} <= set(pack)
    assert pack["effective_time"] <= time.time() * 1000 < pack["invalid_time"]


def test_costs_check_authentication_before_parameters(sim: KlingSimulator) -> None:
    anonymous = httpx.get(f"{sim.base_url}/account/costs")
    with _as(sim, "key-a") as a:
        missing = a.get("/account/costs", params={"start_time": 1})
        backwards = a.get("/account/costs", params={"start_time": 2000, "end_time": 1000})

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, 1001)
    assert (missing.status_code, missing.json()["code"]) == (400, 1201)
    assert "end_time" in missing.json()["message"]
    assert backwards.status_code == 400


def test_costs_filter_by_pack_name_and_time(sim: KlingSimulator) -> None:
    now = int(time.time() * 1000)
    sim.set_resource_packs(
        [
            {"resource_pack_name": "Images 100", "total_quantity": 100},
            {"resource_pack_name": "Old", "effective_time": now - 10_000, "invalid_time": now - 5_000},
        ],
        account="acme",
    )
    with _as(sim, "key-b") as b:
        by_name = _costs(b, resource_pack_name="Images 100").json()["data"]["resource_pack_subscribe_infos"]
        everything = b.get(
            "/account/costs", params={"start_time": now - 20_000, "end_time": now + 60_000}
        ).json()

    assert [pack["resource_pack_name"] for pack in by_name] == ["Images 100"]
    statuses = {
        p["resource_pack_name"]: p["status"] for p in everything["data"]["resource_pack_subscribe_infos"]
    }
    assert statuses == {"Images 100": "online", "Old": "expired"}


def test_used_up_packs_refuse_creates_with_1102_and_failed_tasks_cost_nothing(sim: KlingSimulator) -> None:
    sim.set_resource_packs([{"total_quantity": 4}], account="acme")
    with _as(sim, "key-a") as a:
        first = a.post(URL, json={**BODY, "n": 2})  # 4 units
        failing = a.post(URL, json={**BODY, "prompt": "x #error"})  # fails: charged nothing
        refused = a.post(URL, json=BODY)

    assert first.status_code == failing.status_code == 200
    assert (refused.status_code, refused.json()["code"]) == (429, 1102)
    assert sim.resource_packs("acme")[0]["status"] == "runOut"


def test_resource_packs_through_the_control_route(sim: KlingSimulator) -> None:
    route = f"{sim.root_url}/_sim/accounts/acme/resource_packs"

    replaced = httpx.post(route, json=[{"total_quantity": 50, "remaining_quantity": 7}])

    assert replaced.status_code == 200
    assert httpx.get(route).json()[0]["remaining_quantity"] == 7
    assert httpx.post(route, json=[{"total_quantity": 5, "remaining_quantity": 9}]).status_code == 400


def test_answers_carry_unit_and_balance_deductions_and_watermark_urls(sim: KlingSimulator) -> None:
    with _as(sim, "key-a") as a:
        created = a.post(URL, json={**BODY, "n": 2, "watermark_info": {"enabled": True}}).json()["data"]
        task = a.get(f"{URL}/{created['task_id']}").json()["data"]
        images = task["task_result"]["images"]
        plain, marked = httpx.get(images[0]["url"]), httpx.get(images[0]["watermark_url"])

    assert created["task_result"] == {}
    assert "final_unit_deduction" not in created
    assert task["final_unit_deduction"] == "4"
    assert task["final_balance_deduction"]["quota"] == "4"
    assert all(image["watermark_url"] != image["url"] for image in images)
    assert plain.status_code == marked.status_code == 200
    assert marked.content.startswith(b"\x89PNG") and marked.content != plain.content


def test_no_watermark_url_without_a_watermark_request(sim: KlingSimulator) -> None:
    with _as(sim, "key-a") as a:
        task_id = a.post(URL, json=BODY).json()["data"]["task_id"]
        (image,) = a.get(f"{URL}/{task_id}").json()["data"]["task_result"]["images"]

    assert "watermark_url" not in image
    assert httpx.get(image["url"].replace("/0.png", "/watermarked/0.png")).status_code == 404
