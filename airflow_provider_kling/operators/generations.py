"""The Kling tasks of one request of one task instance, generation by generation.

Generation 1 is created with the request's external task id, generation ``n`` with ``<id>-<n>``.
A try resumes the newest generation unless it failed; after a failure the next generation is
created only within the failure policy. The task id is saved the moment it exists (XCom, and the
task state store with the request's fingerprint, so an entry made for another request is ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingError, KlingTaskRefusedError, task_failed_error
from airflow_provider_kling.idempotency import (
    generation_external_task_id,
    request_fingerprint,
    with_external_task_id,
)

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models import ImageTask
    from airflow_provider_kling.models.requests import KlingTaskRequest

#: XCom key under which the Kling task id is pushed the moment the task exists.
XCOM_KLING_TASK_ID = "kling_task_id"
#: Task state store key (Airflow >= 3.3) that lets a retry reconnect to the same Kling task.
STATE_KLING_TASK_ID = "kling_task_id"
#: Task state store key: the request fingerprint, external task id and generation of that task.
STATE_KLING_REQUEST = "kling_request"
#: Default of ``max_regenerations``: new Kling tasks after Kling-side failures, per request.
DEFAULT_MAX_REGENERATIONS = 2
#: Generations looked for by external task id before giving up (a guard against odd hosts).
MAX_GENERATIONS_SCANNED = 50


class RequestGenerations:
    """
    Resume or create the Kling task of ``request`` (which carries its generation-1 external id).

    :param failure: Turns a Kling error into what ends the try (the operator's failure policy).
    """

    def __init__(
        self,
        hook: KlingHook,
        request: KlingTaskRequest,
        context: Any,
        *,
        log: Any,
        max_regenerations: int,
        failure: Callable[[KlingError], BaseException],
    ) -> None:
        if not request.external_task_id:
            raise ValueError("the request needs an external_task_id to count its generations")
        self.hook, self.request, self.context, self.log = hook, request, context, log
        #: The request kind's endpoint: every query and create of this request goes there.
        self.endpoint: str = type(request).path
        self.base_id: str = request.external_task_id
        self.fingerprint = request_fingerprint(request)
        self.max_regenerations = max_regenerations
        self.failure = failure
        self.store = context.get("task_state_store")

    def resume_or_create(self) -> tuple[ImageTask, bool]:
        """The task of this request: resumed (``True``) when an earlier try made it, else created."""
        failed: tuple[ImageTask, int] | None = None
        stored_id = self._store_get(STATE_KLING_TASK_ID)
        stored = self._store_get(STATE_KLING_REQUEST)
        if stored_id:
            if not isinstance(stored, dict) or stored.get("fingerprint") != self.fingerprint:
                self.log.info(
                    "Not resuming Kling task %s from the task state store: it was made for another request",
                    stored_id,
                )
            elif known := self.hook.find_image_task(str(stored_id), endpoint=self.endpoint):
                if known.task_status != "failed":
                    return self._resumed(known, "the task state store"), True
                failed = (known, int(stored.get("generation") or 1))
        newest, generation = self.newest()
        if newest is not None and newest.task_status != "failed":
            self._remember(newest, newest.external_task_id, generation)
            return self._resumed(newest, f"external_task_id {newest.external_task_id}"), True
        if newest is not None:
            failed = (newest, generation)
        if failed is not None:
            self._check_may_regenerate(*failed)
            generation = max(generation, failed[1])
        return self.create(generation + 1), False

    def newest(self) -> tuple[ImageTask | None, int]:
        """The newest task of this request found by external task id, and its generation (0: none)."""
        newest: ImageTask | None = None
        generation = 0
        while generation < MAX_GENERATIONS_SCANNED:
            found = self.hook.find_image_task_by_external_id(
                generation_external_task_id(self.base_id, generation + 1), endpoint=self.endpoint
            )
            if found is None:
                break
            newest, generation = found, generation + 1
        return newest, generation

    def create(self, generation: int) -> ImageTask:
        """Create generation ``generation`` (its external id validated like any field) and save its id."""
        external_id = generation_external_task_id(self.base_id, generation)
        task = self.hook.create_image_task(with_external_task_id(self.request, external_id))
        self._remember(task, external_id, generation)
        return task

    def create_next(self) -> ImageTask:
        """Create the generation after the newest one, on purpose (e.g. its images expired)."""
        _, generation = self.newest()
        stored = self._store_get(STATE_KLING_REQUEST)
        if isinstance(stored, dict) and stored.get("fingerprint") == self.fingerprint:
            generation = max(generation, int(stored.get("generation") or 0))
        return self.create(generation + 1)

    def _check_may_regenerate(self, failed: ImageTask, generation: int) -> None:
        """Raise when the failure policy forbids another generation after ``failed``."""
        error = task_failed_error(
            failed.task_id, failed.task_status_msg, external_task_id=failed.external_task_id
        )
        if isinstance(error, KlingTaskRefusedError):
            raise self.failure(error)  # refused by content safety: never generated again
        if generation > self.max_regenerations:
            from airflow.providers.common.compat.sdk import AirflowFailException

            raise AirflowFailException(
                f"{error}. {generation} Kling task(s) of this request failed and max_regenerations="
                f"{self.max_regenerations}: no new one is created. Raise max_regenerations, or change "
                "the request, to generate again."
            )
        self.log.warning(
            "Earlier Kling task %s (generation %d) failed (%s); creating generation %d of at most %d",
            failed.task_id,
            generation,
            failed.task_status_msg,
            generation + 1,
            self.max_regenerations + 1,
        )

    def _resumed(self, task: ImageTask, found_by: str) -> ImageTask:
        self.log.info(
            "Resuming Kling task %s (status %s) from an earlier try, found by %s: no new generation",
            task.task_id,
            task.task_status,
            found_by,
        )
        self.context["ti"].xcom_push(key=XCOM_KLING_TASK_ID, value=task.task_id)
        return task

    def _remember(self, task: ImageTask, external_id: str | None, generation: int) -> None:
        """Save the Kling task id the moment it exists: XCom, and the task state store with its request."""
        self.context["ti"].xcom_push(key=XCOM_KLING_TASK_ID, value=task.task_id)
        self._store_set(STATE_KLING_TASK_ID, task.task_id)
        self._store_set(
            STATE_KLING_REQUEST,
            {"fingerprint": self.fingerprint, "external_task_id": external_id, "generation": generation},
        )

    def _store_get(self, key: str) -> Any:
        return self.store.get(key) if self.store is not None else None

    def _store_set(self, key: str, value: Any) -> None:
        if self.store is not None:
            self.store.set(key, value)
