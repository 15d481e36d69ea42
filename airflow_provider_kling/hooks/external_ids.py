"""Whether a Kling host finds tasks by ``external_task_id``, and what a lost create answer means there.

The hook resends a create whose outcome is unknown only at a host that honours external ids:
there Kling refuses a duplicate, so a resend cannot pay twice. This module holds how the hook
finds that out (connection extra, the create's answer, one query) and the error it raises when
it cannot know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingCreateOutcomeUnknownError, KlingError

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings
    from airflow_provider_kling.models import ImageTask


def never_connected(exc: BaseException) -> bool:
    """Whether a requests error happened before any byte of the request was sent (connect phase)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        return False  # a proxy or TLS error may come after the request went out: not provable
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        # urllib3's MaxRetryError wraps NewConnectionError / NameResolutionError (both ConnectTimeoutError).
        return isinstance(getattr(exc.args[0], "reason", None), ConnectTimeoutError)
    return False


#: Image generation's path (the hook's default endpoint).
GENERATIONS_PATH = "/v1/images/generations"


class ExternalIdSupportMixin:
    """What :class:`~airflow_provider_kling.hooks.kling.KlingHook` knows about its host's external ids."""

    _external_ids_honoured: bool | None = None
    kling_conn_id: str
    log: Any

    @property
    def settings(self) -> KlingConnectionSettings:
        raise NotImplementedError

    def find_image_task_by_external_id(
        self, external_task_id: str, *, endpoint: str = GENERATIONS_PATH
    ) -> ImageTask | None:
        raise NotImplementedError

    def list_image_tasks(
        self, page_num: int = 1, page_size: int = 30, *, endpoint: str = GENERATIONS_PATH
    ) -> list[ImageTask]:
        raise NotImplementedError

    def _ids_honoured(self) -> bool | None:
        """True / False when known (connection extra, Kling's own hosts, or found out by this hook);
        None when not yet."""
        if self._external_ids_honoured is None:
            from airflow_provider_kling.models.hosts import is_klings_own_host

            support = self.settings.external_task_id_support
            if support == "auto" and is_klings_own_host(self.settings.base_url):
                support = "yes"  # Kling documents external_task_id (unique per account, queryable)
            self._external_ids_honoured = {"yes": True, "no": False}.get(support)
        return self._external_ids_honoured

    def _host_ignores_ids(self, evidence: str) -> None:
        if self._external_ids_honoured is not False:
            self.log.warning(
                "Kling at %s ignores external_task_id (%s): a create whose answer is lost will not be "
                "sent again, as it could pay twice. Set the extra external_task_id_support to 'no' on "
                "connection '%s' to skip this check, or 'yes' if the host does honour it",
                self.settings.base_url,
                evidence,
                self.kling_conn_id,
            )
        self._external_ids_honoured = False

    def _learn_external_id_support(
        self, task: ImageTask, external_id: str, *, endpoint: str = GENERATIONS_PATH
    ) -> None:
        """After a create whose answer arrived: a host that cannot find the task by its id ignores ids."""
        if self._ids_honoured() is not None:
            return
        if task.external_task_id == external_id:
            self._external_ids_honoured = True
            return
        try:
            found = self.find_image_task_by_external_id(external_id, endpoint=endpoint)
        except KlingError as exc:  # finding out must not fail a create that worked
            self.log.info("Could not check whether Kling honours external_task_id: %s", exc)
            return
        if found is not None and found.task_id == task.task_id:
            self._external_ids_honoured = True
        else:
            self._host_ignores_ids(f"task {task.task_id} is not found by external_task_id {external_id}")

    def _probe_external_id_support(self, endpoint: str = GENERATIONS_PATH) -> bool | None:
        """Whether the host finds a task of this account by its external id (None: no task to try)."""
        for listed in self.list_image_tasks(page_num=1, page_size=30, endpoint=endpoint):
            if listed.external_task_id:
                found = self.find_image_task_by_external_id(listed.external_task_id, endpoint=endpoint)
                if found is not None:
                    self._external_ids_honoured = True
                    return True
                self._host_ignores_ids(f"listed task {listed.task_id} is not found by its external_task_id")
                return False
        return None

    def _find_after_unknown_outcome(
        self, external_id: str, exc: KlingError, *, endpoint: str = GENERATIONS_PATH
    ) -> ImageTask | None:
        """
        The task a create of unknown outcome made, if Kling has it; ``None`` when it provably
        never arrived (the host honours external ids and has none); else raise, never resend.
        """
        honoured = self._ids_honoured()
        if honoured is not False:
            existing = self.find_image_task_by_external_id(external_id, endpoint=endpoint)
            if existing is not None:
                self.log.warning(
                    "The answer to a create was lost (%s), but Kling had received it: resuming task %s "
                    "found by external_task_id %s",
                    exc,
                    existing.task_id,
                    external_id,
                )
                self._external_ids_honoured = True
                return existing
            if honoured is None:
                honoured = self._probe_external_id_support(endpoint)
            if honoured:
                return None
        raise self._outcome_unknown_error(external_id, exc, known_to_ignore=honoured is False)

    def _outcome_unknown_error(
        self, external_id: str, exc: KlingError, *, known_to_ignore: bool
    ) -> KlingCreateOutcomeUnknownError:
        from datetime import UTC, datetime

        sent_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        why = (
            "this host ignores external_task_id"
            if known_to_ignore
            else "Kling found no task by that id and this host could not be shown to honour external_task_id"
        )
        return KlingCreateOutcomeUnknownError(
            f"A create with external_task_id {external_id} may have reached Kling and been charged, "
            f"but its answer was lost ({exc}); {why}, so it is not sent again (that could pay twice). "
            f"Look for a task created around {sent_at} in Kling's task list (KlingHook.list_image_tasks) "
            "and wait for it with KlingImageTaskSensor(kling_task_id=...), or clear this Airflow task to "
            "create a new one on purpose. If the host does find tasks by external_task_id, set the extra "
            f"external_task_id_support to 'yes' on connection '{self.kling_conn_id}'",
            external_task_id=external_id,
        )


class TasksQuerySupport:
    """
    Whether a host answers ``GET /tasks`` (many tasks in one query), found out the way external-id
    support is: the connection extra ``tasks_query`` (``auto``, ``yes``, ``no``), Kling's own hosts
    (documented: yes), else the first answer. Sans-I/O: the hook reports what it saw.

    ``/tasks`` belongs to the new-style API, which takes an API key only: with ``auto``, a JWT
    connection does not use it.
    """

    def __init__(self, setting: str, base_url: str, *, uses_jwt: bool = False) -> None:
        from airflow_provider_kling.models.hosts import is_klings_own_host

        self.setting = setting
        self.supported: bool | None = {"yes": True, "no": False}.get(setting)
        if self.supported is None:
            if uses_jwt:
                self.supported = False
            elif is_klings_own_host(base_url):
                self.supported = True

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
        from airflow_provider_kling.errors import KlingAuthError, KlingNotFoundError, KlingResponseError

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
