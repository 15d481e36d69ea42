"""Many tasks in one call, and the new-style API's queries, as steps of the hook's sans-I/O core.

- :func:`get_tasks_steps`: the tasks of many ids, ``GET /tasks?task_ids=`` 20 ids at a time where
  the host has it (:class:`~airflow_provider_kling.hooks.external_ids.TasksQuerySupport`), else one
  query per task at its endpoint; ids Kling does not know are left out.
- :func:`new_style_task_steps`: one task of a new-style path (``/text-to-video`` ...), which has no
  query route of its own: ``GET /tasks?task_ids=`` (or ``?external_task_ids=``) for that one id.
- :func:`check_create`: what a create must pass before it is sent: an API key on new-style paths,
  and a model the connection's host still serves (a warning when Kling is retiring it).

Each is a generator of the core's steps, so the requests and httpx senders run the same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.defaults import GENERATIONS_PATH
from airflow_provider_kling.errors import KlingError, KlingNotFoundError

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.core import KlingCore, Steps
    from airflow_provider_kling.hooks.external_ids import TasksQuerySupport
    from airflow_provider_kling.models import ImageTask


def tasks_support(core: KlingCore) -> TasksQuerySupport:
    """The core's knowledge of its host's ``GET /tasks`` (from the connection, then from answers)."""
    support: TasksQuerySupport | None = getattr(core, "_tasks_support", None)
    if support is None:
        from airflow_provider_kling.hooks.external_ids import TasksQuerySupport

        settings = core.loaded
        support = TasksQuerySupport(
            settings.tasks_query_support, settings.base_url, uses_jwt=settings.access_key is not None
        )
        core._tasks_support = support  # type: ignore[attr-defined]
    return support


def tasks_query_steps(
    core: KlingCore,
    ids: list[str],
    *,
    external: bool = False,
    deadline: float | None = None,
    max_wait: float | None = None,
) -> Steps[list[dict[str, Any]]]:
    """One ``GET /tasks`` for up to 20 ids: the records Kling knows, unparsed."""
    from airflow_provider_kling.errors import KlingResponseError
    from airflow_provider_kling.models.task_query import TASKS_PATH, tasks_by_ids_params

    params = tasks_by_ids_params(ids, external=external)
    data = yield from core.call("GET", TASKS_PATH, params=params, deadline=deadline, max_wait=max_wait)
    if data is not None and not isinstance(data, list):
        raise KlingResponseError("Kling answered a many-task query without a list of tasks")
    return [item for item in (data or ()) if isinstance(item, dict)]


def get_tasks_steps(
    core: KlingCore,
    task_ids: Iterable[str],
    *,
    endpoint: str = GENERATIONS_PATH,
    deadline: float | None = None,
    max_wait: float | None = None,
) -> Steps[list[ImageTask]]:
    """
    The tasks of ``task_ids`` that Kling knows, in the order asked: ``GET /tasks`` in chunks of 20
    where the host has it, else one query per task at ``endpoint`` (a host found to lack
    ``/tasks`` is not asked again).
    """
    from airflow_provider_kling.models import task_from_data
    from airflow_provider_kling.models.task_query import chunks

    support = tasks_support(core)
    ids = list(dict.fromkeys(task_ids))
    found: dict[str, ImageTask] = {}
    if support.usable:
        try:
            for chunk in chunks(ids):
                records = yield from tasks_query_steps(core, chunk, deadline=deadline, max_wait=max_wait)
                for record in records:
                    task = task_from_data(record, "a task of a many-task query")
                    found[task.task_id] = task
            support.saw_answer()
            return [found[task_id] for task_id in ids if task_id in found]
        except KlingError as exc:
            if not support.saw_error(exc):
                raise
            core.log.warning(
                "Kling at %s does not answer GET /tasks (%s); querying each task instead",
                core.loaded.base_url,
                exc,
            )
    for task_id in ids:
        if task_id in found:
            continue
        try:
            found[task_id] = yield from core.get_task_steps(
                task_id, endpoint=endpoint, deadline=deadline, max_wait=max_wait
            )
        except KlingNotFoundError:
            continue
    return [found[task_id] for task_id in ids if task_id in found]


def new_style_task_steps(
    core: KlingCore,
    task_id: str,
    *,
    deadline: float | None = None,
    max_wait: float | None = None,
) -> Steps[ImageTask]:
    """One task of a new-style path by Kling task id, else by external task id (through ``/tasks``)."""
    from airflow_provider_kling.models import task_from_data

    for external in (False, True):
        records = yield from tasks_query_steps(
            core, [task_id], external=external, deadline=deadline, max_wait=max_wait
        )
        if records:
            return task_from_data(records[0], f"task {task_id}", task_id)
    raise KlingNotFoundError(f"Kling knows no task {task_id}", task_id=task_id)


def check_create(core: KlingCore, path: str, model_name: str | None) -> None:
    """Before a create is sent: an API key on new-style paths; a model the host still serves."""
    from airflow_provider_kling.hooks.auth import check_auth_for_path
    from airflow_provider_kling.models.capabilities import check_model_served

    settings = core.loaded
    check_auth_for_path(path, uses_jwt=settings.access_key is not None, conn_id=core.kling_conn_id)
    if model_name:
        warning = check_model_served(
            model_name, settings.base_url, refuse_retired=settings.retired_models == "refuse"
        )
        if warning:
            core.log.warning("%s", warning)
