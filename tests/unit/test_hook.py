"""KlingHook, sync side: connection settings, auth, every call, retries, polling, downloads, secrecy.

HTTP is mocked with ``responses``; connections come from ``AIRFLOW_CONN_*`` variables. Waits go
through the clock each hook is given (``tests.unit.fakes.FakeClock``), so no test sleeps.
The hook logs through structlog (not the stdlib ``logging`` tree that ``caplog`` sees), so its
records are captured with ``structlog.testing.capture_logs``; ``caplog`` covers urllib3 and friends.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import requests
import responses
import structlog
from responses import matchers

from airflow_provider_kling.errors import (
    KlingAccountError,
    KlingAuthError,
    KlingConnectionError,
    KlingError,
    KlingInvalidRequestError,
    KlingNotFoundError,
    KlingRateLimitError,
    KlingRequestValidationError,
    KlingResponseError,
    KlingResultUnavailableError,
    KlingServerError,
    KlingTaskFailedError,
    KlingTaskTimeoutError,
)
from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL
from airflow_provider_kling.hooks.auth import JWT_LIFETIME, JWT_RENEW_MARGIN, JwtToken
from airflow_provider_kling.hooks.create import ids_honoured
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.models.task import TaskStatus
from tests.unit.fakes import FakeClock

CONN_ID = "kling_test"
BASE_URL = "http://127.0.0.1:8765/kling"
GENERATIONS = f"{BASE_URL}/v1/images/generations"
IMAGE_URL = "http://127.0.0.1:8765/images/867283741759111202-0.png"
API_KEY = "sk-unit-api-key-0123456789abcdef"
ACCESS_KEY = "ak-unit-access-key"
SECRET_KEY = "sec-unit-secret-key-fedcba9876543210"
TASK_ID = "867283741759111202"
REQUEST = {"model_name": "kling-v2", "prompt": "a red fox in fresh snow", "n": 1}


# -- helpers and fixtures ------------------------------------------------------------------------


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str = CONN_ID, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "kling", **fields}))


def task_json(task_id: str = TASK_ID, status: str = "submitted", **fields: Any) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "task_status": status,
        "task_info": {},
        "created_at": 1722769557708,
        "updated_at": 1722769557708,
        **fields,
    }


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": "req-ok", "data": data}


def kling_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "req-err"}


def task_url(task_id: str = TASK_ID) -> str:
    return f"{GENERATIONS}/{task_id}"


@pytest.fixture
def clock() -> FakeClock:
    """The clock every hook here is given: waits are recorded, never slept."""
    return FakeClock()


@pytest.fixture
def kling_api() -> Iterator[responses.RequestsMock]:
    """Mocked HTTP; every registered answer must be used, and an unregistered URL fails the call."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, clock) -> KlingHook:
    """A hook on a connection with an API key, at a host known to honour external task ids
    (so a create is not followed by a query that finds that out)."""
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra={"external_task_id_support": "yes"})
    return KlingHook(CONN_ID, clock=clock)


@pytest.fixture
def jwt_hook(monkeypatch: pytest.MonkeyPatch, clock) -> KlingHook:
    """A hook on a connection with an access key (login) and a secret key (password)."""
    set_connection(monkeypatch, host=BASE_URL, login=ACCESS_KEY, password=SECRET_KEY)
    return KlingHook(CONN_ID, clock=clock)


@pytest.fixture
def hook_logs() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event (the hook's ``self.log``) down to DEBUG, raw: before any masking processor."""
    airflow_wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as events:
            yield events
    finally:
        structlog.configure(wrapper_class=airflow_wrapper)


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [str(event["event"]) for event in events]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bearer(call: Any) -> str:
    return call.request.headers["Authorization"].removeprefix("Bearer ")


def decode(token: str) -> dict[str, Any]:
    return jwt.decode(token, SECRET_KEY, algorithms=["HS256"])


# -- settings from the connection ----------------------------------------------------------------


def test_empty_host_means_the_default_base_url(monkeypatch):
    set_connection(monkeypatch, password=API_KEY)

    assert KlingHook(CONN_ID).settings.base_url == DEFAULT_BASE_URL


def test_trailing_slash_of_the_host_is_stripped(monkeypatch):
    set_connection(monkeypatch, host=f"{BASE_URL}/", password=API_KEY)

    assert KlingHook(CONN_ID).settings.base_url == BASE_URL


def test_password_alone_is_an_api_key(hook):
    settings = hook.settings

    assert (settings.api_key, settings.access_key, settings.secret_key) == (API_KEY, None, None)


def test_login_and_password_are_an_access_key_and_a_secret_key(jwt_hook):
    settings = jwt_hook.settings

    assert (settings.api_key, settings.access_key, settings.secret_key) == (None, ACCESS_KEY, SECRET_KEY)


def test_settings_have_default_timeouts_and_retries(hook):
    settings = hook.settings

    assert (settings.connect_timeout, settings.read_timeout, settings.max_retries, settings.proxy) == (
        10.0,
        60.0,
        5,
        None,
    )


def test_extras_set_timeouts_retries_and_proxy_and_reach_the_request(monkeypatch, kling_api, clock):
    proxy = "http://127.0.0.1:3128"
    extra = {"connect_timeout": 3, "read_timeout": "45", "max_retries": 2, "proxy": proxy}
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra=extra)
    hook = KlingHook(CONN_ID, clock=clock)
    kling_api.get(task_url(), json=envelope(task_json()))

    hook.get_task(TASK_ID)

    settings = hook.settings
    assert (settings.connect_timeout, settings.read_timeout, settings.max_retries, settings.proxy) == (
        3.0,
        45.0,
        2,
        proxy,
    )
    sent = kling_api.calls[0].request.req_kwargs
    assert sent["timeout"] == (3.0, 45.0)
    assert sent["proxies"]["http"] == proxy
    assert sent["proxies"]["https"] == proxy


def test_max_retries_zero_in_extras_means_no_retry(monkeypatch, kling_api, clock):
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra={"max_retries": 0})
    kling_api.get(task_url(), status=500, json=kling_error(5000, "internal error"))

    with pytest.raises(KlingServerError):
        KlingHook(CONN_ID, clock=clock).get_task(TASK_ID)

    assert len(kling_api.calls) == 1
    assert clock.waits == []


def test_max_retries_argument_overrides_the_extra(monkeypatch):
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra={"max_retries": 7})

    assert KlingHook(CONN_ID, max_retries=1).settings.max_retries == 1


@pytest.mark.parametrize("login", [None, ACCESS_KEY], ids=["no-login", "access-key-only"])
def test_connection_without_password_is_a_clear_auth_error(monkeypatch, login):
    set_connection(monkeypatch, host=BASE_URL, login=login)

    with pytest.raises(KlingAuthError, match=rf"Connection '{CONN_ID}' has no password.*API key"):
        KlingHook(CONN_ID).settings  # noqa: B018 - reading the settings is the act under test


@pytest.mark.parametrize("hook_fixture", ["hook", "jwt_hook"])
def test_repr_of_settings_and_hook_shows_no_key(request, hook_fixture):
    hook = request.getfixturevalue(hook_fixture)

    shown = repr(hook.settings) + repr(hook) + str(hook.settings) + repr(hook._jwt)

    assert BASE_URL in repr(hook.settings)
    for secret in (API_KEY, SECRET_KEY):
        assert secret not in shown


# -- create, get, list ---------------------------------------------------------------------------


def test_create_sends_the_validated_body_without_unset_fields_and_the_bearer_key(hook, kling_api):
    kling_api.post(GENERATIONS, json=envelope(task_json(task_info={"external_task_id": "batch-7"})))

    task = hook.create_task(
        **REQUEST, negative_prompt="", aspect_ratio="1:1", image_fidelity=0.4, external_task_id="batch-7"
    )

    sent = kling_api.calls[0].request
    assert json.loads(sent.body) == {
        **REQUEST,
        "aspect_ratio": "1:1",
        "image_fidelity": 0.4,
        "external_task_id": "batch-7",
    }
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert (task.task_id, task.task_status, task.external_task_id) == (
        TASK_ID,
        TaskStatus.SUBMITTED,
        "batch-7",
    )


def test_create_accepts_a_request_model(hook, kling_api):
    kling_api.post(
        GENERATIONS,
        json=envelope(task_json()),
        match=[matchers.json_params_matcher(REQUEST, strict_match=False)],
    )

    task = hook.create_task(ImageGenerationRequest(**REQUEST))

    assert task.task_id == TASK_ID


def test_create_without_external_id_sends_a_fresh_one_so_it_can_be_found_again(hook, kling_api):
    kling_api.post(GENERATIONS, json=envelope(task_json()))

    hook.create_task(**REQUEST)
    hook.create_task(**REQUEST)

    sent = [json.loads(call.request.body)["external_task_id"] for call in kling_api.calls]
    assert all(re.fullmatch(r"kling-[0-9a-f]{32}", external_id) for external_id in sent)
    assert sent[0] != sent[1]


def test_create_refuses_an_invalid_request_before_sending_anything(hook, kling_api):
    with pytest.raises(KlingRequestValidationError, match=r"n: .*(got 12)"):
        hook.create_task(model_name="kling-v2", prompt="a fox", n=12)

    assert len(kling_api.calls) == 0


def test_create_answer_without_a_task_is_a_response_error(hook, kling_api):
    kling_api.post(GENERATIONS, json=envelope({"unexpected": "shape"}))
    kling_api.get(task_url("batch-7"), status=404, json=kling_error(1203, "task not found"))

    with pytest.raises(KlingResponseError, match="task"):
        hook.create_task(**REQUEST, external_task_id="batch-7")

    # Each unreadable answer is followed by a query by external id; only "not found" allows a
    # resend, within the retry budget (5 by default).
    assert [call.request.method for call in kling_api.calls] == ["POST", "GET"] * 6


def test_get_by_task_id_reads_the_task_and_its_images(hook, kling_api):
    images = [{"index": 0, "url": "https://cdn.example/0.png"}, {"url": "https://cdn.example/1.png"}]
    kling_api.get(task_url(), json=envelope(task_json(status="succeed", task_result={"images": images})))

    task = hook.get_task(TASK_ID)

    assert kling_api.calls[0].request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert task.task_status == TaskStatus.SUCCEED
    assert [(image.index, image.url) for image in task.images] == [
        (0, "https://cdn.example/0.png"),
        (1, "https://cdn.example/1.png"),
    ]


def test_get_by_external_task_id_quotes_it_into_one_path_segment(hook, kling_api):
    external_id = "order:7#a?b&c"
    kling_api.get(
        re.compile(re.escape(GENERATIONS) + "/.+"),
        json=envelope(task_json(task_info={"external_task_id": external_id})),
    )

    task = hook.get_task(external_id)

    assert kling_api.calls[0].request.path_url == "/kling/v1/images/generations/order%3A7%23a%3Fb%26c"
    assert task.external_task_id == external_id


def test_get_of_an_unknown_task_is_not_found_and_find_returns_none(hook, kling_api):
    kling_api.get(task_url("nope"), status=404, json=kling_error(1203, "task not found"))

    with pytest.raises(KlingNotFoundError) as raised:
        hook.get_task("nope")
    assert raised.value.task_id == "nope"
    assert hook.find_task("nope") is None


def test_list_sends_page_num_and_page_size(hook, kling_api):
    kling_api.get(
        GENERATIONS,
        match=[matchers.query_param_matcher({"pageNum": "3", "pageSize": "50"})],
        json=envelope([task_json("1", "succeed"), task_json("2", "processing")]),
    )

    tasks = hook.list_tasks(page_num=3, page_size=50)

    assert [(task.task_id, task.task_status) for task in tasks] == [
        ("1", TaskStatus.SUCCEED),
        ("2", TaskStatus.PROCESSING),
    ]


def test_list_defaults_to_the_first_page_of_thirty(hook, kling_api):
    kling_api.get(
        GENERATIONS,
        match=[matchers.query_param_matcher({"pageNum": "1", "pageSize": "30"})],
        json=envelope([]),
    )

    assert hook.list_tasks() == []


@pytest.mark.parametrize(
    ("page_num", "page_size", "named"),
    [
        (0, 30, "page_num"),
        (1001, 30, "page_num"),
        (1, 0, "page_size"),
        (1, 501, "page_size"),
        (1, True, "page_size must be an integer"),
        (2.5, 30, "page_num must be an integer"),
    ],
)
def test_list_refuses_pages_out_of_range_before_sending(hook, kling_api, page_num, page_size, named):
    with pytest.raises(KlingRequestValidationError, match=named):
        hook.list_tasks(page_num=page_num, page_size=page_size)

    assert len(kling_api.calls) == 0


# -- errors and retries --------------------------------------------------------------------------


def test_401_code_1002_fails_at_once_without_retry(hook, kling_api, clock):
    kling_api.get(task_url(), status=401, json=kling_error(1002, "Authorization is invalid"))

    with pytest.raises(KlingAuthError) as raised:
        hook.get_task(TASK_ID)

    assert (raised.value.http_status, raised.value.code) == (401, 1002)
    assert len(kling_api.calls) == 1
    assert clock.waits == []


def test_429_code_1303_twice_then_success_succeeds_after_exactly_two_retries(
    hook, kling_api, clock, hook_logs
):
    busy = kling_error(1303, "parallel task over resource pack limit")
    kling_api.post(GENERATIONS, status=429, json=busy)
    kling_api.post(GENERATIONS, status=429, json=busy)
    kling_api.post(GENERATIONS, json=envelope(task_json()))

    task = hook.create_task(**REQUEST)

    assert task.task_id == TASK_ID
    assert len(kling_api.calls) == 3
    assert len(clock.waits) == 2
    # Exponential backoff with jitter: the n-th wait lies in [2**(n-1) / 2, 2**(n-1)] seconds.
    assert 0.5 <= clock.waits[0] <= 1.0
    assert 1.0 <= clock.waits[1] <= 2.0
    retries = [line for line in messages(hook_logs) if "retry" in line]
    assert len(retries) == 2
    assert "code 1303" in retries[0]
    assert "retry 1 of 5" in retries[0]


def test_400_code_1201_fails_at_once_naming_code_and_message(hook, kling_api, clock):
    kling_api.post(GENERATIONS, status=400, json=kling_error(1201, "prompt contains invalid characters"))
    kling_api.get(task_url("batch-7"), status=404, json=kling_error(1203, "task not found"))

    with pytest.raises(KlingInvalidRequestError) as raised:
        hook.create_task(**REQUEST, external_task_id="batch-7")

    assert "code 1201" in str(raised.value)
    assert "prompt contains invalid characters" in str(raised.value)
    assert "req-err" in str(raised.value)
    # One create, and one query in case the refusal was of a duplicate external id.
    assert [call.request.method for call in kling_api.calls] == ["POST", "GET"]
    assert clock.waits == []


@pytest.mark.parametrize(("status", "code"), [(500, 5000), (503, 5001), (504, 5002), (502, None)])
def test_5xx_is_retried_up_to_max_retries_then_raised(monkeypatch, kling_api, clock, status, code):
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra={"max_retries": 3})
    body = kling_error(code, "server trouble") if code else None
    kling_api.get(task_url(), status=status, json=body)

    with pytest.raises(KlingServerError) as raised:
        KlingHook(CONN_ID, clock=clock).get_task(TASK_ID)

    assert raised.value.http_status == status
    assert len(kling_api.calls) == 4
    assert len(clock.waits) == 3


def test_5xx_is_retried_five_times_by_default(hook, kling_api, clock):
    kling_api.get(task_url(), status=500, json=kling_error(5000, "internal error"))

    with pytest.raises(KlingServerError):
        hook.get_task(TASK_ID)

    assert len(kling_api.calls) == 6
    assert len(clock.waits) == 5


def test_5xx_then_success_returns_the_task(hook, kling_api):
    kling_api.get(task_url(), status=503, json=kling_error(5001, "maintenance"))
    kling_api.get(task_url(), json=envelope(task_json(status="processing")))

    assert hook.get_task(TASK_ID).task_status == TaskStatus.PROCESSING
    assert len(kling_api.calls) == 2


def test_retry_after_header_sets_the_wait(hook, kling_api, clock):
    kling_api.get(
        task_url(), status=429, json=kling_error(1302, "rate limit exceeded"), headers={"Retry-After": "7"}
    )
    kling_api.get(task_url(), json=envelope(task_json()))

    hook.get_task(TASK_ID)

    assert clock.waits == [7.0]


def test_retry_after_shorter_than_the_backoff_is_waited_exactly_no_longer(hook, kling_api, clock):
    busy = kling_error(1303, "parallel task over resource pack limit")
    kling_api.get(task_url(), status=429, json=busy)
    kling_api.get(task_url(), status=429, json=busy)
    kling_api.get(task_url(), status=429, json=busy, headers={"Retry-After": "0"})
    kling_api.get(task_url(), json=envelope(task_json()))

    hook.get_task(TASK_ID)

    assert clock.waits[2] == 0.0  # the server said when: sleeping past it only delays the answer


@pytest.mark.parametrize("code", [1100, 1101, 1102, 1304])
def test_429_codes_other_than_rate_limits_are_not_retried(hook, kling_api, clock, code):
    kling_api.get(task_url(), status=429, json=kling_error(code, "account trouble"))

    with pytest.raises(KlingError) as raised:
        hook.get_task(TASK_ID)

    assert raised.value.code == code
    assert not raised.value.retryable
    assert len(kling_api.calls) == 1


def test_malformed_json_is_a_response_error_and_retried(hook, kling_api, clock):
    kling_api.get(task_url(), body="<html>upstream hiccup</html>", status=200)
    kling_api.get(task_url(), json=envelope(task_json()))

    assert hook.get_task(TASK_ID).task_id == TASK_ID
    assert len(kling_api.calls) == 2
    assert len(clock.waits) == 1


def test_malformed_json_every_time_raises_a_response_error(monkeypatch, kling_api, clock):
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra={"max_retries": 1})
    kling_api.get(task_url(), body="{not json", status=200)

    with pytest.raises(KlingResponseError, match="not JSON") as raised:
        KlingHook(CONN_ID, clock=clock).get_task(TASK_ID)

    assert raised.value.task_id == TASK_ID
    assert len(kling_api.calls) == 2


@pytest.mark.parametrize(
    ("code", "error"),
    [(1201, KlingInvalidRequestError), (1102, KlingAccountError), (1002, KlingAuthError)],
)
def test_envelope_with_a_non_zero_code_on_http_200_raises_the_mapped_error(hook, kling_api, code, error):
    kling_api.get(task_url(), json={**kling_error(code, "refused"), "data": None})

    with pytest.raises(error) as raised:
        hook.get_task(TASK_ID)

    assert raised.value.code == code
    assert len(kling_api.calls) == 1


def test_envelope_with_a_rate_limit_code_on_http_200_is_retried(hook, kling_api, clock):
    kling_api.get(task_url(), json=kling_error(1303, "parallel task over resource pack limit"))
    kling_api.get(task_url(), json=envelope(task_json()))

    assert hook.get_task(TASK_ID).task_id == TASK_ID
    assert len(clock.waits) == 1


def test_unreachable_host_is_a_connection_error_after_the_retries(monkeypatch, closed_port, clock):
    set_connection(
        monkeypatch, host=f"http://127.0.0.1:{closed_port}/kling", password=API_KEY, extra={"max_retries": 2}
    )

    with pytest.raises(KlingConnectionError, match=f"127.0.0.1:{closed_port}"):
        KlingHook(CONN_ID, clock=clock).get_task(TASK_ID)

    assert len(clock.waits) == 2


# -- JWT from access key + secret key ------------------------------------------------------------


def test_jwt_has_kling_claims_and_an_hs256_header():
    token = JwtToken(ACCESS_KEY, SECRET_KEY).get(now=1_700_000_000.5)

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(
        token, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims == {"iss": ACCESS_KEY, "exp": 1_700_000_000 + JWT_LIFETIME, "nbf": 1_700_000_000 - 5}


def test_jwt_is_signed_with_the_secret_key():
    token = JwtToken(ACCESS_KEY, SECRET_KEY).get(now=time.time())

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-key-of-some-length", algorithms=["HS256"])
    assert decode(token)["iss"] == ACCESS_KEY


def test_jwt_is_cached_until_the_renewal_margin_then_renewed():
    issued = 1_700_000_000
    token = JwtToken(ACCESS_KEY, SECRET_KEY)
    first = token.get(now=issued)

    assert token.get(now=issued + JWT_LIFETIME - JWT_RENEW_MARGIN - 1) == first
    renewed_at = issued + JWT_LIFETIME - JWT_RENEW_MARGIN
    renewed = token.get(now=renewed_at)
    assert renewed != first
    claims = jwt.decode(renewed, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] == renewed_at + JWT_LIFETIME


def test_hook_sends_the_cached_jwt_and_never_the_secret_key(jwt_hook, kling_api):
    jwt_hook.settings  # noqa: B018 - reads the connection, which sets up the token
    assert jwt_hook._jwt is not None
    cached = jwt_hook._jwt.get(now=time.time() - 600)  # issued earlier, still well within its life
    kling_api.get(task_url(), json=envelope(task_json()))
    kling_api.get(GENERATIONS, json=envelope([]))

    jwt_hook.get_task(TASK_ID)
    jwt_hook.list_tasks()

    assert [bearer(call) for call in kling_api.calls] == [cached, cached]
    assert decode(cached)["iss"] == ACCESS_KEY
    assert all(SECRET_KEY not in str(call.request.headers) for call in kling_api.calls)


def test_expired_jwt_1004_signs_a_new_token_and_retries_once(jwt_hook, kling_api, clock):
    jwt_hook.settings  # noqa: B018
    assert jwt_hook._jwt is not None
    stale = jwt_hook._jwt.get(now=time.time() - 1000)
    kling_api.get(task_url(), status=401, json=kling_error(1004, "token expired"))
    kling_api.get(task_url(), json=envelope(task_json()))

    assert jwt_hook.get_task(TASK_ID).task_id == TASK_ID

    first, second = (bearer(call) for call in kling_api.calls)
    assert first == stale
    assert (
        decode(second)["nbf"]
        > jwt.decode(stale, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False})["nbf"]
    )
    assert clock.waits == []


def test_jwt_refused_again_after_renewal_is_raised_without_a_third_call(jwt_hook, kling_api):
    kling_api.get(task_url(), status=401, json=kling_error(1004, "token expired"))

    with pytest.raises(KlingAuthError) as raised:
        jwt_hook.get_task(TASK_ID)

    assert raised.value.code == 1004
    assert len(kling_api.calls) == 2


def test_1004_with_an_api_key_is_not_retried(hook, kling_api):
    kling_api.get(task_url(), status=401, json=kling_error(1004, "token expired"))

    with pytest.raises(KlingAuthError):
        hook.get_task(TASK_ID)

    assert len(kling_api.calls) == 1


# -- create with an external task id that Kling already knows ------------------------------------


def existing_task() -> dict[str, Any]:
    return task_json("111", "processing", task_info={"external_task_id": "batch-7"})


def test_create_refused_as_a_duplicate_external_id_returns_the_existing_task(hook, kling_api, hook_logs):
    kling_api.post(GENERATIONS, status=400, json=kling_error(1201, "external_task_id already exists"))
    kling_api.get(task_url("batch-7"), json=envelope(existing_task()))

    task = hook.create_task(**REQUEST, external_task_id="batch-7")

    assert (task.task_id, task.external_task_id) == ("111", "batch-7")
    assert [call.request.method for call in kling_api.calls] == ["POST", "GET"]
    assert "Kling task 111 already exists for external_task_id batch-7" in messages(hook_logs)


def test_create_after_a_5xx_asks_kling_by_external_id_and_returns_the_task_without_resending(hook, kling_api):
    kling_api.post(GENERATIONS, status=504, json=kling_error(5002, "internal timeout"))
    kling_api.get(task_url("batch-7"), json=envelope(existing_task()))

    task = hook.create_task(**REQUEST, external_task_id="batch-7")

    assert task.task_id == "111"
    assert [call.request.method for call in kling_api.calls] == ["POST", "GET"]


def test_create_after_a_5xx_is_resent_when_kling_has_no_such_task(hook, kling_api):
    kling_api.post(GENERATIONS, status=500, json=kling_error(5000, "internal error"))
    kling_api.get(task_url("batch-7"), status=404, json=kling_error(1203, "task not found"))
    kling_api.post(GENERATIONS, json=envelope(existing_task()))

    task = hook.create_task(**REQUEST, external_task_id="batch-7")

    assert task.task_id == "111"
    assert [call.request.method for call in kling_api.calls] == ["POST", "GET", "POST"]


def test_create_after_maintenance_5001_is_resent_without_asking(hook, kling_api):
    kling_api.post(GENERATIONS, status=503, json=kling_error(5001, "maintenance"))
    kling_api.post(GENERATIONS, json=envelope(existing_task()))

    assert hook.create_task(**REQUEST, external_task_id="batch-7").task_id == "111"
    assert [call.request.method for call in kling_api.calls] == ["POST", "POST"]


def test_create_refusal_stands_when_no_task_has_that_external_id(hook, kling_api):
    kling_api.post(GENERATIONS, status=400, json=kling_error(1201, "model_name is not supported"))
    kling_api.get(task_url("batch-7"), status=404, json=kling_error(1203, "task not found"))

    with pytest.raises(KlingInvalidRequestError) as raised:
        hook.create_task(**REQUEST, external_task_id="batch-7")

    assert type(raised.value) is KlingInvalidRequestError
    assert raised.value.code == 1201


# -- waiting for a task --------------------------------------------------------------------------


def test_wait_polls_until_succeed_and_logs_status_changes_at_info(hook, kling_api, clock, hook_logs):
    for status in ("submitted", "processing", "processing", "succeed"):
        kling_api.get(task_url(), json=envelope(task_json(status=status)))

    task = wait_for_task(hook, TASK_ID, poll_interval=10, timeout=600)

    assert task.task_status == TaskStatus.SUCCEED
    assert clock.waits == [10, 10, 10]
    polls = [
        (event["log_level"], str(event["event"]))
        for event in hook_logs
        if str(event["event"]).startswith(f"Kling task {TASK_ID}")
    ]
    assert polls == [
        ("info", f"Kling task {TASK_ID} is queued after 0s"),
        ("info", f"Kling task {TASK_ID} is processing after 10s"),
        ("debug", f"Kling task {TASK_ID} is processing after 20s"),
        ("info", f"Kling task {TASK_ID} succeeded after 30s"),
    ]


def test_wait_on_a_failed_task_raises_with_klings_reason_and_the_task_id(hook, kling_api):
    reason = "Failure to pass the risk control system"
    kling_api.get(task_url(), json=envelope(task_json(status="processing")))
    kling_api.get(task_url(), json=envelope(task_json(status="failed", task_status_msg=reason)))

    with pytest.raises(KlingTaskFailedError) as raised:
        wait_for_task(hook, TASK_ID, poll_interval=5)

    assert reason in str(raised.value)
    assert TASK_ID in str(raised.value)
    assert raised.value.task_id == TASK_ID


def test_wait_past_the_deadline_raises_a_timeout_naming_the_task(hook, kling_api, clock):
    kling_api.get(task_url(), json=envelope(task_json(status="processing")))

    with pytest.raises(KlingTaskTimeoutError) as raised:
        wait_for_task(hook, TASK_ID, poll_interval=10, timeout=25)

    assert TASK_ID in str(raised.value)
    assert raised.value.task_id == TASK_ID
    # Polls at 0, 10, 20 and (the last wait cut short by the deadline) 25 seconds.
    assert clock.waits == [10, 10, 5]
    assert len(kling_api.calls) == 4


def test_wait_fails_at_once_on_an_error_no_retry_can_fix(hook, kling_api, clock):
    kling_api.get(task_url(), json=envelope(task_json(status="processing")))
    kling_api.get(task_url(), status=403, json=kling_error(1103, "no permission for this model"))

    with pytest.raises(KlingError) as raised:
        wait_for_task(hook, TASK_ID, poll_interval=10, timeout=3600)

    assert raised.value.code == 1103
    assert clock.waits == [10]


# -- downloading images --------------------------------------------------------------------------

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 600


def test_download_streams_the_image_into_a_file(hook, kling_api):
    kling_api.get(IMAGE_URL, body=PNG_BYTES, content_type="image/png")
    destination = io.BytesIO()

    written = hook.download_image(IMAGE_URL, destination)

    assert destination.getvalue() == PNG_BYTES
    assert written == len(PNG_BYTES)
    assert kling_api.calls[0].request.req_kwargs["stream"] is True


def test_download_sends_no_credentials_to_the_image_host(jwt_hook, kling_api):
    kling_api.get(IMAGE_URL, body=PNG_BYTES, content_type="image/png")

    jwt_hook.download_image(IMAGE_URL, io.BytesIO())

    assert "Authorization" not in kling_api.calls[0].request.headers


def test_download_yields_chunks_of_the_asked_size(hook, kling_api):
    kling_api.get(IMAGE_URL, body=PNG_BYTES, content_type="image/png")

    chunks = list(hook.iter_image_bytes(IMAGE_URL, chunk_size=4096))

    assert b"".join(chunks) == PNG_BYTES
    assert {len(chunk) for chunk in chunks[:-1]} == {4096}


@pytest.mark.parametrize("status", [403, 404, 410])
def test_download_of_a_purged_image_is_image_unavailable(hook, kling_api, status):
    kling_api.get(IMAGE_URL, status=status)

    with pytest.raises(KlingResultUnavailableError, match=f"HTTP {status}.*expired"):
        hook.download_image(IMAGE_URL, io.BytesIO())

    assert len(kling_api.calls) == 1


def test_download_retries_a_5xx(hook, kling_api, clock):
    kling_api.get(IMAGE_URL, status=502)
    kling_api.get(IMAGE_URL, body=PNG_BYTES, content_type="image/png")
    destination = io.BytesIO()

    hook.download_image(IMAGE_URL, destination)

    assert destination.getvalue() == PNG_BYTES
    assert len(clock.waits) == 1


def test_download_broken_off_midway_is_a_connection_error(hook, kling_api, monkeypatch):
    kling_api.get(IMAGE_URL, body=PNG_BYTES, content_type="image/png")

    def first_chunk_then_reset(
        self: Any, chunk_size: int = 1, decode_unicode: bool = False
    ) -> Iterator[bytes]:
        yield PNG_BYTES[:chunk_size]
        raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")

    monkeypatch.setattr(requests.Response, "iter_content", first_chunk_then_reset)

    with pytest.raises(KlingConnectionError, match=f"Download of {IMAGE_URL} broke off"):
        hook.download_image(IMAGE_URL, io.BytesIO())


def test_download_refuses_a_url_that_is_not_http(hook, kling_api):
    with pytest.raises(KlingResultUnavailableError, match="not http"):
        hook.download_image("file:///etc/passwd", io.BytesIO())

    assert len(kling_api.calls) == 0


# -- test_connection -----------------------------------------------------------------------------


def test_test_connection_succeeds_with_one_cheap_list_call(hook, kling_api):
    kling_api.get(
        GENERATIONS,
        match=[matchers.query_param_matcher({"pageNum": "1", "pageSize": "1"})],
        json=envelope([]),
    )

    ok, message = hook.test_connection()

    assert ok is True
    assert BASE_URL in message
    assert len(kling_api.calls) == 1


def test_test_connection_reports_a_rejected_key(hook, kling_api):
    kling_api.get(GENERATIONS, status=401, json=kling_error(1002, "Authorization is invalid"))

    ok, message = hook.test_connection()

    assert ok is False
    assert "rejected the credentials" in message
    assert "1002" in message
    assert len(kling_api.calls) == 1


def test_test_connection_reports_an_unreachable_host_without_retrying(monkeypatch, closed_port, clock):
    set_connection(monkeypatch, host=f"http://127.0.0.1:{closed_port}/kling", password=API_KEY)

    ok, message = KlingHook(CONN_ID, clock=clock).test_connection()

    assert ok is False
    assert f"Could not connect to Kling at http://127.0.0.1:{closed_port}/kling" in message
    assert clock.waits == []


def test_test_connection_reports_a_server_error(hook, kling_api):
    kling_api.get(GENERATIONS, status=503, json=kling_error(5001, "maintenance"))

    ok, message = hook.test_connection()

    assert ok is False
    assert "maintenance" in message


def test_test_connection_leaves_the_hooks_retry_policy_as_it_was(hook, kling_api):
    kling_api.get(GENERATIONS, json=envelope([]))
    kling_api.get(task_url(), status=500, json=kling_error(5000, "internal error"))
    kling_api.get(task_url(), json=envelope(task_json()))

    assert hook.test_connection()[0] is True

    assert hook.get_task(TASK_ID).task_id == TASK_ID
    assert hook.settings.max_retries == 5


# -- the keys stay secret ------------------------------------------------------------------------


def raised_by(call: Callable[[], Any]) -> KlingError:
    with pytest.raises(KlingError) as raised:
        call()
    return raised.value


def run_success_flow(hook: KlingHook, kling_api: responses.RequestsMock) -> list[KlingError]:
    kling_api.post(GENERATIONS, json=envelope(task_json()))
    kling_api.get(task_url(), json=envelope(task_json(status="processing")))
    kling_api.get(
        task_url(),
        json=envelope(task_json(status="succeed", task_result={"images": [{"index": 0, "url": IMAGE_URL}]})),
    )
    kling_api.get(GENERATIONS, json=envelope([task_json()]))
    kling_api.get(IMAGE_URL, body=PNG_BYTES)
    task = hook.create_task(**REQUEST)
    task = wait_for_task(hook, task.task_id, poll_interval=1)
    hook.list_tasks()
    hook.download_image(str(task.images[0].url), io.BytesIO())
    assert hook.test_connection()[0] is True
    return []


def run_auth_failures(hook: KlingHook, kling_api: responses.RequestsMock) -> list[KlingError]:
    kling_api.get(task_url(), status=401, json=kling_error(1004, "token expired"))
    kling_api.get(GENERATIONS, status=401, json=kling_error(1002, "Authorization is invalid"))
    error = raised_by(lambda: hook.get_task(TASK_ID))
    ok, message = hook.test_connection()
    assert not ok
    return [error, KlingError(message)]


def run_retries_exhausted(hook: KlingHook, kling_api: responses.RequestsMock) -> list[KlingError]:
    kling_api.post(GENERATIONS, status=429, json=kling_error(1303, "parallel task over resource pack limit"))
    error = raised_by(lambda: hook.create_task(**REQUEST))
    assert isinstance(error, KlingRateLimitError)
    return [error]


def run_server_errors(hook: KlingHook, kling_api: responses.RequestsMock) -> list[KlingError]:
    kling_api.get(task_url(), status=500, body="<html>Internal Server Error</html>")
    return [raised_by(lambda: hook.get_task(TASK_ID))]


def run_task_failed(hook: KlingHook, kling_api: responses.RequestsMock) -> list[KlingError]:
    kling_api.get(task_url(), json=envelope(task_json(status="failed", task_status_msg="risk control")))
    return [raised_by(lambda: wait_for_task(hook, TASK_ID))]


def run_image_gone(hook: KlingHook, kling_api: responses.RequestsMock) -> list[KlingError]:
    kling_api.get(IMAGE_URL, status=404)
    return [raised_by(lambda: hook.download_image(IMAGE_URL, io.BytesIO()))]


FLOWS: dict[str, Callable[[KlingHook, responses.RequestsMock], list[KlingError]]] = {
    "success": run_success_flow,
    "auth-failures": run_auth_failures,
    "retries-exhausted": run_retries_exhausted,
    "server-errors": run_server_errors,
    "task-failed": run_task_failed,
    "image-gone": run_image_gone,
}


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("hook_fixture", ["hook", "jwt_hook"])
def test_keys_never_appear_in_logs_or_errors(request, caplog, hook_logs, kling_api, flow, hook_fixture):
    caplog.set_level(logging.DEBUG)
    hook: KlingHook = request.getfixturevalue(hook_fixture)

    errors = FLOWS[flow](hook, kling_api)

    texts = ["".join(traceback.format_exception(error)) + repr(error) for error in errors]
    texts += [repr(event) for event in hook_logs]
    texts += [f"{record.getMessage()} {record.args!r} {record.exc_text}" for record in caplog.records]
    bearers = {bearer(call) for call in kling_api.calls if "Authorization" in call.request.headers}
    assert texts, "the flow left nothing to check"
    for secret in {API_KEY, SECRET_KEY} | bearers:
        assert not [text for text in texts if secret in text]


def test_unreachable_host_logs_no_key_even_at_debug(monkeypatch, caplog, hook_logs, closed_port, clock):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, host=f"http://127.0.0.1:{closed_port}/kling", password=API_KEY)

    with pytest.raises(KlingConnectionError) as raised:
        KlingHook(CONN_ID, max_retries=1, clock=clock).get_task(TASK_ID)

    texts = [str(raised.value), *map(repr, hook_logs), *(record.getMessage() for record in caplog.records)]
    assert any("urllib3" in record.name for record in caplog.records)
    assert not [text for text in texts if API_KEY in text]


@pytest.mark.parametrize(
    ("extra", "value"), [("max_retries", "abc"), ("read_timeout", "soon"), ("connect_timeout", -1)]
)
def test_bad_numeric_extra_is_refused_naming_connection_and_extra(monkeypatch, extra, value):
    set_connection(monkeypatch, host="http://127.0.0.1:9/kling", password="sk-test", extra={extra: value})
    with pytest.raises(ValueError, match=f"Connection '{CONN_ID}': extra '{extra}'"):
        _ = KlingHook(CONN_ID).settings


def test_proxy_with_credentials_is_not_in_repr(monkeypatch):
    set_connection(monkeypatch, password="sk-test", extra={"proxy": "http://user:proxy-pass@127.0.0.1:3128"})
    settings = KlingHook(CONN_ID).settings
    assert settings.proxy == "http://user:proxy-pass@127.0.0.1:3128"
    assert "proxy-pass" not in repr(settings)


def test_create_refuses_a_request_and_fields_together(hook):
    request = ImageGenerationRequest.build(model_name="kling-v1", prompt="a boat", n=1)
    with pytest.raises(TypeError, match="not both"):
        hook.create_task(request, prompt="another boat")


# -- external task ids: does the host honour them? -----------------------------------------------


@pytest.fixture
def auto_hook(monkeypatch: pytest.MonkeyPatch, clock) -> KlingHook:
    """A hook on a connection that leaves external task id support to be found out."""
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY)
    return KlingHook(CONN_ID, clock=clock)


def test_create_answer_echoing_the_external_id_proves_support_without_a_query(auto_hook, kling_api):
    kling_api.post(GENERATIONS, json=envelope(task_json(task_info={"external_task_id": "batch-7"})))

    auto_hook.create_task(**REQUEST, external_task_id="batch-7")

    assert [call.request.method for call in kling_api.calls] == ["POST"]
    assert ids_honoured(auto_hook) is True


def test_host_that_cannot_find_a_new_task_by_its_external_id_is_said_to_ignore_ids_once(
    auto_hook, kling_api, hook_logs
):
    kling_api.post(GENERATIONS, json=envelope(task_json()))
    kling_api.get(task_url("batch-7"), status=404, json=kling_error(1203, "task not found"))

    auto_hook.create_task(**REQUEST, external_task_id="batch-7")

    assert ids_honoured(auto_hook) is False
    warnings = [line for line in messages(hook_logs) if "ignores external_task_id" in line]
    assert len(warnings) == 1
    assert f"connection '{CONN_ID}'" in warnings[0]


def test_lost_create_answer_at_a_host_set_to_no_is_never_resent_and_names_the_way_on(
    monkeypatch, kling_api, clock
):
    from airflow_provider_kling.errors import KlingCreateOutcomeUnknownError

    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra={"external_task_id_support": "no"})
    kling_api.post(GENERATIONS, status=502, body="<html>Bad Gateway</html>")

    with pytest.raises(KlingCreateOutcomeUnknownError) as raised:
        KlingHook(CONN_ID, clock=clock).create_task(**REQUEST, external_task_id="batch-7")

    assert len(kling_api.calls) == 1
    message = str(raised.value)
    assert "external_task_id=batch-7" in message and "ignores external_task_id" in message
    assert "KlingTaskSensor" in message
    assert raised.value.airflow_retryable is False


def test_klings_own_hosts_are_known_to_honour_external_ids(monkeypatch, clock):
    set_connection(monkeypatch, host="https://api-singapore.klingai.com", password=API_KEY)
    hook = KlingHook(CONN_ID, clock=clock)
    hook.settings  # noqa: B018 - read the connection, as every call does first
    assert ids_honoured(hook) is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"external_task_id_support": "maybe"}, "external_task_id_support' must be one of auto, yes, no"),
        ({"external_task_id_namespace": "a b"}, "external_task_id_namespace' must be 1 to 32 characters"),
    ],
)
def test_bad_external_id_extras_are_refused_naming_the_extra(monkeypatch, extra, message):
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra=extra)
    with pytest.raises(ValueError, match=re.escape(message)):
        _ = KlingHook(CONN_ID).settings


def test_external_id_extras_are_read(monkeypatch):
    extra = {"external_task_id_support": "YES", "external_task_id_namespace": "staging"}
    set_connection(monkeypatch, host=BASE_URL, password=API_KEY, extra=extra)
    settings = KlingHook(CONN_ID).settings
    assert (settings.external_task_id_support, settings.external_task_id_namespace) == ("yes", "staging")


def test_a_refused_key_names_the_connection_and_labels_an_external_id_as_such(hook, kling_api):
    kling_api.get(task_url("airflow-abc"), status=401, json=kling_error(1002, "invalid api key"))

    with pytest.raises(KlingAuthError) as raised:
        hook.find_task_by_external_id("airflow-abc")

    message = str(raised.value)
    assert f"Airflow connection '{CONN_ID}'" in message
    assert "external_task_id=airflow-abc" in message
    assert " task_id=" not in message and "[task_id=" not in message
