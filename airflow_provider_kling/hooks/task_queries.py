"""Many tasks in one call (``GET /tasks``, 20 ids at a time), as steps of the hook's sans-I/O core;
:class:`TasksQuerySupport` says whether the host has it, from the connection and then its answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Unpack

from airflow_provider_kling.errors import KlingAuthError, KlingError, KlingNotFoundError, KlingResponseError
from airflow_provider_kling.hooks.wire import MODEL_PATH, Route, tasks_query_steps
from airflow_provider_kling.models.hosts import known_support
from airflow_provider_kling.models.task_query import chunks

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings
    from airflow_provider_kling.hooks.core import KlingCore, Limits, Steps
    from airflow_provider_kling.models.task import KlingTask


class TasksQuerySupport:
    """
    Whether a host answers ``GET /tasks`` (many tasks in one query), found out the way external-id
    support is: the connection extra ``tasks_query`` (``auto``, ``yes``, ``no``), Kling's own hosts
    (documented: yes), else the first answer. Sans-I/O: the hook reports what it saw.

    ``/tasks`` belongs to the model-path style, which takes an API key only: with ``auto``, a JWT
    connection does not use it.
    """

    def __init__(self, setting: str, base_url: str, *, uses_jwt: bool = False) -> None:
        self.setting = setting
        self.supported = False if uses_jwt and setting == "auto" else known_support(setting, base_url)

    @classmethod
    def of(cls, settings: KlingConnectionSettings) -> TasksQuerySupport:
        """What a connection's settings say (its extra, its host, its credentials)."""
        uses_jwt = not MODEL_PATH.takes_credentials(settings)
        return cls(settings.tasks_query_support, settings.base_url, uses_jwt=uses_jwt)

    def __repr__(self) -> str:
        return f"TasksQuerySupport(setting={self.setting!r}, supported={self.supported!r})"

    @property
    def usable(self) -> bool:
        """Try ``/tasks`` (known to work, or not known yet)."""
        return self.supported is not False

    def saw_answer(self) -> None:
        """A ``/tasks`` query was answered with a list: the host has it."""
        if self.supported is None:
            self.supported = True

    def saw_error(self, exc: KlingError) -> bool:
        """
        A ``/tasks`` query failed: True when that shows the host lacks it (no such route, or an
        answer that is not Kling's), so the caller falls back to per-task queries and list rounds.
        A host set to ``yes`` is never given up on; a transient error says nothing.
        """
        if self.setting == "yes":
            return False
        # A host without the route may answer its own page (200, not JSON): that is no Kling answer.
        if exc.retryable and not isinstance(exc, KlingResponseError):
            return False
        lacks = (
            isinstance(exc, KlingNotFoundError | KlingResponseError)
            or exc.http_status in (404, 405)
            or exc.code == 1202
            or (isinstance(exc, KlingAuthError) and self.supported is None)
        )
        if lacks:
            self.supported = False
        return lacks


def tasks_support(core: KlingCore) -> TasksQuerySupport:
    """The core's knowledge of its host's ``GET /tasks`` (from the connection, then from answers)."""
    if core._tasks_support is None:
        core._tasks_support = TasksQuerySupport.of(core.loaded)
    support: TasksQuerySupport = core._tasks_support
    return support


def complete_steps(
    core: KlingCore, task: KlingTask, route: Route, **limits: Unpack[Limits]
) -> Steps[KlingTask]:
    """``task`` as read through ``/tasks``, with all its style's own query says once it has ended."""
    if route.wire.tasks_query_is_complete or not task.task_status.is_final:
        return task
    return (yield from route.query(core, task.task_id, **limits))


def get_tasks_steps(
    core: KlingCore, task_ids: Iterable[str], route: Route, complete: bool = True, **limits: Unpack[Limits]
) -> Steps[list[KlingTask]]:
    """
    The tasks of ``task_ids`` that Kling knows, in the order asked: ``GET /tasks`` in chunks of 20
    where the host has it (a finished task completed by :func:`complete_steps` unless ``complete`` is
    False), else one query per task (a host found to lack ``/tasks`` is not asked again).
    """
    support = tasks_support(core)
    ids = list(dict.fromkeys(task_ids))
    found: dict[str, KlingTask] = {}
    if support.usable:
        try:
            for chunk in chunks(ids):
                for record in (yield from tasks_query_steps(core, chunk, **limits)):
                    task = MODEL_PATH.decode(record, "a task of a many-task query")
                    found[task.task_id] = task
            support.saw_answer()
        except KlingError as exc:
            if not support.saw_error(exc):
                raise
            core.log.warning(
                "Kling at %s does not answer GET /tasks (%s); querying each task instead",
                core.loaded.base_url,
                exc,
            )
        else:
            for task_id, task in found.items() if complete else ():  # else: the caller completes them
                found[task_id] = yield from complete_steps(core, task, route, **limits)
            return [found[task_id] for task_id in ids if task_id in found]
    for task_id in (task_id for task_id in ids if task_id not in found):
        try:
            found[task_id] = yield from route.query(core, task_id, **limits)
        except KlingNotFoundError:
            continue
    return [found[task_id] for task_id in ids if task_id in found]
