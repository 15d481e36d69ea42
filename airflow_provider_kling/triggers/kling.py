"""KlingTaskTrigger: poll a Kling image task from the triggerer until it ends or its deadline passes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any
from zlib import crc32

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kling.defaults import DEFAULT_CONN_ID, GENERATIONS_PATH
from airflow_provider_kling.errors import (
    KlingError,
    KlingTaskFailedError,
    KlingTaskTimeoutError,
    task_failed_error,
)
from airflow_provider_kling.hooks.core import Clock
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    PollPlan,
    apoll_until_done,
)
from airflow_provider_kling.models.task import KlingTask
from airflow_provider_kling.triggers.watch import watch

_CLOCK = Clock()  # one for every trigger: it holds no state


class KlingTaskTrigger(BaseTrigger):
    """
    Poll one Kling image task from the triggerer; yield exactly one event.

    Every Kling trigger of a connection shares one HTTP client and, through
    :mod:`~airflow_provider_kling.triggers.watch`, one reader of Kling's task list. The poll step,
    error budget and deadline come from :class:`~airflow_provider_kling.lifecycle.poll.PollPlan`, as in
    the worker's loop (one error budget for every wait); retries and request timeouts end by the deadline.

    The event's ``status`` is ``success`` (with the task), ``failed`` (Kling's message),
    ``timeout`` (the absolute ``deadline`` passed) or ``error`` (polling itself failed).
    Only identifiers and times are serialized, never credentials, so a restarted triggerer
    resumes polling where it stopped.

    :param kling_task_id: The Kling task id (or external task id).
    :param kling_conn_id: The ``kling`` connection.
    :param poll_interval: Seconds between polls.
    :param deadline: Absolute deadline, Unix seconds.
    :param endpoint: The task's endpoint path (``models.requests``: image generation by default,
        omni-image, multi-image2image, expand, virtual try-on).
    :param api_style: The task's API style (an ``ApiStyle`` value; by default the style its kind
        declares ``endpoint`` in): how it is queried.
    """

    def __init__(
        self,
        kling_task_id: str,
        kling_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
        endpoint: str = GENERATIONS_PATH,
        api_style: str | None = None,
    ) -> None:
        super().__init__()
        # Not ``task_id``: BaseTrigger owns that name, and the triggerer sets it to the Airflow
        # task id when it attaches the task instance, which would make the trigger poll that instead.
        self.kling_task_id = kling_task_id
        self.kling_conn_id = kling_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else time.time() + DEFAULT_TIMEOUT
        self.endpoint = endpoint
        self.api_style = None if api_style is None else str(api_style)
        #: Where the trigger reads time and sleeps (not serialized; tests set a fake one).
        self.clock = _CLOCK

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kling_task_id": self.kling_task_id,
                "kling_conn_id": self.kling_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "endpoint": self.endpoint,
                "api_style": self.api_style,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = KlingHook(self.kling_conn_id, clock=self.clock)
        try:
            event = await self._poll(hook)
        finally:  # also on cancellation: the shared client loses a user, the task its watcher
            await hook.aclose()
        yield TriggerEvent(event)

    async def _poll(self, hook: KlingHook) -> dict[str, Any]:
        """Poll until the task ends or the deadline passes, on the hook's clock."""
        clock = hook.clock
        started = clock.monotonic()
        # The serialized deadline is wall-clock time; from here on, the hook's monotonic clock.
        deadline = started + (self.deadline - clock.time())
        plan = PollPlan(self.kling_task_id, self.poll_interval, deadline, started)
        async with watch(
            hook, self.kling_task_id, clock.monotonic, self.endpoint, self.poll_interval, self.api_style
        ) as lookup:
            # Many triggers start together (a triggerer's start, a large DAG run): watched at once (a
            # list round reads for all), their first polls spread over one interval by task id.
            await clock.asleep(
                max(0.0, min(self.poll_interval, deadline - started))
                * (crc32(self.kling_task_id.encode()) / 2**32)
            )
            try:
                # One logger for the class, not one per trigger: Airflow routes each line by its context.
                task = await apoll_until_done(
                    plan,
                    partial(lookup, plan.deadline),
                    clock.asleep,
                    self.logger(),
                    clock.monotonic,
                )
            except KlingTaskFailedError as exc:
                return self._event("failed", str(exc), external_task_id=exc.external_task_id)
            except KlingTaskTimeoutError as exc:
                return self._event("timeout", str(exc))
            except KlingError as exc:
                return self._event("error", str(exc), retryable=exc.airflow_retryable)
        # A /v1 task as /tasks gave it lacks its balance deduction: the worker adds it (one query).
        where = {"endpoint": self.endpoint, "api_style": self.api_style} if lookup.partial else None
        extra = {"complete_with": where} if where else {}
        message = f"Kling task {self.kling_task_id} succeeded"
        return self._event("success", message, task=task.model_dump(mode="json"), **extra)

    def _event(self, status: str, message: str, **extra: Any) -> dict[str, Any]:
        return {"status": status, "task_id": self.kling_task_id, "message": message, **extra}


def task_from_event(event: dict[str, Any], hook: KlingHook) -> KlingTask:
    """The succeeded :class:`KlingTask` of a ``success`` event, as whole as the worker's own wait
    reads it (``hook`` completes a task the trigger read through ``/tasks``: one query for a ``/v1``
    task); the matching error for any other event."""
    status, task_id, message = event.get("status"), event.get("task_id"), event.get("message", "")
    if status == "success":
        task = KlingTask.model_validate(event["task"])
        where = event.get("complete_with")
        return hook.complete_task(task, **where) if where else task
    if status == "failed":
        raise task_failed_error(
            task_id, None, external_task_id=event.get("external_task_id"), message=message
        )
    if status == "timeout":
        raise KlingTaskTimeoutError(message, task_id=task_id)
    error = KlingError(message or f"unexpected trigger event {status!r}", task_id=task_id)
    error.airflow_retryable = bool(event.get("retryable", True))
    raise error
