"""The simulator's Kling API: envelope, auth, validation, query, list, progression, slots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from airflow_provider_kling.models import Envelope, KlingTask, TaskStatus
from airflow_provider_kling.testing import KlingSimulator

SECRET_KEY = "secret-key-of-access-key-one-0123456789"
PROMPT = {"model_name": "kling-v1", "prompt": "a lighthouse at dusk", "n": 1}


@pytest.fixture
def client(kling_simulator: KlingSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {kling_simulator.api_key}"}
    with httpx.Client(base_url=kling_simulator.base_url, headers=headers, timeout=10) as http:
        yield http


def create(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/v1/images/generations", json={**PROMPT, **fields})


def wait_for_end(client: httpx.Client, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = client.get(f"/v1/images/generations/{task_id}").json()["data"]
        if TaskStatus(task["task_status"]).is_final or time.monotonic() > deadline:
            return task
        time.sleep(0.02)


def test_create_answers_klings_envelope_with_a_numeric_task_id(client: httpx.Client) -> None:
    response = create(client, external_task_id="run-1")

    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["message"]) == (0, "SUCCEED")
    assert body["request_id"]
    task = KlingTask.model_validate(Envelope.model_validate(body).data)
    assert task.task_id.isdigit()
    assert task.task_status is TaskStatus.SUBMITTED
    assert task.external_task_id == "run-1"
    assert body["data"]["created_at"] > 1_600_000_000_000  # Unix milliseconds


def test_task_is_succeed_on_first_query_with_zero_latency(client: httpx.Client) -> None:
    task_id = create(client, n=3).json()["data"]["task_id"]

    task = client.get(f"/v1/images/generations/{task_id}").json()["data"]

    assert task["task_status"] == "succeed"
    assert [image["index"] for image in task["task_result"]["images"]] == [0, 1, 2]
    assert task["final_unit_deduction"] == "3"


def test_task_moves_from_submitted_through_processing_to_succeed(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.set_latency(0.6)
    task_id = create(client).json()["data"]["task_id"]

    seen = []
    deadline = time.monotonic() + 120
    while not seen or seen[-1] != "succeed":
        assert time.monotonic() < deadline
        status = client.get(f"/v1/images/generations/{task_id}").json()["data"]["task_status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.02)

    assert seen[-1] == "succeed"
    assert set(seen) <= {"submitted", "processing", "succeed"}
    assert seen == sorted(seen, key=["submitted", "processing", "succeed"].index)


def test_api_answers_under_both_the_official_and_the_reseller_prefix(kling_simulator: KlingSimulator) -> None:
    headers = {"Authorization": "Bearer test-key"}
    # Kling's own hosts no longer serve kling-v1 (the reseller's prefix still does).
    body = {**PROMPT, "model_name": "kling-v3"}
    official = httpx.post(f"{kling_simulator.root_url}/v1/images/generations", json=body, headers=headers)
    task_id = official.json()["data"]["task_id"]

    reseller = httpx.get(f"{kling_simulator.base_url}/v1/images/generations/{task_id}", headers=headers)

    assert official.status_code == reseller.status_code == 200
    assert reseller.json()["data"]["task_id"] == task_id


@pytest.mark.parametrize(
    ("authorization", "code"),
    [(None, 1001), ("", 1001), ("Bearer", 1001), ("Bearer wrong-key", 1002), ("Basic dGVzdA==", 1002)],
)
def test_missing_or_wrong_key_gets_401_with_klings_code(
    kling_simulator: KlingSimulator, authorization: str | None, code: int
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = httpx.post(f"{kling_simulator.base_url}/v1/images/generations", json=PROMPT, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert "wrong-key" not in response.text


@pytest.fixture(scope="module")
def jwt_simulator() -> Iterator[KlingSimulator]:
    with KlingSimulator(jwt_keys={"ak-1": SECRET_KEY}) as simulator:
        yield simulator


def _jwt(secret: str | None = None, **offsets: int) -> str:
    now = int(time.time())
    secret = secret or SECRET_KEY
    claims = {"iss": "ak-1", "exp": now + offsets.get("exp", 1800), "nbf": now + offsets.get("nbf", -5)}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})


# The token is signed when the test runs, not when pytest collects the module: a token made at
# collection is older by the time the test sends it, by more than its 600 s offset on a busy machine.
@pytest.mark.parametrize(
    ("claims", "status", "code"),
    [
        ({}, 200, 0),
        ({"exp": -60}, 401, 1004),
        ({"nbf": 600}, 401, 1003),
        ({"secret": "not-the-secret-key-of-this-access-key"}, 401, 1002),
    ],
    ids=["valid", "expired", "not-yet-valid", "bad-signature"],
)
def test_jwt_from_access_and_secret_key_is_checked(
    jwt_simulator: KlingSimulator, claims: dict[str, Any], status: int, code: int
) -> None:
    token = _jwt(**claims)
    response = httpx.post(
        f"{jwt_simulator.base_url}/v1/images/generations",
        json=PROMPT,
        headers={"Authorization": f"Bearer {token}"},
    )

    assert (response.status_code, response.json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("fields", "named"),
    [({"n": 10}, "n"), ({"model_name": "kling-v9"}, "model_name"), ({"aspect_ratio": "5:4"}, "aspect_ratio")],
)
def test_invalid_request_gets_400_1201_naming_the_field(
    client: httpx.Client, fields: dict[str, Any], named: str
) -> None:
    response = create(client, **fields)

    assert response.status_code == 400
    assert response.json()["code"] == 1201
    assert named in response.json()["message"]


def test_body_that_is_not_json_gets_400_1201(client: httpx.Client) -> None:
    response = client.post("/v1/images/generations", content=b"prompt=cat")

    assert (response.status_code, response.json()["code"]) == (400, 1201)


def test_task_is_found_by_task_id_and_by_external_task_id(client: httpx.Client) -> None:
    task_id = create(client, external_task_id="dag-run-7").json()["data"]["task_id"]

    by_id = client.get(f"/v1/images/generations/{task_id}").json()["data"]
    by_external = client.get("/v1/images/generations/dag-run-7").json()["data"]

    assert by_id["task_id"] == by_external["task_id"] == task_id


def test_unknown_task_gets_404_1203(client: httpx.Client) -> None:
    response = client.get("/v1/images/generations/123456789")

    assert (response.status_code, response.json()["code"]) == (404, 1203)


def test_a_key_sees_only_its_own_tasks() -> None:
    with KlingSimulator(extra_keys=["other-key"]) as simulator:
        other = {"Authorization": "Bearer other-key"}
        url = f"{simulator.base_url}/v1/images/generations"
        owner = {"Authorization": "Bearer test-key"}
        mine = httpx.post(url, json=PROMPT, headers=owner).json()["data"]["task_id"]

        query = httpx.get(f"{simulator.base_url}/v1/images/generations/{mine}", headers=other)
        listed = httpx.get(f"{simulator.base_url}/v1/images/generations", headers=other)

    assert query.status_code == 404
    assert listed.json()["data"] == []


def test_duplicate_external_task_id_gets_400_1201_saying_it_exists(client: httpx.Client) -> None:
    assert create(client, external_task_id="once").status_code == 200

    response = create(client, external_task_id="once")

    assert (response.status_code, response.json()["code"]) == (400, 1201)
    assert "already exists" in response.json()["message"]


def test_list_pages_newest_first(client: httpx.Client) -> None:
    ids = [create(client, external_task_id=f"t{i}").json()["data"]["task_id"] for i in range(5)]

    first = client.get("/v1/images/generations", params={"pageNum": 1, "pageSize": 2}).json()["data"]
    third = client.get("/v1/images/generations", params={"pageNum": 3, "pageSize": 2}).json()["data"]
    everything = client.get("/v1/images/generations").json()["data"]

    assert [t["task_id"] for t in first] == ids[::-1][:2]
    assert [t["task_id"] for t in third] == ids[:1]
    assert len(everything) == 5


@pytest.mark.parametrize(
    "params", [{"pageNum": 0}, {"pageNum": 1001}, {"pageSize": 0}, {"pageSize": 501}, {"pageSize": "ten"}]
)
def test_list_paging_out_of_range_gets_400_1201(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get("/v1/images/generations", params=params)

    assert (response.status_code, response.json()["code"]) == (400, 1201)
    assert next(iter(params)) in response.json()["message"]


def test_slots_limit_concurrent_tasks_and_free_up_when_tasks_end(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.set_slots(4)
    kling_simulator.set_latency(0.3)

    answers = [create(client, n=2) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == 1303
    assert answers[2].json()["message"] == "parallel task over resource pack limit"
    for answer in answers[:2]:
        assert wait_for_end(client, answer.json()["data"]["task_id"])["task_status"] == "succeed"
    assert create(client, n=2).status_code == 200


def test_failed_tasks_release_their_slots_too(client: httpx.Client, kling_simulator: KlingSimulator) -> None:
    kling_simulator.set_slots(2)
    kling_simulator.set_latency(0.2)
    task_id = create(client, n=2, prompt="something #fail").json()["data"]["task_id"]

    assert create(client).status_code == 429
    assert wait_for_end(client, task_id)["task_status"] == "failed"
    assert create(client, n=2).status_code == 200


def test_prompt_with_fail_marker_ends_failed_with_a_content_policy_message(client: httpx.Client) -> None:
    task_id = create(client, prompt="a forbidden scene #fail").json()["data"]["task_id"]

    task = wait_for_end(client, task_id)

    assert task["task_status"] == "failed"
    assert "risk control" in task["task_status_msg"]
    assert task["task_result"] == {}  # Kling sends it always; some clients crash without it
    assert task["final_unit_deduction"] == "0"
