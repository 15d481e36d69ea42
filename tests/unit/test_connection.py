"""The ``kling`` connection's extras (``hooks/connection.py``): here, tasks_query and retired_models."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_kling.hooks.connection import KlingConnectionSettings


def settings(**extras: Any) -> KlingConnectionSettings:
    conn = SimpleNamespace(conn_id="kling_x", host="", port=None, login=None, password="key")
    return KlingConnectionSettings.from_connection(conn, extras)


def test_defaults_find_out_tasks_query_support_and_refuse_retired_models() -> None:
    read = settings()
    assert (read.tasks_query_support, read.retired_models) == ("auto", "refuse")


@pytest.mark.parametrize(
    ("value", "read"), [("yes", "yes"), ("NO", "no"), (True, "yes"), (False, "no"), ("", "auto")]
)
def test_tasks_query_extra_is_read(value: Any, read: str) -> None:
    assert settings(tasks_query=value).tasks_query_support == read


def test_retired_models_extra_is_read() -> None:
    assert settings(retired_models="warn").retired_models == "warn"


@pytest.mark.parametrize(
    ("extra", "value", "rule"),
    [
        ("tasks_query", "sometimes", "extra 'tasks_query' must be one of auto, yes, no"),
        ("retired_models", "allow", "extra 'retired_models' must be one of refuse, warn"),
    ],
)
def test_bad_values_are_refused_naming_the_connection_and_the_extra(
    extra: str, value: str, rule: str
) -> None:
    with pytest.raises(ValueError, match=rule) as caught:
        settings(**{extra: value})
    assert "Connection 'kling_x'" in str(caught.value)
