"""The HTTP clients a hook talks through, built from one place so both modes behave alike.

The sync path (worker) uses a ``requests.Session``; the async path (triggerer) an
``httpx.AsyncClient``. Both are configured here from :class:`KlingConnectionSettings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    import requests

    from airflow_provider_kling.hooks.connection import KlingConnectionSettings


def build_session(settings: KlingConnectionSettings) -> requests.Session:
    """A ``requests.Session`` for the worker: connection pooling and the connection's proxy."""
    import requests

    session = requests.Session()
    if settings.proxy:
        session.proxies = {"http": settings.proxy, "https": settings.proxy}
    return session


def build_async_client(settings: KlingConnectionSettings, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the triggerer, with the same timeouts and proxy.

    ``options`` (pool limits, a shared SSL context) are passed to httpx as they are.
    """
    import httpx

    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        proxy=settings.proxy,
        **options,
    )
