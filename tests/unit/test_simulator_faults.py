"""Fault injection, counters and the control endpoint of the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator
from airflow_provider_kling.testing.tasks import CONTENT_POLICY_MESSAGE, GENERATION_ERROR_MESSAGE

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
        "tasks": 0,
        "images": 0,
        "videos": 0,
        "callbacks": 0,
        "faults": 1,
        "costs": 0,
        "billing": 0,
    }
    assert kling_simulator.counters() == {kling_simulator.key_fingerprint("test-key"): counters}
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
    fingerprint = kling_simulator.key_fingerprint("test-key")
    assert control.get("/counters", params={"key": fingerprint}).json()["creates"] == 1
    assert control.get("/counters").json() == {fingerprint: kling_simulator.counters("test-key")}
    (task,) = control.get("/tasks").json()
    assert task["key"] == fingerprint
    assert control.get("/tasks", params={"key": fingerprint}).json() == [task]

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


# Faults for "one paid generation per request" (issue 9) and "store nothing wrong" (issue 10).


def _control(simulator: KlingSimulator, path: str, body: dict[str, object]) -> httpx.Response:
    response = httpx.post(f"{simulator.root_url}/_sim/{path}", json=body)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("via", ["handle", "control"])
def test_lost_create_answer_held_past_the_read_timeout_still_creates_the_task(
    kling_simulator: KlingSimulator, via: str
) -> None:
    if via == "handle":
        kling_simulator.lose_next_create_answers(1, mode="hold", hold_seconds=2)
    else:
        _control(kling_simulator, "faults", {"lose_next_create_answers": {"k": 1, "hold_seconds": 2}})
    with httpx.Client(
        base_url=kling_simulator.base_url, headers={"Authorization": "Bearer test-key"}
    ) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post("/v1/images/generations", json=PROMPT, timeout=httpx.Timeout(10, read=0.3))
        answered = http.post("/v1/images/generations", json=PROMPT, timeout=10)

    assert answered.status_code == 200
    assert len(kling_simulator.tasks()) == 2
    assert kling_simulator.counters("test-key")["creates"] == 2


@pytest.mark.parametrize("via", ["handle", "control"])
def test_lost_create_answer_by_reset_breaks_the_connection_after_processing(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    if via == "handle":
        kling_simulator.lose_next_create_answers(1, mode="reset")
    else:
        _control(kling_simulator, "faults", {"lose_next_create_answers": {"mode": "reset"}})

    with pytest.raises(httpx.RemoteProtocolError):
        _create(client)

    (task,) = kling_simulator.tasks()
    assert task["request"]["prompt"] == PROMPT["prompt"]
    assert kling_simulator.counters("test-key")["creates"] == 1
    assert _create(client).status_code == 200


@pytest.mark.parametrize("via", ["handle", "control"])
def test_garbled_create_answer_is_html_after_processing(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    if via == "handle":
        kling_simulator.garble_next_create_answers(1)
    else:
        _control(kling_simulator, "faults", {"garble_next_create_answers": 1})

    response = _create(client)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Bad Gateway" in response.text
    assert kling_simulator.counters("test-key")["creates"] == 1
    assert len(kling_simulator.tasks()) == 1
    assert _create(client).json()["code"] == 0


@pytest.mark.parametrize("via", ["handle", "control"])
def test_ignored_external_task_id_is_accepted_but_not_remembered(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    if via == "handle":
        kling_simulator.set_ignore_external_task_id(True)
    else:
        _control(kling_simulator, "settings", {"ignore_external_task_id": True})

    first = _create_with(client, external_task_id="airflow-run-1")
    second = _create_with(client, external_task_id="airflow-run-1")

    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["data"]["task_info"] == {}
    assert client.get("/v1/images/generations/airflow-run-1").status_code == 404
    task_id = first.json()["data"]["task_id"]
    assert client.get(f"/v1/images/generations/{task_id}").json()["data"]["task_info"] == {}
    assert kling_simulator.counters("test-key")["creates"] == 2


def _create_with(client: httpx.Client, **fields: object) -> httpx.Response:
    return client.post("/v1/images/generations", json={**PROMPT, **fields})


def _final(client: httpx.Client, task_id: str) -> dict[str, object]:
    data: dict[str, object] = client.get(f"/v1/images/generations/{task_id}").json()["data"]
    return data


@pytest.mark.parametrize("via", ["handle", "control"])
def test_error_marker_fails_the_task_for_a_reason_that_is_not_content_policy(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    if via == "handle":
        kling_simulator.set_error_marker("#boom")
    else:
        _control(kling_simulator, "settings", {"error_marker": "#boom"})

    broken = _create_with(client, prompt="a cat #boom").json()["data"]["task_id"]
    refused = _create_with(client, prompt="a cat #fail").json()["data"]["task_id"]

    assert _final(client, broken)["task_status"] == "failed"
    assert _final(client, broken)["task_status_msg"] == GENERATION_ERROR_MESSAGE
    assert _final(client, refused)["task_status_msg"] == CONTENT_POLICY_MESSAGE


def test_default_error_marker_is_hash_error(client: httpx.Client) -> None:
    task_id = _create_with(client, prompt="a cat #error").json()["data"]["task_id"]

    task = _final(client, task_id)

    assert (task["task_status"], task["task_status_msg"]) == ("failed", GENERATION_ERROR_MESSAGE)
    assert "risk" not in GENERATION_ERROR_MESSAGE


def _image_url(client: httpx.Client) -> str:
    created = _create(client)
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    images = client.get(f"/v1/images/generations/{task_id}").json()["data"]["task_result"]["images"]
    url: str = images[0]["url"]
    return url


def _set_image_fault(simulator: KlingSimulator, via: str, mode: str | None, **kwargs: object) -> None:
    if via == "handle":
        simulator.image_fault(mode, **kwargs)  # type: ignore[arg-type]
    else:
        _control(simulator, "faults", {"image_fault": None if mode is None else {"mode": mode, **kwargs}})


@pytest.mark.parametrize("via", ["handle", "control"])
def test_image_fault_html_answers_an_access_denied_page_until_cleared(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    url = _image_url(client)
    _set_image_fault(kling_simulator, via, "html")

    answers = [httpx.get(url) for _ in range(2)]
    _set_image_fault(kling_simulator, via, None)

    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert "Access denied" in answer.text
    assert httpx.get(url).content.startswith(b"\x89PNG")


@pytest.mark.parametrize("via", ["handle", "control"])
def test_image_fault_redirect_answers_302_to_the_location_for_k_downloads(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    url = _image_url(client)
    _set_image_fault(
        kling_simulator, via, "redirect", k=1, location="http://169.254.169.254/latest/meta-data"
    )

    redirected, normal = httpx.get(url), httpx.get(url)

    assert redirected.status_code == 302
    assert redirected.headers["location"] == "http://169.254.169.254/latest/meta-data"
    assert normal.status_code == 200


@pytest.mark.parametrize("length", [True, False])
def test_image_fault_huge_streams_size_bytes_of_png(
    client: httpx.Client, kling_simulator: KlingSimulator, length: bool
) -> None:
    url = _image_url(client)
    kling_simulator.image_fault("huge", size=3_000_000, length=length)

    with httpx.stream("GET", url) as response:
        assert response.headers["content-type"] == "image/png"
        assert ("content-length" in response.headers) is length
        received = b"".join(response.iter_bytes())

    assert len(received) == 3_000_000
    assert received.startswith(b"\x89PNG\r\n\x1a\n")


def test_image_fault_huge_through_the_control_route(
    client: httpx.Client, kling_simulator: KlingSimulator
) -> None:
    url = _image_url(client)
    _control(kling_simulator, "faults", {"image_fault": {"mode": "huge", "k": 1, "size": 1000}})

    response = httpx.get(url)

    assert (len(response.content), response.headers["content-length"]) == (1000, "1000")


@pytest.mark.parametrize("via", ["handle", "control"])
def test_image_fault_short_sends_fewer_bytes_than_content_length(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    url = _image_url(client)
    _set_image_fault(kling_simulator, via, "short", k=1)

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize("via", ["handle", "control"])
def test_image_fault_not_image_claims_png_but_has_no_image_signature(
    client: httpx.Client, kling_simulator: KlingSimulator, via: str
) -> None:
    url = _image_url(client)
    _set_image_fault(kling_simulator, via, "not_image")

    response = httpx.get(url)

    assert response.headers["content-type"] == "image/png"
    assert not response.content.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF"))


@pytest.mark.parametrize("bad", [{"mode": "sideways"}, {"mode": "redirect"}, {"mode": "huge", "size": -1}])
def test_image_fault_refuses_bad_arguments(kling_simulator: KlingSimulator, bad: dict[str, object]) -> None:
    response = httpx.post(f"{kling_simulator.root_url}/_sim/faults", json={"image_fault": bad})

    assert response.status_code == 400
    with pytest.raises(ValueError):
        kling_simulator.image_fault(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "indices"), [("normal", [0, 1, 2]), ("missing", [None, None, None]), ("repeat", [0, 0, 0])]
)
@pytest.mark.parametrize("via", ["handle", "control"])
def test_image_index_mode_changes_the_index_of_rendered_images(
    client: httpx.Client, kling_simulator: KlingSimulator, mode: str, indices: list[int | None], via: str
) -> None:
    if via == "handle":
        kling_simulator.set_image_index_mode(mode)
    else:
        _control(kling_simulator, "settings", {"image_index_mode": mode})
    task_id = _create_with(client, n=3).json()["data"]["task_id"]

    images = client.get(f"/v1/images/generations/{task_id}").json()["data"]["task_result"]["images"]

    assert [image.get("index") for image in images] == indices
    assert len({image["url"] for image in images}) == 3


def test_api_under_moved_answers_308_to_the_same_url_without_the_prefix(
    kling_simulator: KlingSimulator,
) -> None:
    moved = f"{kling_simulator.root_url}/moved/kling/v1/images/generations"

    post = httpx.post(moved, json=PROMPT, headers={"Authorization": "Bearer test-key"})
    get = httpx.get(f"{moved}/123?x=1")

    assert post.status_code == get.status_code == 308
    assert post.headers["location"] == f"{kling_simulator.base_url}/v1/images/generations"
    assert get.headers["location"] == f"{kling_simulator.base_url}/v1/images/generations/123?x=1"
    assert kling_simulator.tasks() == []
    followed = httpx.post(
        moved, json=PROMPT, headers={"Authorization": "Bearer test-key"}, follow_redirects=True
    )
    assert followed.json()["code"] == 0


def test_control_routes_and_tasks_show_a_fingerprint_of_the_key_never_the_key() -> None:
    key = "sk-live-0123456789abcdef"
    with KlingSimulator(api_key=key) as simulator:
        headers = {"Authorization": f"Bearer {key}"}
        httpx.post(f"{simulator.base_url}/v1/images/generations", json=PROMPT, headers=headers)
        control = [
            httpx.get(f"{simulator.root_url}/_sim/{path}").text
            for path in ("tasks", "counters", "settings", "health")
        ]
        handle = [
            repr(simulator),
            repr(simulator.state.config),
            str(simulator.tasks()),
            str(simulator.counters()),
        ]

    fingerprint = simulator.key_fingerprint(key)
    assert len(fingerprint) == 12
    assert fingerprint in control[0] and fingerprint in control[1]
    for shown in control + handle:
        assert key not in shown
