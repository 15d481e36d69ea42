"""The connection's ``region`` extra: Singapore or Beijing, the host follows; the default is unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL, get_provider_info
from airflow_provider_kling.hooks.connection import KlingConnectionSettings
from airflow_provider_kling.models.hosts import region_of


def settings(host: str = "", **extras: Any) -> KlingConnectionSettings:
    conn = SimpleNamespace(conn_id="kling_x", host=host, port=None, login=None, password="key")
    return KlingConnectionSettings.from_connection(conn, extras)


def test_without_a_region_the_default_host_is_unchanged() -> None:
    assert (settings().base_url, settings().region) == (DEFAULT_BASE_URL, None)
    assert settings(region="").base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("singapore", "https://api-singapore.klingai.com"),
        ("Beijing", "https://api-beijing.klingai.com"),
    ],
)
def test_a_region_with_an_empty_host_uses_that_regions_kling_host(region: str, host: str) -> None:
    read = settings(region=region)
    assert (read.base_url, read.region) == (host, region.lower())
    assert region_of(read.base_url) == region.lower()


def test_a_given_host_wins_when_it_is_not_the_other_regions() -> None:
    assert (
        settings("http://127.0.0.1:18700/kling", region="beijing").base_url == "http://127.0.0.1:18700/kling"
    )
    assert settings("api-beijing.klingai.com", region="beijing").base_url == "https://api-beijing.klingai.com"


def test_a_host_of_the_other_region_is_refused_because_keys_do_not_cross_regions() -> None:
    with pytest.raises(
        ValueError, match=r"kling_x.*singapore site but the region extra says beijing"
    ) as caught:
        settings("https://api-singapore.klingai.com", region="beijing")
    assert "do not cross regions (UNCONFIRMED)" in str(caught.value)
    with pytest.raises(ValueError, match="singapore site"):  # Kling's old global host is Singapore's
        settings("https://api.klingai.com", region="beijing")


def test_an_unknown_region_is_refused_naming_the_extra_and_its_values() -> None:
    with pytest.raises(ValueError, match=r"extra .region. must be one of singapore, beijing .got .shanghai."):
        settings(region="shanghai")


def test_the_connection_form_says_keys_do_not_cross_regions() -> None:
    field = get_provider_info()["connection-types"][0]["conn-fields"]["region"]
    assert "singapore or beijing" in field["label"]
    assert "do not cross regions (UNCONFIRMED)" in field["description"]
