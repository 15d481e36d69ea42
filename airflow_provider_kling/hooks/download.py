"""Streaming a result image from its URL (a public CDN link: no Kling credentials are sent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from airflow_provider_kling.errors import (
    KlingConnectionError,
    KlingImageUnavailableError,
    error_from_response,
)

if TYPE_CHECKING:
    import requests

    from airflow_provider_kling.hooks.connection import KlingConnectionSettings


def iter_image_bytes(
    session: requests.Session,
    settings: KlingConnectionSettings,
    url: str,
    retry: Callable[[Callable[[], requests.Response]], requests.Response],
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """Open ``url`` (``retry`` resends what a retry can fix) and yield its body in chunks."""
    import requests

    if not url.startswith(("http://", "https://")):
        raise KlingImageUnavailableError(f"Kling gave an image URL that is not http(s): {url[:80]!r}")

    def open_stream() -> requests.Response:
        try:
            response = session.get(
                url, stream=True, timeout=(settings.connect_timeout, settings.read_timeout)
            )
        except requests.RequestException as exc:
            raise KlingConnectionError(f"Could not download {url}: {type(exc).__name__}") from None
        if response.status_code in (403, 404, 410):
            response.close()
            raise KlingImageUnavailableError(
                f"Image {url} answered HTTP {response.status_code}: it has expired or was never there "
                "(Kling purges generated images after 30 days)",
                http_status=response.status_code,
            )
        if response.status_code >= 400:
            response.close()
            raise error_from_response(response.status_code, None)
        return response

    response = retry(open_stream)
    with response:
        try:
            yield from response.iter_content(chunk_size=chunk_size)
        except requests.RequestException as exc:
            raise KlingConnectionError(f"Download of {url} broke off: {type(exc).__name__}") from None
