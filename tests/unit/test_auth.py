"""Authentication rules that hold before any request is sent (``hooks/auth.py``)."""

from __future__ import annotations

import pytest

from airflow_provider_kling.errors import KlingAuthError
from airflow_provider_kling.hooks.auth import check_auth_for_path


@pytest.mark.parametrize("path", ["/text-to-video/kling-3.0", "/omni-video/kling-o1", "/tasks"])
def test_a_jwt_connection_on_a_new_style_path_fails_before_sending_saying_an_api_key_is_needed(
    path: str,
) -> None:
    with pytest.raises(KlingAuthError) as caught:
        check_auth_for_path(path, uses_jwt=True, conn_id="kling_jwt")
    message = str(caught.value)
    assert "needs an API key" in message and "kling_jwt" in message
    assert caught.value.http_status is None  # refused here, not by Kling


@pytest.mark.parametrize("path", ["/v1/images/generations", "/v1/videos/text2video"])
def test_a_jwt_connection_on_v1_paths_is_fine(path: str) -> None:
    check_auth_for_path(path, uses_jwt=True, conn_id="kling_jwt")


def test_an_api_key_connection_is_fine_everywhere() -> None:
    check_auth_for_path("/text-to-video/kling-3.0", uses_jwt=False, conn_id="kling_default")
