"""Operators for the account's resources: make a custom voice or element (its id in XCom, a string
kept exact), and reconcile a run's recorded spend with Kling's billing export."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_kling.defaults import DEFAULT_CONN_ID
from airflow_provider_kling.errors import KlingError, KlingRequestValidationError
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.operators.base import KlingWaitingOperator, fail_fast
from airflow_provider_kling.operators.lazy import kling_hook, resource_models, running, task_triggers
from airflow_provider_kling.storage import read_manifest

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models.task import KlingTask

#: XCom key of the whole resource record (the return value is its id).
XCOM_RESOURCE = "kling_resource"
_COMMON = ("callback_url", "external_task_id")


class _KlingResourceOperator(KlingWaitingOperator):
    """Create one resource (a task, paid once: its ``external_task_id`` is stable across tries),
    wait for it (on the worker, or deferred to the triggerer) and return its id (a string: a 64-bit
    id kept exact). Other arguments: ``kling_conn_id``, ``deferrable``, ``poll_interval``, ``timeout``."""

    resource: ClassVar[str]
    #: The request's fields (Kling's names), taken as keyword arguments.
    field_names: ClassVar[tuple[str, ...]]
    template_fields: Sequence[str] = ("fields", "kling_conn_id")

    def __init__(self, **kwargs: Any) -> None:
        fields = {name: kwargs.pop(name) for name in list(kwargs) if name in (*self.field_names, *_COMMON)}
        super().__init__(**kwargs)
        self.fields = fields

    def _request(self, context: Context) -> Any:
        resources = resource_models()
        cls: Any = {"voice": resources.CustomVoiceRequest, "element": resources.CustomElementRequest}[
            self.resource
        ]
        request = self._with_default_external_id(context, cls.build(**self.fields))
        for name, why in request.unconfirmed_fields().items():
            self.log.warning("Sending %s, which Kling's pages do not confirm: %s", name, why)
        return request

    def execute(self, context: Context) -> str:
        try:
            request = self._request(context)
            task = self.hook.create_resource(request)
            if self.deferrable:
                self._defer(task.task_id, request.endpoint)
            done = wait_for_task(
                self.hook,
                task.task_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                endpoint=request.endpoint,
            )
        except KlingError as exc:
            raise fail_fast(exc) from None
        return self._finish(done, context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        """Resume after the trigger: the resource's id, or the error the trigger saw."""
        try:
            done = task_triggers().task_from_event(event, self.hook)
        except KlingError as exc:
            raise fail_fast(exc) from None
        return self._finish(done, context)

    def _finish(self, done: KlingTask, context: Context) -> str:
        made = resource_models().resources_of(done, self.resource)
        if not made:
            raise fail_fast(KlingError(f"Kling task {done.task_id} succeeded but lists no {self.resource}"))
        record = {
            **made[0].to_xcom(),
            "kling_task_id": done.task_id,
            "final_unit_deduction": done.final_unit_deduction,
        }
        context["ti"].xcom_push(key=XCOM_RESOURCE, value=record)
        self.log.info("Made Kling %s %s (task %s)", self.resource, made[0].id, done.task_id)
        return made[0].id


class KlingCustomVoiceOperator(_KlingResourceOperator):
    """
    Clone a custom voice; returns its ``voice_id`` (for ``voice_ids`` of the video kinds and
    ``element_voice_id``). Fields as Kling's (templated, in ``fields``): ``voice_name`` (at most 20
    characters) and ``voice_url`` (5-30 s of one clean voice) or ``video_id``.
    """

    resource = "voice"
    field_names = ("voice_name", "voice_url", "video_id")


class KlingCustomElementOperator(_KlingResourceOperator):
    """
    Make a custom element; returns its ``element_id`` as a string (for ``element_list`` /
    ``element_ids``). Fields as Kling's: ``element_name``, ``element_description``, ``reference_type``
    (``image_refer`` with ``element_image_list``, or ``video_refer`` with ``element_video_list``),
    ``element_voice_id``, ``tag_list``.
    """

    resource = "element"
    field_names = (
        "element_name",
        "element_description",
        "reference_type",
        "element_image_list",
        "element_video_list",
        "element_voice_id",
        "tag_list",
    )


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping) or isinstance(value, str):
        return [value]
    return [item for part in value for item in _flatten(part)]


class KlingSpendReconcileOperator(BaseOperator):
    """
    Compare what Kling's billing export charged each of a run's tasks with what the run recorded,
    and return the report (:func:`~airflow_provider_kling.spend_reconcile.reconcile_spend`): per
    task the recorded and charged units and their exact difference, per asset event its total.

    :param results: Operator results (XCom), lists of them (mapped tasks), or batch summaries (their
        manifests are read). (templated)
    :param manifests: Batch manifests: their URIs or their JSON. (templated)
    :param asset_events: Asset events' ``extra`` dicts (``kling_task_ids``, ``units``). (templated)
    :param start_time: Start of the export window (aware datetime or Unix ms); default an hour
        before the first of ``results`` was created, else a day before ``end_time``.
    :param end_time: End of the window; default now.
    :param fail_on_difference: Fail the task when a billed task's charge differs from its record.
    :param kling_conn_id: The ``kling`` connection. (templated)
    """

    template_fields: Sequence[str] = ("results", "manifests", "asset_events", "kling_conn_id")

    def __init__(
        self,
        *,
        results: Any = None,
        manifests: Any = None,
        asset_events: Any = None,
        start_time: Any = None,
        end_time: Any = None,
        fail_on_difference: bool = False,
        kling_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.results, self.manifests, self.asset_events = results, manifests, asset_events
        self.start_time, self.end_time = start_time, end_time
        self.fail_on_difference, self.kling_conn_id = fail_on_difference, kling_conn_id

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        spend_reconcile = running().spend_reconcile
        recorded = spend_reconcile.RecordedSpend()
        results = _flatten(self.results)
        recorded.add_results(result for result in results if "manifest" not in result)
        for manifest in [*(r for r in results if "manifest" in r), *_flatten(self.manifests)]:
            recorded.add_manifest(read_manifest(manifest))
        recorded.add_asset_events(_flatten(self.asset_events))
        created = [datetime.fromisoformat(r["created_at"]) for r in results if r.get("created_at")]
        start = self.start_time
        if start is None and created:  # from an hour before the first task the results name
            start = min(created) - timedelta(hours=1)
        window = {"start_time": start, "end_time": self.end_time}
        try:
            package = self.hook.get_billing("package", **window)
        except KlingRequestValidationError as exc:
            raise fail_fast(exc) from None
        try:
            balance = self.hook.get_billing("balance", **window)
        except KlingError as exc:
            self.log.warning("Could not read the balance export (cash): %s", exc)
            balance = []
        report = spend_reconcile.reconcile_spend(recorded, package, balance)
        self.log.info("Kling spend reconciled: %s", spend_reconcile.describe_report(report))
        for row in report["tasks"]:
            if row["status"] == spend_reconcile.DIFFERS:
                self.log.warning(
                    "Kling task %s: charged %s units, recorded %s",
                    row["task_id"],
                    row["charged_units"],
                    row["recorded_units"],
                )
        if self.fail_on_difference and report["counts"][spend_reconcile.DIFFERS]:
            from airflow.providers.common.compat.sdk import AirflowFailException

            raise AirflowFailException(
                f"Kling charged differently: {spend_reconcile.describe_report(report)}"
            )
        return report
