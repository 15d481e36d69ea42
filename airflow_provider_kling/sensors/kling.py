"""KlingTaskSensor: wait for a Kling image task that was created elsewhere."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_kling.defaults import DEFAULT_CONN_ID
from airflow_provider_kling.errors import (
    KlingError,
    KlingRequestValidationError,
    KlingTaskFailedError,
    KlingTaskTimeoutError,
    task_failed_error,
)
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.lifecycle.policy import Outcome, outcome_of
from airflow_provider_kling.lifecycle.poll import DEFAULT_POLL_INTERVAL, defer_timeout, status_words
from airflow_provider_kling.operators.base import DEFAULT_DEFERRABLE, fail_fast
from airflow_provider_kling.operators.lazy import kling_hook, task_triggers, wire

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.hooks.wire import Route


class KlingTaskSensor(BaseSensorOperator):
    """
    Wait until a Kling image task ends: succeed returns its result dict (XCom), failed fails.

    :param kling_task_id: The Kling task id, or your ``external_task_id``. (templated)
    :param kling_conn_id: The ``kling`` connection. (templated)
    :param deferrable: Wait in the triggerer instead of poking from a worker.
    :param poke_interval: Seconds between polls (also used by the trigger).
    :param endpoint: Which Kling endpoint made the task: a kind (a
        :class:`~airflow_provider_kling.kinds.RequestKind`, image generation by default) or its path.
    """

    template_fields: Sequence[str] = ("kling_task_id", "kling_conn_id")
    ui_color = "#d6e4ff"

    def __init__(
        self,
        *,
        kling_task_id: str,
        kling_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poke_interval: float = DEFAULT_POLL_INTERVAL,
        endpoint: str = RequestKind.GENERATIONS.value,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.kling_task_id = kling_task_id
        self.kling_conn_id = kling_conn_id
        self.deferrable = deferrable
        self.endpoint = endpoint

    @cached_property
    def route(self) -> Route:
        """Where the endpoint's tasks live, resolved when the sensor runs."""
        try:
            return wire().Route.of_endpoint(self.endpoint)
        except ValueError as exc:
            raise fail_fast(KlingRequestValidationError(f"endpoint: {exc}")) from None

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=task_triggers().KlingTaskTrigger(
                kling_task_id=self.kling_task_id,
                kling_conn_id=self.kling_conn_id,
                poll_interval=float(self.poke_interval),
                deadline=time.time() + timeout,
                endpoint=self.route.endpoint,
                api_style=self.route.api_style,
            ),
            method_name="execute_complete",
            timeout=defer_timeout(timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        try:
            task = self.hook.get_task(
                self.kling_task_id, endpoint=self.route.endpoint, api_style=self.route.api_style
            )
        except KlingError as exc:
            raise fail_fast(exc) from exc
        self.log.info("Kling task %s %s", task.task_id, status_words(task))
        outcome = outcome_of(task.task_status, task.task_status_msg)
        if outcome in (Outcome.FAILED, Outcome.REFUSED):
            from airflow.providers.common.compat.sdk import AirflowFailException

            raise AirflowFailException(task_failed_error(task.task_id, task.task_status_msg).message)
        return PokeReturnValue(is_done=outcome is Outcome.SUCCEEDED, xcom_value=task.to_xcom())

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        try:
            # as whole as a poke's: the hook completes a /tasks read
            task = task_triggers().task_from_event(event, self.hook)
        except KlingTaskFailedError as exc:
            from airflow.providers.common.compat.sdk import AirflowFailException

            raise AirflowFailException(str(exc)) from exc
        except KlingTaskTimeoutError as exc:
            # A sensor's timeout, as in poke mode: soft_fail turns it into a skip.
            from airflow.providers.common.compat.sdk import AirflowSensorTimeout

            raise AirflowSensorTimeout(str(exc)) from exc
        except KlingError as exc:
            raise fail_fast(exc) from exc
        made = len(task.images) + len(task.videos) + len(task.audios)
        self.log.info("Kling task %s succeeded with %d result file(s)", task.task_id, made)
        return task.to_xcom()
