"""Fault injection, counters and the control endpoint of the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator

PROMPT = {"model_name": "kling-v1", "prompt": "a quiet street", "n": 1}


@pytest.fixture
def client(kling_simulator: KlingSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": "Bearer test-key"}
    with httpx.Client(base_url=kling_simulator.base_url, headers=headers, timeout=10) as http:
        yield http


def _create(client: httpx.Client) -> httpx.Response:
    return client.post("/v1/images/generations", json=PROMPT)


@pytest.mark.parametrize(("status", "code"), [(500, 5000), (503, 5001), (504, 5002)])
def test_fail_next_answers_5xx_for_the_next_k_requests_only(
    client: httpx.Client, kling_simulator: KlingSimulator, status: int, code: int
) -> None:
    kling_simulator.fail_next(2, status=status)

    answers = [_create(client) for _ in range(3)]

    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].json()["code"] == code
    assert len(kling_simulator.tasks()) == 1


def test_rate_limit_next_answers_429_1303_with_retry_after(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.rate_limit_next(1, retry_after=2)

    limited, passed = _create(client), _create(client)

    assert (limited.status_code, limited.json()["code"]) == (429, 1303)
    assert limited.headers["retry-after"] == "2"
    assert passed.status_code == 200


def test_rate_limit_without_retry_after_sends_no_header(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.rate_limit_next(1)

    assert "retry-after" not in _create(client).headers


def test_malformed_next_answers_a_body_that_is_not_json(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.malformed_next(1)

    response = client.get("/v1/images/generations")

    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert client.get("/v1/images/generations").json()["code"] == 0


def test_delay_is_added_to_api_answers_and_can_be_removed(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    kling_simulator.set_delay(0.05)
    assert kling_simulator.settings.delay == 0.05
    assert client.get("/v1/images/generations").status_code == 200

    kling_simulator.set_delay(0)
    assert kling_simulator.settings.delay == 0


def test_counters_count_each_kind_of_call_per_key(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    task_id = _create(client).json()["data"]["task_id"]
    client.get(f"/v1/images/generations/{task_id}")
    client.get(f"/v1/images/generations/{task_id}")
    client.get("/v1/images/generations")
    kling_simulator.fail_next(1)
    _create(client)

    counters = kling_simulator.counters("test-key")

    assert counters == {
        "requests": 5,
        "creates": 1,
        "queries": 2,
        "lists": 1,
        "images": 0,
        "callbacks": 0,
        "faults": 1,
    }
    assert kling_simulator.counters() == {"test-key": counters}
    kling_simulator.reset_counters()
    assert kling_simulator.counters("test-key")["creates"] == 0


def test_reset_forgets_tasks_and_faults_and_restores_settings(kling_simulator: KlingSimulator) -> None:
    kling_simulator.set_slots(1)
    kling_simulator.set_latency(5)
    kling_simulator.fail_next(3)

    kling_simulator.reset()

    assert kling_simulator.tasks() == []
    assert (kling_simulator.settings.slots, kling_simulator.settings.latency) == (8, 0.0)
    assert kling_simulator.state.faults().fail_next == 0


def test_invalid_settings_are_refused(kling_simulator: KlingSimulator) -> None:
    with pytest.raises(ValueError, match="latency"):
        kling_simulator.set_latency(-1)
    with pytest.raises(ValueError, match="status"):
        kling_simulator.fail_next(1, status=404)


def test_control_endpoint_sets_faults_and_settings_and_reads_counters(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    control = httpx.Client(base_url=f"{kling_simulator.root_url}/_sim")

    assert control.get("/health").json() == {"status": "ok"}
    state = control.post("/settings", json={"slots": 3, "fail_marker": "#bad"}).json()
    assert state["settings"]["slots"] == 3
    assert kling_simulator.settings.fail_marker == "#bad"
    assert control.post("/faults", json={"rate_limit_next": 1, "retry_after": 1}).status_code == 200
    assert _create(client).status_code == 429
    assert _create(client).status_code == 200
    assert control.get("/counters", params={"api_key": "test-key"}).json()["creates"] == 1
    assert len(control.get("/tasks").json()) == 1

    assert control.post("/counters/reset").status_code == 200
    assert control.get("/counters").json() == {}
    assert control.post("/reset").status_code == 200
    control.close()
    assert kling_simulator.tasks() == []
    assert kling_simulator.settings.slots == 8


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("settings", {"slots": -1}),
        ("settings", {"colour": "red"}),
        ("faults", {"fail_next": 1, "status": 200}),
    ],
)
def test_control_endpoint_refuses_bad_values_with_400(
    kling_simulator: KlingSimulator, path: str, body: dict[str, object]
) -> None:
    response = httpx.post(f"{kling_simulator.root_url}/_sim/{path}", json=body)

    assert response.status_code == 400
    assert response.json()["error"]
