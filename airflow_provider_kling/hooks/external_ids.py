"""Whether a Kling host finds tasks by ``external_task_id``, and what a lost create answer means there.

A create whose outcome is unknown is resent only at a host that honours external ids: there
Kling refuses a duplicate, so a resend cannot pay twice. These steps (sans-I/O, run by either
sender through :class:`~airflow_provider_kling.hooks.core.KlingCore`) find that out from the
connection extra, the create's answer or one query, and raise when it cannot be known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from airflow_provider_kling.errors import KlingCreateOutcomeUnknownError, KlingError
from airflow_provider_kling.hooks.wire import Route
from airflow_provider_kling.models.hosts import known_support

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.core import KlingCore, Steps
    from airflow_provider_kling.models.task import KlingTask


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
