"""Operators on the callback asset: store what the callbacks announced, and sweep for lost callbacks.

- :class:`KlingCallbackResultsOperator` runs in a DAG scheduled on the callback asset
  (``kling://<conn_id>/tasks`` by default): it stores the images of the events that triggered
  the run (the operators' verified storage and naming) and writes a manifest.
- :class:`KlingCallbackSweepOperator` runs on a schedule: it lists the account's recent tasks,
  finds ours that ended without a recorded callback (Kling's retries are undocumented, a receiver
  may be down) and records their events on the same asset, so the results DAG stores them like
  any other; tasks still running past a deadline are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias, BaseOperator

from airflow_provider_kling.callbacks.events import callback_asset_uri, event_extra
from airflow_provider_kling.callbacks.results import events_of_pipeline, store_callback_results
from airflow_provider_kling.callbacks.sweep import DEFAULT_DEADLINE, DEFAULT_GRACE, find_missing, was_consumed
from airflow_provider_kling.defaults import DEFAULT_CONN_ID, GENERATIONS_PATH, MAX_PAGE_SIZE
from airflow_provider_kling.errors import KlingError, KlingRequestValidationError
from airflow_provider_kling.lifecycle.results import OutputNames, run_id_of
from airflow_provider_kling.operators.base import fail_fast
from airflow_provider_kling.operators.lazy import kling_hook, wire
from airflow_provider_kling.storage import to_storage_path

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models.task import KlingTask

#: The sweep reads at most this many pages of 500 tasks per endpoint (Kling's list stops at page 1000).
DEFAULT_MAX_PAGES = 20
LIST_PAGE_SIZE = MAX_PAGE_SIZE


class KlingCallbackResultsOperator(BaseOperator):
    """Store the results (images and videos) of the callback events that triggered this run, and
    write a manifest.

    Also catches up on the asset's events recorded after the newest triggering one that no run of
    this DAG consumed (Airflow 3.1 lists the asset's whole history for that; later lines filter by
    time on the server): Airflow 3.1 to 3.3 give
    an event that lands while the scheduler creates a run to no run at all until another event
    arrives (apache/airflow#56050; fixed upstream by referencing events from the run queue). An
    event caught up here may also be the one that queued the next run: that run finds its task
    stored (each Kling task is stored by one run, see :mod:`~airflow_provider_kling.callbacks.results`).

    :param output_path: Where images and the manifest go (a path or URI). (templated)
    :param output_conn_id: The storage connection, for an object store. (templated)
    :param namespace: Keep only tasks whose external id carries this namespace (one pipeline);
        None keeps every task. (templated)
    :param kling_conn_id: The Kling connection whose download rules apply (size cap, hosts). (templated)
    :param asset_uri: The callback asset the DAG is scheduled on (default ``kling://<conn_id>/tasks``).

    Each Kling task is stored by one run (see :mod:`~airflow_provider_kling.callbacks.results`);
    ``max_active_tis_per_dag`` defaults to 1 so that two runs never store at the same time.
    """

    template_fields: Sequence[str] = ("output_path", "output_conn_id", "namespace", "kling_conn_id")

    def __init__(
        self,
        *,
        output_path: str,
        output_conn_id: str | None = None,
        namespace: str | None = None,
        kling_conn_id: str = DEFAULT_CONN_ID,
        asset_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.asset_uri = asset_uri or callback_asset_uri(kling_conn_id)
        kwargs.setdefault("inlets", [Asset(self.asset_uri)])
        # One at a time across the DAG's runs: a run finds what the one before it stored.
        kwargs.setdefault("max_active_tis_per_dag", 1)
        super().__init__(**kwargs)
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.namespace = namespace
        self.kling_conn_id = kling_conn_id

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        triggering = context.get("triggering_asset_events") or {}
        events = [event for asset_events in triggering.values() for event in asset_events]
        extras = [event.extra for event in events] + self._stranded_extras(context, events)
        chosen, others = events_of_pipeline(extras, self.namespace or None)
        if others:
            self.log.info(
                "Skipping %d events of other pipelines (namespace is not %r)", others, self.namespace
            )
        try:
            base = to_storage_path(self.output_path, self.output_conn_id or None)
        except ValueError as exc:
            raise fail_fast(KlingRequestValidationError(str(exc))) from None
        try:
            summary = store_callback_results(
                chosen,
                base,
                hook=self.hook,
                names=OutputNames(self.dag_id, run_id_of(context), self.task_id),
                log=self.log,
            )
        except KlingError as exc:
            raise fail_fast(exc) from exc
        summary["other_pipelines"] = others
        return summary

    def _stranded_extras(self, context: Context, triggering: list[Any]) -> list[dict[str, Any]]:
        """Events on the asset after the newest triggering one that no other run of this DAG consumed."""
        inlet_events = context.get("inlet_events")
        if not triggering or inlet_events is None:
            return []
        try:
            events: Any = inlet_events[Asset(self.asset_uri)]
        except KeyError:  # the task was given inlets without the callback asset
            return []
        newest = max(event.timestamp for event in triggering)
        if hasattr(events, "after"):
            events = events.after(newest.isoformat())
        # else Airflow 3.1: a list of every event the asset ever had, filtered here
        stranded = []
        for event in events:
            consumers = [run for run in event.created_dagruns if run.dag_id == self.dag_id]
            if event.timestamp > newest and not any(run.run_id != run_id_of(context) for run in consumers):
                stranded.append(event.extra)
        if stranded:
            self.log.info("Catching up on %d events no run of this DAG consumed", len(stranded))
        return stranded


class KlingCallbackSweepOperator(BaseOperator):
    """Record the events of our Kling tasks whose terminal callback never arrived, or was lost.

    Lists the account's tasks of each endpoint created within ``lookback`` (newest first, pages of
    500), keeps ours (external ids this provider made, of ``namespace`` when given), and compares
    with the callback asset's recent events. A task that ended more than ``grace`` ago without an
    event, or whose every event was consumed only by DAG runs that failed, gets one, recorded
    through an asset alias on the same asset (``extra`` as the receiver writes it, ``webhook_id``
    ``sweep_<task id>``); one still running ``deadline`` after its creation is reported, and fails
    the sweep when ``fail_on_open``.

    :param kling_conn_id: The Kling connection. (templated)
    :param asset_uri: The callback asset (default ``kling://<conn_id>/tasks``); fixed when the DAG
        is parsed, as every outlet.
    :param namespace: Only tasks of this external id namespace. (templated)
    """

    template_fields: Sequence[str] = ("kling_conn_id", "namespace")

    def __init__(
        self,
        *,
        kling_conn_id: str = DEFAULT_CONN_ID,
        asset_uri: str | None = None,
        namespace: str | None = None,
        lookback: timedelta = timedelta(days=1),
        grace: timedelta = DEFAULT_GRACE,
        deadline: timedelta = DEFAULT_DEADLINE,
        fail_on_open: bool = False,
        endpoints: Sequence[str] = (GENERATIONS_PATH,),
        max_pages: int = DEFAULT_MAX_PAGES,
        **kwargs: Any,
    ) -> None:
        self.asset_uri = asset_uri or callback_asset_uri(kling_conn_id)
        self.sweep_alias = AssetAlias(name=f"kling_callback_sweep:{self.asset_uri}")
        kwargs.setdefault("inlets", [Asset(self.asset_uri)])
        kwargs.setdefault("outlets", [self.sweep_alias])
        super().__init__(**kwargs)
        self.kling_conn_id = kling_conn_id
        self.namespace = namespace
        self.lookback, self.grace, self.deadline = lookback, grace, deadline
        self.fail_on_open = fail_on_open
        self.endpoints = tuple(endpoints)
        self.max_pages = max_pages

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        now = datetime.now(UTC)
        since = now - self.lookback
        recorded = self._recorded_task_ids(context, since)
        tasks = [task for endpoint in self.endpoints for task in self._recent_tasks(endpoint, since)]
        findings = find_missing(
            tasks,
            recorded,
            namespace=self.namespace or None,
            now=now,
            grace=self.grace,
            deadline=self.deadline,
        )
        asset = Asset(self.asset_uri)
        for record in findings.recovered:
            extra = event_extra(record, conn_id=self.kling_conn_id, webhook_id=f"sweep_{record.task_id}")
            context["outlet_events"][self.sweep_alias].add(asset, extra=extra)
        for record in findings.recovered:
            self.log.warning(
                "Kling task %s ended %s with no callback recorded: recording it on %s",
                record.task_id,
                record.status.value,
                self.asset_uri,
            )
        for record in findings.still_open:
            self.log.warning(
                "Kling task %s (%s) is still %s after %s", record.task_id, record.external_task_id,
                record.status.value, self.deadline,
            )  # fmt: skip
        summary = {
            "ours": findings.ours,
            "recorded_before": len(recorded),
            "recovered": [record.task_id for record in findings.recovered],
            "still_open": [record.task_id for record in findings.still_open],
        }
        if findings.still_open and self.fail_on_open:
            raise KlingError(f"{len(findings.still_open)} Kling tasks are still open after {self.deadline}")
        return summary

    def _recorded_task_ids(self, context: Context, since: datetime) -> set[str]:
        events: Any = context["inlet_events"][Asset(self.asset_uri)]
        if hasattr(events, "after"):  # a lazy accessor filters on the server; 3.1 lists every event
            events = events.after(since.isoformat())
        return {
            str(event.extra["kling_task_id"])
            for event in events
            if isinstance(event.extra, dict)
            and "kling_task_id" in event.extra
            and was_consumed(getattr(event, "created_dagruns", None) or ())
        }

    def _recent_tasks(self, endpoint: str, since: datetime) -> list[KlingTask]:
        route, found = wire().Route.of_endpoint(endpoint), []
        for page in range(1, self.max_pages + 1):
            tasks = self.hook.list_tasks(
                page, LIST_PAGE_SIZE, endpoint=route.endpoint, api_style=route.api_style
            )
            found += [task for task in tasks if task.created_at is None or task.created_at >= since]
            if len(tasks) < LIST_PAGE_SIZE or any(
                task.created_at is not None and task.created_at < since for task in tasks
            ):
                break
        return found
