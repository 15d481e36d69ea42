"""The hook's task calls that build on the wire formats: create (pays at most once) and wait.

Steps of the hook's sans-I/O core (:mod:`.core`), so the requests and httpx senders run the same
code. :class:`~airflow_provider_kling.hooks.kling.KlingHook` imports this module on first use:
it loads the request and task models, which a DAG file importing the hook does not need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import (
    KlingError,
    KlingInvalidRequestError,
    KlingRateLimitError,
    create_never_reached_kling,
    create_outcome_unknown,
)
from airflow_provider_kling.hooks import external_ids
from airflow_provider_kling.hooks.task_queries import complete_steps, get_tasks_steps
from airflow_provider_kling.hooks.wire import Route, tasks_query_steps
from airflow_provider_kling.idempotency import new_external_task_id, with_external_task_id
from airflow_provider_kling.lifecycle.poll import PollPlan, poll_until_done
from airflow_provider_kling.models.capabilities import check_model_served
from airflow_provider_kling.models.requests import ImageGenerationRequest

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.core import KlingCore, Steps
    from airflow_provider_kling.models.requests import KlingTaskRequest
    from airflow_provider_kling.models.task import KlingTask

#: What the hook calls through this module (with :class:`Route`'s queries and lists).
__all__ = ["Route", "complete_steps", "create_steps", "get_tasks_steps", "tasks_query_steps", "wait_steps"]

#: A create whose answer was lost and that Kling provably never received is sent again after
#: ``min(RESEND_WAIT_MAX, 2 ** resends)`` seconds, at most ``max_retries`` times.
RESEND_WAIT_MAX = 30.0


def wait_steps(
    core: KlingCore, task_id: str, route: Route, *, poll_interval: float, timeout: float
) -> Steps[KlingTask]:
    """Poll until the task succeeds, fails or the deadline passes: the lifecycle's one wait
    (:func:`~airflow_provider_kling.lifecycle.poll.wait_steps`); a failed poll's retries never wait
    longer than the poll interval."""
    start = core.clock.monotonic()
    plan = PollPlan(task_id, poll_interval, deadline=start + timeout, started=start)
    return (
        yield from poll_until_done(
            plan,
            lambda: route.query(core, task_id, deadline=plan.deadline, max_wait=poll_interval),
            core.log,
            core.clock.monotonic,
        )
    )


def check_create(core: KlingCore, request: Any) -> None:
    """Before a create is sent: credentials its style takes; a model the host still serves."""
    Route.of(request).wire.check_credentials(core)
    model_name = getattr(request, "model_name", None)
    if model_name:
        settings = core.loaded
        warning = check_model_served(
            model_name, settings.base_url, refuse_retired=settings.retired_models == "refuse"
        )
        if warning:
            core.log.warning("%s", warning)


def create_steps(
    core: KlingCore,
    request: ImageGenerationRequest | KlingTaskRequest | None,
    fields: Mapping[str, Any],
    *,
    retry_rate_limit: bool = True,
) -> Steps[KlingTask]:
    """:meth:`KlingHook.create_task <airflow_provider_kling.hooks.kling.KlingHook.create_task>`."""
    if request is not None and fields:
        raise TypeError("pass either a request or its fields to create_task, not both")
    request = request or ImageGenerationRequest.build(**fields)
    if not request.external_task_id:
        request = with_external_task_id(request, new_external_task_id())
    external_id = request.external_task_id
    assert external_id is not None
    route = Route.of(request)
    check_create(core, request)
    create_path, body = route.wire.create_path(request), request.to_json()
    resends = 0

    def resend_if(exc: KlingError) -> bool:
        if not retry_rate_limit and isinstance(exc, KlingRateLimitError):
            return False
        return create_never_reached_kling(exc)

    while True:
        try:
            data = yield from core.call("POST", create_path, body=body, resend_if=resend_if)
            task = route.wire.decode(data, "the new task")
        except KlingInvalidRequestError:
            # Kling refuses a second create with a known external id: the first one landed.
            existing = yield from route.find(core, external_id)
            if existing is None:
                raise
            core.log.info(
                "Kling task %s already exists for external_task_id %s", existing.task_id, external_id
            )
            return existing
        except KlingError as exc:
            if not create_outcome_unknown(exc):
                raise
            found = yield from external_ids.find_after_unknown_outcome(core, external_id, exc, route)
            if found is not None:
                return found
            if resends >= core.loaded.max_retries:
                raise
            resends += 1
            core.log.warning(
                "Kling has no task with external_task_id %s after a failed create (%s): it never "
                "arrived; sending it again (%d of %d)",
                external_id,
                exc,
                resends,
                core.loaded.max_retries,
            )
            yield min(RESEND_WAIT_MAX, 2.0**resends)
            continue
        core.log.info(
            "Created Kling task %s (%s, status %s)", task.task_id, type(request).kind, task.task_status
        )
        yield from external_ids.learn_support(core, task, external_id, route)
        return task
