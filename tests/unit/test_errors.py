"""Kling answers -> exceptions and retry decisions in ``airflow_provider_kling.errors``."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pytest

from airflow_provider_kling.errors import (
    KlingAccountError,
    KlingArrearsError,
    KlingAuthError,
    KlingConnectionError,
    KlingContentPolicyError,
    KlingError,
    KlingInvalidRequestError,
    KlingIPWhitelistError,
    KlingNotFoundError,
    KlingPermissionError,
    KlingRateLimitError,
    KlingResourcePackExhaustedError,
    KlingResponseError,
    KlingServerError,
    error_class_for,
    error_from_response,
    is_retryable,
    parse_retry_after,
)

# (HTTP status Kling documents, code, class, retry the request?, retry the Airflow task?)
DOCUMENTED_CODES = [
    (401, 1000, KlingAuthError, False, False),
    (401, 1001, KlingAuthError, False, False),
    (401, 1002, KlingAuthError, False, False),
    (401, 1003, KlingAuthError, False, False),
    (401, 1004, KlingAuthError, False, False),
    (429, 1100, KlingAccountError, False, False),
    (429, 1101, KlingArrearsError, False, False),
    (429, 1102, KlingResourcePackExhaustedError, False, False),
    (403, 1103, KlingPermissionError, False, False),
    (400, 1200, KlingInvalidRequestError, False, False),
    (400, 1201, KlingInvalidRequestError, False, False),
    (404, 1202, KlingNotFoundError, False, False),
    (404, 1203, KlingNotFoundError, False, False),
    (400, 1300, KlingContentPolicyError, False, False),
    (400, 1301, KlingContentPolicyError, False, False),
    (429, 1302, KlingRateLimitError, True, True),
    (429, 1303, KlingRateLimitError, True, True),
    (429, 1304, KlingIPWhitelistError, False, False),
    (500, 5000, KlingServerError, True, True),
    (503, 5001, KlingServerError, True, True),
    (504, 5002, KlingServerError, True, True),
]


@pytest.mark.parametrize(
    ("http_status", "code", "expected", "retryable", "airflow_retryable"), DOCUMENTED_CODES
)
def test_documented_code_maps_to_its_exception_and_retry_decision(
    http_status: int, code: int, expected: type[KlingError], retryable: bool, airflow_retryable: bool
) -> None:
    error = error_from_response(http_status, {"code": code, "message": "m", "request_id": "r"})
    assert type(error) is expected
    assert error.retryable is retryable
    assert error.airflow_retryable is airflow_retryable
    assert is_retryable(error) is retryable
    assert (error.code, error.http_status) == (code, http_status)


@pytest.mark.parametrize("code", [1200, 1201, 1202, 1203])
def test_invalid_request_code_with_http_404_is_not_found(code: int) -> None:
    error_class = error_class_for(404, code)
    assert error_class is KlingNotFoundError
    assert issubclass(error_class, KlingInvalidRequestError)


@pytest.mark.parametrize("code", [1202, 1203])
def test_not_found_codes_without_http_404_stay_invalid_request(code: int) -> None:
    assert error_class_for(400, code) is KlingInvalidRequestError


@pytest.mark.parametrize("code", [1302, 1303])
def test_rate_limit_code_decides_even_when_http_status_is_200(code: int) -> None:
    assert error_class_for(200, code) is KlingRateLimitError


def test_ip_whitelist_429_is_not_mistaken_for_a_rate_limit() -> None:
    error = error_from_response(429, {"code": 1304, "message": "ip not in whitelist"})
    assert not isinstance(error, KlingRateLimitError)
    assert error.retryable is False


def test_account_429_is_not_mistaken_for_a_rate_limit() -> None:
    assert error_class_for(429, 1102) is KlingResourcePackExhaustedError
    assert issubclass(KlingResourcePackExhaustedError, KlingAccountError)
    assert issubclass(KlingArrearsError, KlingAccountError)


@pytest.mark.parametrize("http_status", [500, 502, 503, 504, 599])
@pytest.mark.parametrize("code", [None, 1200, 1303, 9999])
def test_any_5xx_is_a_retryable_server_error_whatever_the_code(http_status: int, code: int | None) -> None:
    error_class = error_class_for(http_status, code)
    assert error_class is KlingServerError
    assert error_class.retryable is True


@pytest.mark.parametrize("code", [5000, 5001, 5002, 5099])
def test_server_codes_are_server_errors_even_with_a_non_5xx_status(code: int) -> None:
    assert error_class_for(200, code) is KlingServerError


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [
        (400, KlingInvalidRequestError),
        (401, KlingAuthError),
        (402, KlingAccountError),
        (403, KlingPermissionError),
        (404, KlingNotFoundError),
        (409, KlingInvalidRequestError),
        (422, KlingInvalidRequestError),
        (429, KlingRateLimitError),
    ],
)
@pytest.mark.parametrize("code", [None, 0, 1999, 4242])
def test_unknown_or_absent_code_falls_back_on_http_status(
    http_status: int, expected: type[KlingError], code: int | None
) -> None:
    assert error_class_for(http_status, code) is expected


def test_no_http_status_and_no_known_code_is_an_unreadable_response() -> None:
    error_class = error_class_for(None, None)
    assert error_class is KlingResponseError
    assert error_class.retryable is True


def test_connection_errors_are_retryable() -> None:
    assert is_retryable(KlingConnectionError("connect timeout")) is True


def test_non_kling_exceptions_are_not_retryable() -> None:
    assert is_retryable(ValueError("boom")) is False


def test_every_kling_error_is_an_exception_of_the_base_class() -> None:
    for _status, _code, error_class, _retry, _airflow in DOCUMENTED_CODES:
        assert issubclass(error_class, KlingError)


# --- what the exception says ------------------------------------------------------------------


def test_exception_text_carries_code_status_message_request_and_task_id() -> None:
    error = error_from_response(
        429,
        {"code": 1303, "message": "parallel task over resource pack limit", "request_id": "req-42"},
        task_id="867283741759111202",
    )
    text = str(error)
    assert "code 1303" in text
    assert "HTTP 429" in text
    assert "parallel task over resource pack limit" in text
    assert "request_id=req-42" in text
    assert "task_id=867283741759111202" in text
    assert (error.message, error.request_id, error.task_id) == (
        "parallel task over resource pack limit",
        "req-42",
        "867283741759111202",
    )


def test_exception_text_leaves_out_ids_it_does_not_know() -> None:
    text = str(error_from_response(400, {"code": 1201, "message": "bad prompt"}))
    assert text == "Kling code 1201, HTTP 400: bad prompt"


def test_plain_exception_text_is_just_the_message() -> None:
    assert str(KlingError("something odd")) == "something odd"


def test_string_code_in_body_is_read_as_a_number() -> None:
    error = error_from_response(429, {"code": "1303", "message": "busy"})
    assert error.code == 1303 and isinstance(error, KlingRateLimitError)


@pytest.mark.parametrize("raw_code", ["abc", None, 12.5, True])
def test_unreadable_code_is_dropped_and_http_status_decides(raw_code: object) -> None:
    error = error_from_response(403, {"code": raw_code, "message": "nope"})
    assert error.code is None and isinstance(error, KlingPermissionError)


def test_reseller_msg_key_is_used_when_message_is_absent() -> None:
    assert error_from_response(400, {"code": 1201, "msg": "prompt too long"}).message == "prompt too long"


@pytest.mark.parametrize("body", [None, {}])
def test_missing_body_still_gives_an_error_named_after_the_status(body: dict[str, object] | None) -> None:
    error = error_from_response(502, body)
    assert isinstance(error, KlingServerError)
    assert error.message == "HTTP 502" and error.code is None


# --- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), (" 30 ", 30.0), ("1.5", 1.5), ("0", 0.0)])
def test_retry_after_in_seconds_is_read(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_negative_retry_after_means_no_wait() -> None:
    assert parse_retry_after("-5") == 0.0


def test_retry_after_as_http_date_is_seconds_from_now() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(90.0)


def test_retry_after_http_date_in_the_past_means_no_wait() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0


@pytest.fixture
def local_zone_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a local time zone 5 hours off UTC, so a date read as local time is visibly wrong."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_zone_not_utc")
@pytest.mark.parametrize("zone", ["GMT", "-0000", "+0000"])
def test_retry_after_http_date_is_read_as_gmt_whatever_the_local_zone(zone: str) -> None:
    now = 1_445_412_480.0 - 120  # two minutes before Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(f"Wed, 21 Oct 2015 07:28:00 {zone}", now=now) == pytest.approx(120.0)


@pytest.mark.parametrize("header", ["soon", "Mon, 99 Foo 20XX", "inf", "nan", "-inf"])
def test_garbage_retry_after_is_ignored(header: str) -> None:
    assert parse_retry_after(header) is None


@pytest.mark.parametrize("header", ["", None])
def test_empty_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header) is None


@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER"])
def test_retry_after_header_is_found_whatever_its_case(name: str) -> None:
    error = error_from_response(429, {"code": 1302, "message": "slow down"}, headers={name: "12"})
    assert error.retry_after == 12.0


def test_no_retry_after_header_leaves_retry_after_unset() -> None:
    error = error_from_response(429, {"code": 1302}, headers={"Content-Type": "application/json"})
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("code", "what_to_do"),
    [(1101, "settle the bill in Kling's developer console"), (1102, "buy a resource pack")],
)
def test_arrears_and_used_up_packs_say_what_to_do_and_that_nothing_was_charged(
    code: int, what_to_do: str
) -> None:
    kling_message = {1101: "Account in arrears", 1102: "Resource pack depleted or expired"}[code]
    error = error_from_response(429, {"code": code, "message": kling_message, "request_id": "r-1"})

    text = str(error)
    assert text.startswith(f"Kling code {code}, HTTP 429: {kling_message}. ")
    assert what_to_do in text
    assert "clear this task" in text and "Nothing was generated or charged" in text
    assert "request_id=r-1" in text
    assert (error.retryable, error.airflow_retryable) == (False, False)


def test_account_advice_is_not_repeated_when_a_message_already_carries_it() -> None:
    first = error_from_response(429, {"code": 1102, "message": "used up"})
    again = error_from_response(429, {"code": 1102, "message": first.message})
    assert again.message == first.message


def test_other_account_exceptions_keep_klings_message_alone() -> None:
    error = error_from_response(429, {"code": 1100, "message": "Account exception"})
    assert type(error) is KlingAccountError
    assert error.message == "Account exception"
