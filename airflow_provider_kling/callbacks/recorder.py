"""Terminal callbacks recorded as Airflow asset events, from inside the api-server.

The same call Airflow's own ``POST /api/v2/assets/events`` makes (Airflow 3.1 to 3.3):
``asset_manager.register_asset_change`` with a database session, which writes the event and
queues the DAG runs scheduled on the asset. The REST endpoint itself would need a token of an
Airflow user; a process that already is the api-server records directly.

The asset must exist: a DAG must declare it (as a schedule or an outlet). An asset no DAG
declares is :attr:`Outcome.NO_ASSET`: nothing is recorded, the receiver answers 404, and the
task is left to the sweep (Kling's retries, if any, would find it once the DAG is deployed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: How far back the recorder looks for an event of the same callback (another api-server worker
#: may have recorded it): twice the signature tolerance covers any replay that can still verify.
DUPLICATE_WINDOW = timedelta(minutes=10)


class Outcome(Enum):
    RECORDED = "recorded"
    #: The asset already has an event of this webhook id, or of this task in this status.
    DUPLICATE = "duplicate"
    NO_ASSET = "no_asset"


class EventRecorder(Protocol):
    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome: ...


def is_same_callback(recorded: Any, extra: Mapping[str, Any]) -> bool:
    """Whether an event already recorded stands for this callback: the same webhook id, or the same
    Kling task in the same (terminal) status."""
    if not isinstance(recorded, Mapping):
        return False
    if recorded.get("webhook_id") == extra["webhook_id"]:
        return True
    return bool(
        recorded.get("kling_task_id") == extra["kling_task_id"] and recorded.get("status") == extra["status"]
    )


class AirflowAssetEvents:
    """Records through Airflow's asset manager, in one transaction per callback."""

    def record(self, asset_uri: str, extra: Mapping[str, Any]) -> Outcome:
        from airflow.assets.manager import asset_manager
        from airflow.models.asset import AssetActive, AssetEvent, AssetModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            assets = session.scalars(
                select(AssetModel)
                .join(
                    AssetActive, (AssetActive.name == AssetModel.name) & (AssetActive.uri == AssetModel.uri)
                )
                .where(AssetModel.uri == asset_uri)
            ).all()
            if not assets:
                log.warning(
                    "Kling callback: no active asset %s (no DAG declares it): nothing recorded", asset_uri
                )
                return Outcome.NO_ASSET
            since = datetime.now(UTC) - DUPLICATE_WINDOW
            recent = session.scalars(
                select(AssetEvent.extra).where(
                    AssetEvent.asset_id.in_([asset.id for asset in assets]), AssetEvent.timestamp >= since
                )
            )
            if any(is_same_callback(recorded, extra) for recorded in recent):
                return Outcome.DUPLICATE
            for asset in assets:
                asset_manager.register_asset_change(
                    asset=asset, extra=dict(extra), session=session, source_is_api=True
                )
        return Outcome.RECORDED
