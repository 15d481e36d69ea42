"""Create a task, paying at most once: external task ids, and what a lost create answer means.

Every create carries an ``external_task_id``. A create whose outcome is unknown is resent only at
a host that honours external ids: there Kling refuses a duplicate, so a resend cannot pay twice.
These steps (sans-I/O, run by either sender) find that out from the connection extra, the
create's answer or one query, and raise when it cannot be known.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import (
    KlingCreateOutcomeUnknownError,
    KlingError,
    KlingInvalidRequestError,
    KlingRateLimitError,
    create_never_reached_kling,
    create_outcome_unknown,
)
from airflow_provider_kling.hooks.wire import Route
from airflow_provider_kling.idempotency import new_external_task_id, with_external_task_id
from airflow_provider_kling.models.capabilities import check_model_served
from airflow_provider_kling.models.hosts import known_support
from airflow_provider_kling.models.requests import ImageGenerationRequest

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.core import KlingCore, Steps
    from airflow_provider_kling.models.requests import KlingTaskRequest
    from airflow_provider_kling.models.task import KlingTask

#: A create whose answer was lost and that Kling provably never received is sent again after
#: ``min(RESEND_WAIT_MAX, 2 ** resends)`` seconds, at most ``max_retries`` times.
RESEND_WAIT_MAX = 30.0


def ids_honoured(core: KlingCore) -> bool | None:
    """True / False when known (connection extra, Kling's own hosts, or found out by this hook);
    None when not yet."""
    if core._external_ids_honoured is None:
        # Kling documents external_task_id (unique per account, queryable).
        core._external_ids_honoured = known_support(
            core.loaded.external_task_id_support, core.loaded.base_url
        )
    return core._external_ids_honoured


def _host_ignores_ids(core: KlingCore, evidence: str) -> None:
    if core._external_ids_honoured is not False:
        core.log.warning(
            "Kling at %s ignores external_task_id (%s): a create whose answer is lost will not be "
            "sent again, as it could pay twice. Set the extra external_task_id_support to 'no' on "
            "connection '%s' to skip this check, or 'yes' if the host does honour it",
            core.loaded.base_url,
            evidence,
            core.kling_conn_id,
        )
    core._external_ids_honoured = False


def learn_support(core: KlingCore, task: KlingTask, external_id: str, route: Route) -> Steps[None]:
    """After a create whose answer arrived: a host that cannot find the task by its id ignores ids."""
    if ids_honoured(core) is not None:
        return
    if task.external_task_id == external_id:
        core._external_ids_honoured = True
        return
    try:
        found = yield from route.find(core, external_id)
    except KlingError as exc:  # finding out must not fail a create that worked
        core.log.info("Could not check whether Kling honours external_task_id: %s", exc)
        return
    if found is not None and found.task_id == task.task_id:
        core._external_ids_honoured = True
    else:
        _host_ignores_ids(core, f"task {task.task_id} is not found by external_task_id {external_id}")


def _probe_support(core: KlingCore, route: Route) -> Steps[bool | None]:
    """Whether the host finds a task of this account by its external id (None: no task to try)."""
    for listed in (yield from route.list(core, 1, 30)):
        if listed.external_task_id:
            found = yield from route.find(core, listed.external_task_id)
            if found is not None:
                core._external_ids_honoured = True
                return True
            _host_ignores_ids(core, f"listed task {listed.task_id} is not found by its external_task_id")
            return False
    return None


def find_after_unknown_outcome(
    core: KlingCore, external_id: str, exc: KlingError, route: Route
) -> Steps[KlingTask | None]:
    """
    The task a create of unknown outcome made, if Kling has it; ``None`` when it provably
    never arrived (the host honours external ids and has none); else raise, never resend.
    """
    honoured = ids_honoured(core)
    if honoured is not False:
        existing = yield from route.find(core, external_id)
        if existing is not None:
            core.log.warning(
                "The answer to a create was lost (%s), but Kling had received it: resuming task %s "
                "found by external_task_id %s",
                exc,
                existing.task_id,
                external_id,
            )
            core._external_ids_honoured = True
            return existing
        if honoured is None:
            honoured = yield from _probe_support(core, route)
        if honoured:
            return None
    raise _outcome_unknown_error(core, external_id, exc, known_to_ignore=honoured is False)


def _outcome_unknown_error(
    core: KlingCore, external_id: str, exc: KlingError, *, known_to_ignore: bool
) -> KlingCreateOutcomeUnknownError:
    sent_at = datetime.fromtimestamp(core.clock.time(), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    why = (
        "this host ignores external_task_id"
        if known_to_ignore
        else "Kling found no task by that id and this host could not be shown to honour external_task_id"
    )
    return KlingCreateOutcomeUnknownError(
        f"A create with external_task_id {external_id} may have reached Kling and been charged, "
        f"but its answer was lost ({exc}); {why}, so it is not sent again (that could pay twice). "
        f"Look for a task created around {sent_at} in Kling's task list (KlingHook.list_tasks) "
        "and wait for it with KlingTaskSensor(kling_task_id=...), or clear this Airflow task to "
        "create a new one on purpose. If the host does find tasks by external_task_id, set the extra "
        f"external_task_id_support to 'yes' on connection '{core.kling_conn_id}'",
        external_task_id=external_id,
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
    """A task from ``request`` (or its image-generation ``fields``): see :meth:`KlingHook.create_task`."""
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
            if getattr(request, "answers_at_once", False):  # no query path: it cannot be found again
                raise _outcome_unknown_error(core, external_id, exc, known_to_ignore=True) from exc
            found = yield from find_after_unknown_outcome(core, external_id, exc, route)
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
        if not getattr(request, "answers_at_once", False):
            yield from learn_support(core, task, external_id, route)
        return task
