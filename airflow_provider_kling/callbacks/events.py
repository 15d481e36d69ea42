"""Which asset a callback is recorded on, what its event's ``extra`` says, and how a task reads
the events again when one read fails. No Airflow, no I/O of its own.

A connection's callbacks go to ``kling://<conn_id>/tasks`` unless the connection's
``callback_asset`` extra names another asset URI; a callback URL's ``?asset=<name>`` names
``kling://<conn_id>/<name>`` instead (one asset per pipeline), and never an asset outside the
connection's ``kling://<conn_id>/`` space, so that a callback cannot write to another asset.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from airflow_provider_kling.callbacks import URL_PREFIX
from airflow_provider_kling.callbacks.records import CallbackRecord
from airflow_provider_kling.idempotency import parse_external_task_id

_T = TypeVar("_T")
log = logging.getLogger(__name__)

ASSET_SCHEME = "kling"
DEFAULT_ASSET_NAME = "tasks"
#: An asset name given in a callback URL's query: one path segment, plain.
ASSET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: The query parameter of a callback URL that names the asset.
ASSET_QUERY = "asset"
#: Keys of an event's ``extra`` (the consumer DAG reads these).
EVENT_EXTRA_KEYS = (
    "kling_task_id",
    "external_task_id",
    "status",
    "status_message",
    "image_urls",
    "video_urls",
    "units",
    "namespace",
    "fingerprint",
    "conn_id",
    "webhook_id",
    "body_shape",
)


def callback_asset_uri(conn_id: str, name: str | None = None) -> str:
    """``kling://<conn_id>/<name>`` (``tasks`` by default): the asset a DAG schedules on."""
    name = name or DEFAULT_ASSET_NAME
    if not ASSET_NAME_PATTERN.fullmatch(name):  # not match: ``$`` would let a final newline in
        raise ValueError(
            f"a callback asset name must be 1 to 64 characters of A-Z a-z 0-9 . _ - starting with a "
            f"letter or digit (got {name!r})"
        )
    return f"{ASSET_SCHEME}://{quote(conn_id, safe='')}/{name}"


#: ``callback_url="receiver"`` (or ``"receiver:<asset name>"``): this provider's receiver, at the
#: connection's ``callback_base_url``.
RECEIVER = "receiver"


def resolve_callback_url(value: Any, conn_id: str, base_url: Callable[[], str | None]) -> Any:
    """``value``, or the receiver's URL when it is :data:`RECEIVER` (``base_url`` reads the
    connection's ``callback_base_url`` only then); ValueError naming the extra when it is unset."""
    if not isinstance(value, str) or value.partition(":")[0] != RECEIVER:
        return value
    base = base_url()
    if not base:
        raise ValueError(
            f"callback_url={value!r} needs the 'callback_base_url' extra on connection '{conn_id}': "
            "the api-server's URL as Kling reaches it"
        )
    return receiver_url(base, conn_id, value.partition(":")[2] or None)


def receiver_url(base_url: str, conn_id: str, asset_name: str | None = None) -> str:
    """The ``callback_url`` to give Kling: ``<base_url>/kling/callbacks/<conn_id>[?asset=<name>]``.

    ``base_url`` is the api-server's public base URL (the connection's ``callback_base_url``).
    """
    url = f"{base_url.rstrip('/')}{URL_PREFIX}/callbacks/{quote(conn_id, safe='')}"
    if asset_name:
        callback_asset_uri(conn_id, asset_name)  # the same rule the receiver applies
        url += f"?{ASSET_QUERY}={asset_name}"
    return url


def asset_for_callback(conn_id: str, extras: Mapping[str, Any], query_name: str | None) -> str:
    """The asset URI one callback is recorded on (see the module docstring); ValueError when the
    query names an asset that breaks :data:`ASSET_NAME_PATTERN`."""
    if query_name:
        return callback_asset_uri(conn_id, query_name)
    configured = extras.get("callback_asset")
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return callback_asset_uri(conn_id)


def event_extra(record: CallbackRecord, *, conn_id: str, webhook_id: str) -> dict[str, Any]:
    """The asset event's ``extra``: what the consumer needs to store the results and tell the pipeline."""
    parts = parse_external_task_id(record.external_task_id)
    return {
        "kling_task_id": record.task_id,
        "external_task_id": record.external_task_id,
        "status": record.status.value,
        "status_message": record.status_message,
        "image_urls": list(record.image_urls),
        "video_urls": list(record.video_urls),
        "units": record.units,
        "namespace": parts.namespace if parts else None,
        "fingerprint": parts.fingerprint if parts else None,
        "conn_id": conn_id,
        "webhook_id": webhook_id,
        "body_shape": record.shape,
    }


def task_of_event(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The Kling task an event's ``extra`` describes, in the shape of a legacy query's ``data``
    (what the task model and the batch's admission read)."""
    images = [{"index": index, "url": url} for index, url in enumerate(extra.get("image_urls") or [])]
    videos = [{"url": url} for url in extra.get("video_urls") or []]
    return {
        "task_id": str(extra["kling_task_id"]),
        "task_status": extra.get("status"),
        "task_status_msg": extra.get("status_message") or "",
        "task_info": {"external_task_id": extra.get("external_task_id")},
        "final_unit_deduction": extra.get("units"),
        "task_result": {"images": images, "videos": videos},
    }


#: How many times a task reads the callback asset's events before the read's error is its own,
#: and how long it waits before the first read again (doubling each time): 6 reads span 62 s, so
#: an api-server down for up to about a minute is absorbed (measured: 20 s and 40 s kills, where 4
#: reads, 14 s, failed the try at 40 s); a longer outage still fails the try.
EVENT_READ_ATTEMPTS = 6
EVENT_READ_DELAY = 2.0
#: Errors of the caller's own making, which reading again would not change.
_NOT_TRANSIENT = (KeyError, TypeError, AttributeError, NameError)


def reading_again(
    read: Callable[[], _T],
    *,
    attempts: int = EVENT_READ_ATTEMPTS,
    delay: float = EVENT_READ_DELAY,
    sleep: Callable[[float], None] = time.sleep,
    logger: Any = None,
) -> Callable[[], _T]:
    """``read`` (a task's read of the callback asset's events: side-effect free), read again after
    a transient error (the api-server restarting answers ``API_SERVER_ERROR``) up to ``attempts``
    times in all, waiting ``delay`` seconds and doubling; the last error is raised."""

    def read_with_retries() -> _T:
        wait = delay
        for attempt in range(1, attempts + 1):
            try:
                return read()
            except _NOT_TRANSIENT:
                raise
            except Exception as exc:
                if attempt == attempts:
                    raise
                (logger or log).warning(
                    "Reading the callback events failed (%s: %s); reading again in %.0f s (%d/%d)",
                    type(exc).__name__, exc, wait, attempt, attempts - 1,
                )  # fmt: skip
                sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    return read_with_retries
