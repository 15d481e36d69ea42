"""Downloading a result image or video safely: public CDN links, no Kling credentials sent.

Every hop of a redirect is checked before it is fetched (http(s) only, at most
:data:`~airflow_provider_kling.hooks.transport.MAX_REDIRECTS`); a host on a loopback, private,
link-local or otherwise non-public address is refused unless it is the connection's own host
(the simulator, a gateway on the same network) or listed in the ``allowed_image_hosts`` extra.
The body is capped, by ``Content-Length`` and again while streaming: an image at
``max_image_bytes``, a video at ``max_video_bytes``. The body is streamed in chunks and never held whole.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from airflow_provider_kling.errors import (
    KlingConnectionError,
    KlingDownloadRejectedError,
    KlingResultUnavailableError,
    error_from_response,
)
from airflow_provider_kling.hooks.transport import MAX_REDIRECTS
from airflow_provider_kling.storage import IMAGE, MediaKind

if TYPE_CHECKING:
    import requests

    from airflow_provider_kling.hooks.connection import KlingConnectionSettings

_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class MediaDownload:
    """An open image download: what the server said about it, and its body in chunks.

    Iterating yields the body; the connection closes at the end, on an error, or on :meth:`close`.
    """

    url: str
    content_type: str | None
    content_length: int | None
    chunks: Iterator[bytes] = field(repr=False)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self.chunks)

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _addresses(host: str, port: int, proxy: str | None) -> list[str]:
    """The addresses ``host`` stands for: itself when an IP, else as resolved here (none when a
    proxy resolves the name, not this machine)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        if proxy:
            return []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise KlingConnectionError(f"Could not resolve the image host {host!r}") from None
    return [str(info[4][0]) for info in infos]


def check_image_url(url: str, settings: KlingConnectionSettings, noun: str = "image") -> None:
    """Refuse a URL that is not http(s), or whose host is internal and not allowed (see the module doc)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise KlingDownloadRejectedError(f"Kling gave an {noun} URL that is not http(s): {url[:80]!r}")
    host, port = _origin(url)
    allowed = settings.allowed_image_hosts
    if (host, port) == _origin(settings.base_url) or host in allowed or f"{host}:{port}" in allowed:
        return
    is_localhost = host == "localhost" or host.endswith(".localhost")
    addresses = ["127.0.0.1"] if is_localhost else _addresses(host, port, settings.proxy)
    internal = [address for address in addresses if not _is_public(address)]
    if internal:
        raise KlingDownloadRejectedError(
            f"{noun.capitalize()} host {host} resolves to the internal address {internal[0]}: refused. "
            "Only the connection's own host, or hosts in its 'allowed_image_hosts' extra, may be internal."
        )


def _length(response: requests.Response) -> int | None:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    raw = response.headers.get("Content-Length")
    if encoding not in ("", "identity") or raw is None:
        return None  # a compressed body's length says nothing about the image's
    try:
        return int(raw)
    except ValueError:
        return None


def open_download(
    session: requests.Session,
    settings: KlingConnectionSettings,
    url: str,
    retry: Callable[[Callable[[], requests.Response]], requests.Response],
    chunk_size: int,
    media: MediaKind = IMAGE,
) -> MediaDownload:
    """Open the file of kind ``media`` at ``url``, checking every hop (``retry`` resends what a retry
    can fix); its body capped at the connection's setting ``media.cap``."""
    import requests

    noun, cap = media.noun, media.cap
    what, limit = noun.capitalize(), getattr(settings, cap)

    def open_stream() -> requests.Response:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            check_image_url(current, settings, noun)
            try:
                response = session.get(
                    current,
                    stream=True,
                    allow_redirects=False,
                    timeout=(settings.connect_timeout, settings.read_timeout),
                )
            except requests.RequestException as exc:
                raise KlingConnectionError(f"Could not download {current}: {type(exc).__name__}") from None
            if response.status_code in _REDIRECTS and response.headers.get("Location"):
                response.close()
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status_code in (403, 404, 410):
                response.close()
                raise KlingResultUnavailableError(
                    f"{what} {current} answered HTTP {response.status_code}: it has expired or was never "
                    f"there (Kling purges generated {noun}s after 30 days)",
                    http_status=response.status_code,
                )
            if response.status_code >= 400:
                response.close()
                raise error_from_response(response.status_code, None)
            return response
        raise KlingDownloadRejectedError(f"{what} {url} redirected more than {MAX_REDIRECTS} times")

    response = retry(open_stream)
    length = _length(response)
    if length is not None and length > limit:
        response.close()
        raise KlingDownloadRejectedError(
            f"{what} {url} is {length} bytes, more than {cap} ({limit}); not downloaded"
        )

    def body() -> Iterator[bytes]:
        received = 0
        with response:
            try:
                for chunk in response.iter_content(chunk_size=chunk_size):
                    received += len(chunk)
                    if received > limit:
                        raise KlingDownloadRejectedError(
                            f"{what} {url} sent more than {cap} ({limit}); download stopped"
                        )
                    yield chunk
            except requests.RequestException as exc:
                raise KlingConnectionError(f"Download of {url} broke off: {type(exc).__name__}") from None
        if length is not None and received != length:
            raise KlingDownloadRejectedError(f"{what} {url} ended after {received} of {length} bytes")

    return MediaDownload(
        url=response.url or url,
        content_type=response.headers.get("Content-Type"),
        content_length=length,
        chunks=body(),
    )
