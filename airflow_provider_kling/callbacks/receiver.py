"""The callback receiver: a FastAPI app the api-server mounts under ``/kling`` (see ``plugin``).

``POST /kling/callbacks/{conn_id}[?asset=<name>]``, one route per ``kling`` connection. Airflow's
auth does not cover plugin apps, so the signature is the only gate. In order:

| check | answer |
|---|---|
| body over :data:`MAX_BODY_BYTES` | 413 |
| the client went away before its body was read | 400 (nobody reads it) |
| no such ``kling`` connection, or no ``webhook_secret`` on it | 401 :data:`NOT_VERIFIED` |
| no signature headers, a signature no secret matches, a timestamp more than 5 min away | the same 401 |
| a webhook id seen already (a retry or a replay) | 200, nothing recorded again |
| the same webhook id being handled right now | 409 (the sender retries; the first one decides) |
| a signed body that is not a task | 400 |
| a progress callback (submitted, processing) | 200, counted |
| a terminal callback (succeed, failed) | 200 once its asset event is recorded |
| ... of a task already recorded in this status (any webhook id or asset) | 200, nothing recorded again |
| ... that the database could not take (SQLite's "database is locked") | 503, nothing recorded |
| ... whose asset no DAG declares | 404, nothing recorded |

Stale timestamps answer 401 like a bad signature: Standard Webhooks' reference libraries raise
the same verification error for both, and a message outside the window cannot be shown to be
fresh. An unknown connection id answers the same, so that an unauthenticated caller cannot tell
which connection ids exist; the log says which check refused it. Replays answer 200, not 409:
``webhook-id`` is Standard Webhooks' idempotency key and a sender retries a message whose 2xx it
never saw under the same id; a 4xx would only make it retry again. Nothing here waits on Kling:
the answer comes after one signature check and, for a terminal callback, one database
transaction. Kling's retry policy is undocumented (its page says only "answer 200"), so the
sweep, not Kling's retries, is what finds a lost callback.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from airflow_provider_kling.callbacks import URL_PREFIX
from airflow_provider_kling.callbacks.events import ASSET_QUERY, asset_for_callback, event_extra
from airflow_provider_kling.callbacks.recorder import AirflowAssetEvents, EventRecorder, Outcome
from airflow_provider_kling.callbacks.records import CallbackBodyError, parse_callback
from airflow_provider_kling.callbacks.replay import Claim, ReplayGuard
from airflow_provider_kling.callbacks.signature import (
    TIMESTAMP_TOLERANCE,
    WebhookVerificationError,
    verify_webhook,
    webhook_keys_extra,
)

log = logging.getLogger(__name__)

__all__ = ["CALLBACK_PATH", "MAX_BODY_BYTES", "URL_PREFIX", "create_receiver_app"]
CALLBACK_PATH = "/callbacks"
#: A task record is a few KiB (nine image URLs at most); anything past 256 KiB is not Kling's.
MAX_BODY_BYTES = 256 * 1024
#: How long a connection's secrets are reused before it is read again (a rotated secret, or a new
#: connection, takes effect within this; during a standard rotation Kling signs with both).
CONNECTION_CACHE_SECONDS = 30.0
#: Reads of ids that are not a known connection, per api-server worker: a burst, then a rate.
UNKNOWN_LOOKUP_BURST = 20
UNKNOWN_LOOKUPS_PER_SECOND = 5.0
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")  # fullmatch: ``$`` would let a final newline in
#: The one answer to every request that cannot be shown to come from Kling for a connection.
NOT_VERIFIED = "not a verified Kling callback"


@dataclass(frozen=True)
class CallbackConnection:
    """What the receiver needs from a ``kling`` connection: its secrets' keys and its extras."""

    conn_id: str
    keys: tuple[bytes, ...]
    extras: Mapping[str, Any]


ConnectionLookup = Callable[[str], CallbackConnection | None]


def airflow_connection(conn_id: str) -> CallbackConnection | None:
    """The ``kling`` connection ``conn_id`` from Airflow's secrets backends and database, or None."""
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # AirflowNotFoundException, or a backend that cannot answer for this id
        return None
    if conn.conn_type != "kling":
        return None
    extras = conn.extra_dejson
    try:
        keys = webhook_keys_extra(extras, conn_id)
    except ValueError as exc:
        log.error("Kling callbacks: %s", exc)  # names the extra and the rule, never the secret
        return None
    return CallbackConnection(conn_id=conn_id, keys=keys, extras=extras)


class CachedConnections:
    """Connections for :data:`CONNECTION_CACHE_SECONDS`, unknown ids too, at a bounded cost.

    Known connections are kept apart from unknown ids, which are an LRU of ``max_entries`` (a
    flood of random ids evicts the oldest of them, never a known connection). Reading an id that
    is not a known connection is rate limited (a burst of ``lookup_burst``, then
    ``lookups_per_second``): past it, the id is answered as unknown without a database read.
    """

    def __init__(
        self,
        lookup: ConnectionLookup,
        clock: Callable[[], float],
        max_entries: int = 1024,
        lookups_per_second: float = UNKNOWN_LOOKUPS_PER_SECOND,
        lookup_burst: int = UNKNOWN_LOOKUP_BURST,
    ) -> None:
        self._lookup, self._clock, self._max_entries = lookup, clock, max_entries
        self._rate, self._burst = lookups_per_second, float(lookup_burst)
        self._tokens, self._refilled = float(lookup_burst), clock()
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, CallbackConnection]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known) + len(self._unknown)

    def cached(self, conn_id: str) -> tuple[bool, CallbackConnection | None]:
        """``(True, what get answers)`` when that is in memory (no read: no thread needed), else
        ``(False, None)``."""
        now = self._clock()
        with self._lock:
            known = self._known.get(conn_id)
            if known is not None and now - known[0] < CONNECTION_CACHE_SECONDS:
                return True, known[1]
            seen_unknown = self._unknown.get(conn_id)
            if seen_unknown is not None and now - seen_unknown < CONNECTION_CACHE_SECONDS:
                self._unknown.move_to_end(conn_id)
                return True, None
        return False, None

    def get(self, conn_id: str) -> CallbackConnection | None:
        in_memory, conn = self.cached(conn_id)
        if in_memory:
            return conn
        now = self._clock()
        with self._lock:
            if conn_id not in self._known and not self._take_token(now):
                return None  # rate limited: answered as unknown, not remembered
        found = self._lookup(conn_id)
        with self._lock:
            if found is not None:
                self._known[conn_id] = (now, found)
                self._unknown.pop(conn_id, None)
            else:
                self._known.pop(conn_id, None)
                self._unknown[conn_id] = now
                self._unknown.move_to_end(conn_id)
                while len(self._unknown) > self._max_entries:
                    self._unknown.popitem(last=False)
        return found

    def _take_token(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + max(now - self._refilled, 0.0) * self._rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def _refuse(status: int, detail: str, counters: Counter[str], counter: str) -> JSONResponse:
    counters[counter] += 1
    return JSONResponse({"detail": detail}, status_code=status)


class BodyRefused(Exception):
    """A body the receiver does not read to the end: ``status`` is the answer."""

    def __init__(self, status: int, detail: str, counter: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.counter = status, detail, counter


async def read_capped(request: Request, limit: int) -> bytes:
    """The body; :class:`BodyRefused` once it passes ``limit`` bytes (read no further: 413) or when
    the client goes away before its end (400)."""
    too_large = BodyRefused(413, f"a callback body is at most {limit} bytes", "too_large")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
    except ClientDisconnect:
        raise BodyRefused(400, "the client disconnected", "disconnected") from None
    return bytes(body)


def create_receiver_app(
    *,
    connections: ConnectionLookup | None = None,
    recorder: EventRecorder | None = None,
    clock: Callable[[], float] = time.time,
    replay: ReplayGuard | None = None,
) -> FastAPI:
    """The receiver. By default it reads Airflow's connections and records through Airflow's asset
    manager; tests pass their own ``connections``, ``recorder`` and ``clock``."""
    app = FastAPI(title="Kling callbacks", docs_url=None, redoc_url=None, openapi_url=None)
    lookup = CachedConnections(connections or airflow_connection, clock)
    events = recorder or AirflowAssetEvents()
    seen = replay or ReplayGuard()
    counters: Counter[str] = Counter()
    app.state.kling_callbacks = counters
    app.state.kling_replay = seen

    @app.post(CALLBACK_PATH + "/{conn_id}")
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        counters["received"] += 1
        try:
            body = await read_capped(request, MAX_BODY_BYTES)
        except BodyRefused as refused:
            return _refuse(refused.status, refused.detail, counters, refused.counter)
        in_memory, conn = lookup.cached(conn_id) if _CONN_ID.fullmatch(conn_id) else (True, None)
        if not in_memory:  # a read of Airflow's connections blocks: in a thread
            conn = await run_in_threadpool(lookup.get, conn_id)
        if conn is None or not conn.keys:
            log.warning("Kling callback refused: no kling connection with a webhook_secret by this id")
            return _refuse(401, NOT_VERIFIED, counters, "unknown")
        try:
            webhook = verify_webhook(request.headers, body, conn.keys, now=clock())
        except WebhookVerificationError as exc:
            log.warning("Kling callback for %s refused: %s", conn_id, exc)
            return _refuse(401, NOT_VERIFIED, counters, exc.reason)
        try:
            asset_uri = asset_for_callback(conn_id, conn.extras, request.query_params.get(ASSET_QUERY))
        except ValueError as exc:
            return _refuse(400, str(exc), counters, "bad_asset")
        key = f"{conn_id}\x1f{webhook.webhook_id}"
        claim = seen.claim(key, forget_at=webhook.timestamp + TIMESTAMP_TOLERANCE + 1, now=clock())
        if claim is Claim.DONE:
            counters["duplicate"] += 1
            return JSONResponse({"status": "duplicate"})
        if claim is Claim.IN_FLIGHT:
            return _refuse(409, "this webhook id is being handled", counters, "in_flight")
        if claim is Claim.FULL:
            return _refuse(503, "too many callbacks in the replay window", counters, "replay_memory_full")
        try:
            answer = await _handle(conn_id, webhook.webhook_id, body, asset_uri, events, counters)
        except BaseException:
            seen.release(key)
            raise
        if answer.status_code < 300:
            seen.done(key)
        else:
            seen.release(key)
        return answer

    return app


async def _handle(
    conn_id: str,
    webhook_id: str,
    body: bytes,
    asset_uri: str,
    events: EventRecorder,
    counters: Counter[str],
) -> JSONResponse:
    try:
        record = parse_callback(body)
    except CallbackBodyError as exc:
        return _refuse(400, str(exc), counters, "bad_body")
    if not record.is_final:
        counters["progress"] += 1
        return JSONResponse({"status": "counted"})
    extra = event_extra(record, conn_id=conn_id, webhook_id=webhook_id)
    try:
        outcome = await run_in_threadpool(events.record, asset_uri, extra)
    except SQLAlchemyError as exc:  # e.g. SQLite's "database is locked": nothing was recorded
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0][:200]
        log.warning("Kling callback for %s: task %s not recorded, the database refused: %s", conn_id,
                    record.task_id, reason)  # fmt: skip
        return _refuse(503, "the metadata database is busy: send again", counters, "database_busy")
    if outcome is Outcome.NO_ASSET:
        return _refuse(404, f"no DAG declares the asset {asset_uri}: nothing recorded", counters, "no_asset")
    counters[outcome.value] += 1
    log.info(
        "Kling callback for %s: task %s %s, %s on %s",
        conn_id,
        record.task_id,
        record.status.value,
        outcome.value,
        asset_uri,
    )
    return JSONResponse({"status": outcome.value, "asset": asset_uri})
