"""Every documented Kling error reachable on demand, on the handle and through the control routes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator

BODY = {"model_name": "kling-v1", "prompt": "a lantern", "n": 1}


@pytest.fixture
def client(kling_simulator: KlingSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": "Bearer test-key"}
    with httpx.Client(base_url=kling_simulator.base_url, headers=headers, timeout=10) as http:
        yield http


def _create(client: httpx.Client, **fields: object) -> httpx.Response:
    return client.post("/v1/images/generations", json={**BODY, **fields})


@pytest.mark.parametrize(
    ("code", "status"),
    [(1101, 429), (1102, 429), (1103, 403), (1301, 400), (1302, 429), (1304, 429), (5001, 503), (1100, 429)],
)
@pytest.mark.parametrize("via", ["handle", "control"])
def test_error_next_answers_any_documented_code_with_its_status(
    client: httpx.Client, kling_simulator: KlingSimulator, code: int, status: int, via: str
) -> None:
    if via == "handle":
        kling_simulator.error_next(code, k=2)
    else:
        response = httpx.post(
            f"{kling_simulator.root_url}/_sim/faults", json={"error_next": {"code": code, "k": 2}}
        )
        assert response.status_code == 200

    answers = [_create(client), client.get("/v1/images/generations"), _create(client)]

    assert [(a.status_code, a.json()["code"]) for a in answers[:2]] == [(status, code)] * 2
    assert answers[2].status_code == 200
    assert kling_simulator.counters("test-key")["creates"] == 1


def test_error_next_refuses_an_undocumented_code(kling_simulator: KlingSimulator) -> None:
    with pytest.raises(ValueError, match="documented"):
        kling_simulator.error_next(4242)


def test_rate_limit_1302_carries_retry_after_when_asked(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.error_next(1302, retry_after=3)

    response = _create(client)

    assert (response.status_code, response.json()["code"], response.headers["retry-after"]) == (
        429,
        1302,
        "3",
    )


def test_arrears_refuse_creates_with_1101_but_not_queries(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.configure(in_arrears=True)

    refused, listed = _create(client), client.get("/v1/images/generations")

    assert (refused.status_code, refused.json()["code"]) == (429, 1101)
    assert listed.status_code == 200
    assert kling_simulator.tasks() == []


def test_denied_model_answers_403_1103_and_other_models_still_work(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    httpx.post(f"{kling_simulator.root_url}/_sim/settings", json={"denied_models": ["kling-v3"]})

    denied, allowed = _create(client, model_name="kling-v3"), _create(client, model_name="kling-v2")

    assert (denied.status_code, denied.json()["code"]) == (403, 1103)
    assert "kling-v3" in denied.json()["message"]
    assert allowed.status_code == 200


def test_refuse_marker_is_refused_at_create_with_1301_and_creates_no_task(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    response = _create(client, prompt="something #refuse")

    assert (response.status_code, response.json()["code"]) == (400, 1301)
    assert kling_simulator.tasks() == []
    assert kling_simulator.counters("test-key")["creates"] == 0


def test_ip_allowlist_refuses_other_addresses_with_1304(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.configure(ip_allowlist=["10.0.0.1"])
    refused = _create(client)
    kling_simulator.configure(ip_allowlist=["127.0.0.1"])
    allowed = _create(client)

    assert (refused.status_code, refused.json()["code"]) == (429, 1304)
    assert allowed.status_code == 200


def test_maintenance_answers_503_5001_before_authentication(kling_simulator: KlingSimulator) -> None:
    kling_simulator.configure(maintenance=True)

    response = httpx.post(f"{kling_simulator.base_url}/v1/images/generations", json=BODY)

    assert (response.status_code, response.json()["code"]) == (503, 5001)
