"""Terminal callbacks recorded as Airflow asset events, from inside the api-server, exactly once.

The same call Airflow's own ``POST /api/v2/assets/events`` makes (Airflow 3.1 to 3.3):
``asset_manager.register_asset_change`` with a database session, which writes the event and
queues the DAG runs scheduled on the asset. The REST endpoint itself would need a token of an
Airflow user; a process that already is the api-server records directly.

Exactly one event per :func:`callback_key` (connection, Kling task, terminal status), whatever
the webhook id, the asset the callback URL names, the number of api-server workers and the time
between deliveries: the event is written in the same transaction as a row of the table
:data:`CALLBACK_KEYS` (``kling_callback_key``), whose primary key is that key. The database makes
the check atomic: the key's row is inserted with ``ON CONFLICT DO NOTHING`` (MySQL: ``INSERT
IGNORE``), so a second transaction inserting the same key waits for the first and inserts nothing
once it commits; the check is that one statement, whatever the recent traffic. A terminal callback
costs one transaction: the key's insert, then the asset manager's statements (it reads the asset
and the DAGs scheduled on it, writes the event and queues their runs). The table
is this provider's own, created in Airflow's metadata database on the first terminal callback a
process records (Airflow 3.3's asset state store is keyed by one asset, so it cannot tell a
replay onto another asset of the connection; Airflow 3.1 and 3.2 have none).

The asset must exist: a DAG must declare it (as a schedule or an outlet). An asset no DAG
declares is :attr:`Outcome.NO_ASSET`: nothing is recorded, the receiver answers 404, and the
task is left to the sweep (Kling's retries, if any, would find it once the DAG is deployed). The
active assets of a URI are read once per :data:`ASSET_CACHE_SECONDS` (the asset manager reads
the asset again when it records: one query per callback fewer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Column, DateTime, Insert, MetaData, String, Table, and_, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

log = logging.getLogger(__name__)

#: How long the active assets of a URI are reused before they are read again (as connections are):
#: an asset no DAG declares any more still takes events for up to this long.
ASSET_CACHE_SECONDS = 30.0
#: One row per terminal callback recorded: its key is the primary key.
CALLBACK_KEYS = Table(
    "kling_callback_key",
    MetaData(),
    Column("conn_id", String(250), primary_key=True),
    Column("kling_task_id", String(128), primary_key=True),
    Column("status", String(32), primary_key=True),
    Column("asset_uri", String(1500), nullable=False),
    Column("webhook_id", String(256), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


class Outcome(Enum):
    RECORDED = "recorded"
    #: This connection already has an event of this Kling task in this status (on any asset).
    DUPLICATE = "duplicate"
    NO_ASSET = "no_asset"


class EventRecorder(Protocol):
    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome: ...


def callback_key(extra: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes a callback the same as one recorded already: the connection, the Kling task and
    its terminal status (not the webhook id, not the asset, not the time)."""
    return str(extra["conn_id"]), str(extra["kling_task_id"]), str(extra["status"])


def _insert_key(dialect: str, key: Mapping[str, str]) -> Insert:
    """The key's row, inserted unless the key is there already (then no row: a duplicate)."""
    values = {**key, "recorded_at": datetime.now(UTC)}
    if dialect in ("postgresql", "sqlite"):
        module = postgresql if dialect == "postgresql" else sqlite
        return module.insert(CALLBACK_KEYS).values(values).on_conflict_do_nothing()
    if dialect == "mysql":
        return insert(CALLBACK_KEYS).values(values).prefix_with("IGNORE")
    return insert(CALLBACK_KEYS).values(values)


class AirflowAssetEvents:
    """Records through Airflow's asset manager, in one transaction per callback with its key's row."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._table_ready = False
        self._lock = threading.Lock()
        self._clock = clock
        #: Active assets by URI, with the time they were read (absence is not kept: a DAG deployed
        #: meanwhile is seen on the next callback).
        self._assets: dict[str, tuple[float, list[Any]]] = {}

    def _ensure_table(self) -> None:
        """Create :data:`CALLBACK_KEYS` once per process (another worker may be creating it too)."""
        if self._table_ready:
            return
        from airflow import settings

        engine = settings.engine
        if engine is None:
            raise RuntimeError("Airflow's metadata database is not configured in this process")
        with self._lock:
            if self._table_ready:
                return
            try:
                CALLBACK_KEYS.create(engine, checkfirst=True)
            except SQLAlchemyError:  # created meanwhile by another process: check it is there
                CALLBACK_KEYS.create(engine, checkfirst=True)
            self._table_ready = True

    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome:
        from airflow.assets.manager import asset_manager
        from airflow.models.asset import AssetActive, AssetModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        self._ensure_table()
        conn_id, kling_task_id, status = callback_key(extra)
        with create_session() as session:
            read_at, assets = self._assets.get(asset_uri, (0.0, []))
            if self._clock() - read_at >= ASSET_CACHE_SECONDS or not assets:
                active = AssetActive.name == AssetModel.name, AssetActive.uri == AssetModel.uri
                assets = list(  # rows of (name, uri): how the asset manager finds an asset (3.1 to 3.3)
                    session.execute(
                        select(AssetModel.name, AssetModel.uri)
                        .join(AssetActive, and_(*active))
                        .where(AssetModel.uri == asset_uri)
                    )
                )
                self._assets[asset_uri] = (self._clock(), assets)
            if not assets:
                log.warning(
                    "Kling callback: no active asset %s (no DAG declares it): nothing recorded", asset_uri
                )
                return Outcome.NO_ASSET
            key = {"conn_id": conn_id, "kling_task_id": kling_task_id, "status": status}
            key.update(asset_uri=asset_uri, webhook_id=str(extra.get("webhook_id") or ""))
            try:
                done = session.execute(_insert_key(session.get_bind().dialect.name, key))
                inserted = cast("CursorResult[Any]", done).rowcount
            except IntegrityError:  # a dialect with no "insert unless present"
                inserted = 0
            if inserted != 1:
                session.rollback()
                return Outcome.DUPLICATE
            for asset in assets:  # the asset manager reads the asset again by its name and URI
                if not asset_manager.register_asset_change(
                    asset=asset, extra=dict(extra), session=session, source_is_api=True
                ):  # deleted since it was read: nothing recorded
                    session.rollback()
                    self._assets.pop(asset_uri, None)
                    return Outcome.NO_ASSET
        return Outcome.RECORDED
