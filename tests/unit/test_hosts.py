"""Which kind of host a base URL names (``models/hosts.py``)."""

from __future__ import annotations

import pytest

from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL
from airflow_provider_kling.models.hosts import host_family, is_klings_own_host


@pytest.mark.parametrize(
    ("base_url", "family"),
    [
        ("https://api-singapore.klingai.com", "kling"),
        ("https://API-BEIJING.klingai.com/", "kling"),
        (DEFAULT_BASE_URL, "reseller"),
        ("https://kkiai.com/kling", "reseller"),
        ("http://127.0.0.1:8765/kling", None),
        ("https://klingai.com.example.org", None),
        ("https://evil-klingai.com", None),
    ],
)
def test_host_family_is_read_from_the_host_name_only(base_url: str, family: str | None) -> None:
    assert host_family(base_url) == family
    assert is_klings_own_host(base_url) == (family == "kling")
