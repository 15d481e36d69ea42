"""Host support detection (``hooks/create.py``): here, whether a host answers ``GET /tasks``."""

from __future__ import annotations

import pytest

from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingConnectionError,
    KlingInvalidRequestError,
    KlingNotFoundError,
    KlingResponseError,
    KlingServerError,
)
from airflow_provider_kling.hooks.task_queries import TasksQuerySupport

KLING = "https://api-singapore.klingai.com"
RESELLER = "https://www.kkiai.com/kling"


@pytest.mark.parametrize(
    ("setting", "base_url", "jwt", "known"),
    [
        ("auto", KLING, False, True),
        ("auto", RESELLER, False, None),
        ("auto", KLING, True, False),  # /tasks is new-style: API key only
        ("yes", RESELLER, True, True),
        ("no", KLING, False, False),
    ],
)
def test_what_is_known_before_any_answer(setting: str, base_url: str, jwt: bool, known: bool | None) -> None:
    support = TasksQuerySupport(setting, base_url, uses_jwt=jwt)
    assert support.supported is known
    assert support.usable is (known is not False)


@pytest.mark.parametrize(
    "error",
    [
        KlingNotFoundError("no such resource", http_status=404, code=1203),
        KlingInvalidRequestError("method not allowed", http_status=404, code=1202),
        KlingResponseError("Kling answered HTTP 200 with a body that is not JSON", http_status=200),
        KlingAuthError("Authorization is invalid", http_status=401, code=1002),
    ],
)
def test_a_host_without_the_route_is_given_up_on(error: Exception) -> None:
    support = TasksQuerySupport("auto", RESELLER)
    assert support.saw_error(error) is True  # type: ignore[arg-type]
    assert support.supported is False and not support.usable


@pytest.mark.parametrize(
    "error",
    [
        KlingServerError("maintenance", http_status=503, code=5001),
        KlingConnectionError("timed out"),
        KlingInvalidRequestError("at most 20 ids", http_status=400, code=1201),
    ],
)
def test_transient_and_parameter_errors_say_nothing_about_support(error: Exception) -> None:
    support = TasksQuerySupport("auto", RESELLER)
    assert support.saw_error(error) is False  # type: ignore[arg-type]
    assert support.supported is None


def test_a_host_set_to_yes_is_never_given_up_on() -> None:
    support = TasksQuerySupport("yes", RESELLER)
    assert support.saw_error(KlingNotFoundError("gone", http_status=404)) is False
    assert support.supported is True


def test_an_answer_shows_support() -> None:
    support = TasksQuerySupport("auto", RESELLER)
    support.saw_answer()
    assert support.supported is True
    assert "supported=True" in repr(support)
