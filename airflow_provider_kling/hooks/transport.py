"""The HTTP clients a hook talks through, both configured from the one connection settings object.

The sync path (worker) uses a ``requests.Session``; the async path (triggerer) an
``httpx.AsyncClient``. Both follow a moved API's redirects the same way (at most
:data:`MAX_REDIRECTS` hops, dropping ``Authorization`` when a redirect leaves the host) and take
the same TLS verification, CA bundle, client certificate, proxy and timeouts. Image downloads
follow redirects themselves, hop by hop (:mod:`.download`).

:func:`send` and :func:`asend` are the hook's two senders, all that differs between its modes:
each sends one :class:`~airflow_provider_kling.hooks.core.ApiRequest` and returns the
:class:`~airflow_provider_kling.hooks.core.Answer`, or :class:`KlingConnectError` when no
connection was made (nothing was sent), or :class:`KlingConnectionError` when the request may
have gone out (the answer was lost).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingConnectError, KlingConnectionError
from airflow_provider_kling.hooks.core import Answer

if TYPE_CHECKING:
    import ssl

    import httpx
    import requests

    from airflow_provider_kling.hooks.connection import KlingConnectionSettings
    from airflow_provider_kling.hooks.core import ApiRequest

#: Redirects followed for one API call or one image download.
MAX_REDIRECTS = 5


@functools.cache
def _ssl_context(ca_bundle: str | None, client_cert: str | None, client_key: str | None) -> ssl.SSLContext:
    """One SSL context per (CA bundle, client certificate): building one costs ~26 ms of CPU and ~1 MiB."""
    if not (ca_bundle or client_cert):
        import httpx

        return httpx.create_ssl_context()
    import ssl

    context = ssl.create_default_context(cafile=ca_bundle)
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context


def build_session(settings: KlingConnectionSettings) -> requests.Session:
    """A ``requests.Session`` for the worker (connection pooling); requests has no session-wide
    timeout: each request passes the settings' own."""
    import requests

    class PolicySession(requests.Session):
        """A session whose own TLS and proxy settings beat the environment's.

        Plain requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` and ``HTTPS_PROXY`` override
        a session's ``verify`` and ``proxies``; httpx lets explicit options win. The connection's
        choice wins in both here; without one, both fall back to the environment.
        """

        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None and self.verify is not True:
                merged["verify"] = self.verify
            if self.proxies and not proxies:
                merged["proxies"] = {**merged["proxies"], **self.proxies}
            return merged

    session = PolicySession()
    session.max_redirects = MAX_REDIRECTS
    session.verify = settings.ca_bundle if (settings.verify and settings.ca_bundle) else settings.verify
    key_apart = settings.client_cert and settings.client_key
    session.cert = (settings.client_cert, settings.client_key) if key_apart else settings.client_cert  # type: ignore[assignment]
    if settings.proxy:
        session.proxies = {"http": settings.proxy, "https": settings.proxy}
    return session


def build_async_client(settings: KlingConnectionSettings, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the triggerer; ``options`` (pool limits) are passed to httpx."""
    import httpx

    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        verify=settings.verify
        and _ssl_context(settings.ca_bundle, settings.client_cert, settings.client_key),
        proxy=settings.proxy,
        **options,
    )


def never_connected(exc: BaseException) -> bool:
    """Whether a requests or httpx error happened before any byte of the request was sent."""
    import httpx
    import requests
    from urllib3.exceptions import ConnectTimeoutError

    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        # httpx raises these only while opening a connection (or waiting for one); a TLS failure
        # counts as unprovable, as on the requests side, so both modes say the same.
        return not _caused_by_tls(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        return False  # a proxy or TLS error may come after the request went out: not provable
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        # urllib3's MaxRetryError wraps NewConnectionError / NameResolutionError (both ConnectTimeoutError).
        return isinstance(getattr(exc.args[0], "reason", None), ConnectTimeoutError)
    return False


def _caused_by_tls(exc: BaseException | None) -> bool:
    import ssl

    while exc is not None and not isinstance(exc, ssl.SSLError):
        exc = exc.__cause__ or exc.__context__  # httpx -> httpcore -> ssl
    return exc is not None


def _transport_error(request: ApiRequest, exc: BaseException) -> KlingConnectionError:
    if never_connected(exc):
        return KlingConnectError(
            f"Could not connect to Kling at {request.base_url} (nothing was sent): {type(exc).__name__}"
        )
    return KlingConnectionError(
        f"Lost the answer from Kling at {request.base_url} after sending {request.method} {request.path}: "
        f"{type(exc).__name__}"
    )


def send(session: requests.Session, request: ApiRequest) -> Answer | KlingConnectionError:
    """Send one request on the worker's session; a transport failure is returned, not raised."""
    import requests

    try:
        response = session.request(
            request.method,
            request.url,
            json=request.json,
            params=request.params,
            headers=dict(request.headers),
            timeout=(request.connect_timeout, request.read_timeout),
        )
    except requests.RequestException as exc:
        return _transport_error(request, exc)
    return Answer(response.status_code, response.headers, response.content)


async def asend(client: httpx.AsyncClient, request: ApiRequest) -> Answer | KlingConnectionError:
    """Send one request on the event loop's shared client; with a deadline, the whole request ends by it."""
    import asyncio
    import contextlib

    import httpx

    total = request.total_timeout
    bounded = asyncio.timeout(total) if total is not None else contextlib.nullcontext()
    try:
        async with bounded:
            response = await client.request(
                request.method,
                request.url,
                json=request.json,
                params=request.params,
                headers=dict(request.headers),
                timeout=httpx.Timeout(request.read_timeout, connect=request.connect_timeout),
            )
    except (httpx.HTTPError, TimeoutError) as exc:
        return _transport_error(request, exc)
    return Answer(response.status_code, response.headers, response.content)
