"""What every Kling trigger in a triggerer shares: one HTTP client per connection, and its settings.

A triggerer runs hundreds of triggers on one event loop. Each building its own ``httpx.AsyncClient``
costs an SSL context (tens of ms of CPU, about 1 MiB) and a socket held between polls. Here:

- one ``httpx.AsyncClient`` per connection per event loop, with a bounded pool whose keep-alive
  outlasts the poll interval, built on one process-wide SSL context; reference counted, closed when
  the last hook using it lets go (:func:`acquire_client` / :func:`release_client`);
- connection settings cached per connection id for :data:`SETTINGS_TTL` seconds, and read once
  even when many triggers start together (:func:`cached_settings`); a rotated key takes effect
  within the TTL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_kling.hooks import transport

if TYPE_CHECKING:
    import httpx

    from airflow_provider_kling.hooks.connection import KlingConnectionSettings

#: Connections per client: bounds the sockets a triggerer holds to Kling, whatever the trigger count.
POOL_SIZE = 20
#: Idle connections are kept this long; longer than any usual poll interval, so polls reuse them.
KEEPALIVE_SECONDS = 120.0
#: Connection settings are re-read after this long (a rotated key or a moved host takes effect).
SETTINGS_TTL = 60.0


@dataclass
class _SharedClient:
    client: httpx.AsyncClient
    users: int = 0


# event loop -> (connection id, transport settings) -> client. Weak: a closed, dropped loop leaves nothing.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _SharedClient]] = (
    weakref.WeakKeyDictionary()
)
# connection id -> (expires at, settings); process-wide, plain data.
_settings: dict[str, tuple[float, KlingConnectionSettings]] = {}
# event loop -> connection id -> lock, so triggers starting together read the connection once.
_loading: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _transport_key(settings: KlingConnectionSettings) -> str:
    """What the client is built from, without credentials (they travel per request)."""
    fields = dataclasses.asdict(settings)
    for secret in ("api_key", "access_key", "secret_key"):
        fields.pop(secret, None)
    return json.dumps(fields, sort_keys=True, default=str)


async def acquire_client(conn_id: str, settings: KlingConnectionSettings) -> httpx.AsyncClient:
    """The running loop's client for this connection, built on first use; pair with :func:`release_client`."""
    import httpx

    loop = asyncio.get_running_loop()
    key = (conn_id, _transport_key(settings))
    clients = _clients.setdefault(loop, {})
    shared = clients.get(key)
    if shared is None:
        limits = httpx.Limits(
            max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE, keepalive_expiry=KEEPALIVE_SECONDS
        )
        shared = clients[key] = _SharedClient(transport.build_async_client(settings, limits=limits))
    shared.users += 1
    return shared.client


async def release_client(client: httpx.AsyncClient) -> None:
    """One user fewer; the last one out closes the client."""
    clients = _clients.get(asyncio.get_running_loop(), {})
    for key, shared in list(clients.items()):
        if shared.client is client:
            shared.users -= 1
            if shared.users <= 0:
                del clients[key]
                await client.aclose()
            return
    await client.aclose()  # not shared (built elsewhere): close it as its owner would


def open_clients() -> int:
    """Clients open on the running loop (for tests and benchmarks)."""
    return len(_clients.get(asyncio.get_running_loop(), {}))


async def cached_settings(
    conn_id: str,
    load: Callable[[], Awaitable[KlingConnectionSettings]],
    clock: Callable[[], float],
) -> KlingConnectionSettings:
    """The connection's settings, read at most once per :data:`SETTINGS_TTL` (read with the hook's
    ``clock``) and by one trigger at a time."""
    lock = _loading.setdefault(asyncio.get_running_loop(), {}).setdefault(conn_id, asyncio.Lock())
    async with lock:
        cached = _settings.get(conn_id)
        if cached is not None and cached[0] > clock():
            return cached[1]
        settings = await load()
        _settings[conn_id] = (clock() + SETTINGS_TTL, settings)
        return settings


def forget_settings(conn_id: str | None = None) -> None:
    """Drop cached settings (of one connection, or all), so the next read goes to Airflow."""
    if conn_id is None:
        _settings.clear()
    else:
        _settings.pop(conn_id, None)
