"""The Kling tasks of one request of one Airflow task instance, on the worker: reconcile, then create.

The task state store's hint first, then every generation by external task id, then
:func:`~.reconcile.decide`; the task id is saved the moment the task exists. No Airflow here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_kling.idempotency import (
    generation_external_task_id,
    request_fingerprint,
    with_external_task_id,
)
from airflow_provider_kling.lifecycle.policy import FailurePolicy, Outcome, outcome_of
from airflow_provider_kling.lifecycle.reconcile import Decision, decide, run_scan

#: XCom key under which the Kling task id is pushed the moment the task exists.
XCOM_KLING_TASK_ID = "kling_task_id"
#: Task state store key (Airflow >= 3.3) that lets a retry reconnect to the same Kling task.
STATE_KLING_TASK_ID = "kling_task_id"
#: Task state store key: the request fingerprint, external task id and generation of that task.
STATE_KLING_REQUEST = "kling_request"


class RequestTasks:
    """
    The Kling tasks of ``request`` (which carries its generation-1 external task id) at its endpoint.

    :param hook: Anything with ``find_task``, ``find_task_by_external_id`` and ``create_task``
        (the Kling hook).
    :param store: The task state store (``get``/``set``), or None before Airflow 3.3.
    :param push_task_id: Saves the Kling task id where the Airflow UI shows it (XCom).
    """

    def __init__(
        self,
        hook: Any,
        request: Any,
        policy: FailurePolicy,
        *,
        store: Any = None,
        push_task_id: Callable[[str], None] = lambda task_id: None,
        log: Any,
    ) -> None:
        if not request.external_task_id:
            raise ValueError("the request needs an external_task_id to count its generations")
        self.hook, self.request, self.policy, self.store, self.log = hook, request, policy, store, log
        self.push_task_id = push_task_id
        #: The request kind's endpoint and API style: every query and create of this request goes there.
        self.endpoint: str = request.endpoint
        self.api_style: str = request.api_style
        self.base_id: str = request.external_task_id
        self.fingerprint = request_fingerprint(request)

    def reconcile(self) -> Decision:
        """What to do: resume the newest generation, create one, or stop (refused, exhausted)."""
        hint = self._hint()
        where = {"endpoint": self.endpoint, "api_style": self.api_style}
        hinted = self.hook.find_task(hint["task_id"], **where) if hint else None
        hinted_generation = int(hint.get("generation") or 1) if hint and hinted else 0
        if hinted is not None and outcome_of(hinted.task_status) is not Outcome.FAILED:
            self.push_task_id(hinted.task_id)
            self._resumed(hinted, "the task state store")
            return decide(self.base_id, hinted, hinted_generation, self.policy)  # resume, not scanned
        newest, generation = self.newest()
        if hinted is not None and hinted_generation > generation:
            newest, generation = hinted, hinted_generation
        decision = decide(self.base_id, newest, generation, self.policy)
        if decision.action == "resume":
            self._remember(decision.task, decision.external_task_id, generation)
            self._resumed(decision.task, f"external_task_id {decision.external_task_id}")
        elif decision.action == "create" and newest is not None:
            self.log.warning(
                "Earlier Kling task %s (generation %d) failed (%s); creating generation %d of at most %d",
                newest.task_id,
                generation,
                newest.task_status_msg,
                decision.generation,
                self.policy.max_regenerations + 1,
            )
        return decision

    def newest(self) -> tuple[Any, int]:
        """The newest task of this request found by external task id, and its generation (0: none)."""
        find = self.hook.find_task_by_external_id
        where = {"endpoint": self.endpoint, "api_style": self.api_style}
        return run_scan(self.base_id, lambda external_id: find(external_id, **where))

    def create(self, generation: int) -> Any:
        """Create generation ``generation`` (its external id validated like any field) and save its id."""
        external_id = generation_external_task_id(self.base_id, generation)
        task = self.hook.create_task(with_external_task_id(self.request, external_id))
        self._remember(task, external_id, generation)
        return task

    def create_next(self) -> Any:
        """Create the generation after the newest one, on purpose (e.g. its images expired)."""
        _, generation = self.newest()
        return self.create(max(generation, int((self._hint() or {}).get("generation") or 0)) + 1)

    def _hint(self) -> dict[str, Any] | None:
        """The task state store's entry for this request (None when absent or made for another)."""
        stored_id = self.store.get(STATE_KLING_TASK_ID) if self.store is not None else None
        stored: Any = self.store.get(STATE_KLING_REQUEST) if stored_id else None
        if stored_id and (not isinstance(stored, dict) or stored.get("fingerprint") != self.fingerprint):
            self.log.info(
                "Not resuming Kling task %s from the task state store: it was made for another request",
                stored_id,
            )
            return None
        return {**stored, "task_id": str(stored_id)} if stored_id else None

    def _resumed(self, task: Any, found_by: str) -> None:
        self.log.info(
            "Resuming Kling task %s (status %s) from an earlier try, found by %s: no new generation",
            task.task_id,
            task.task_status,
            found_by,
        )

    def _remember(self, task: Any, external_id: str | None, generation: int) -> None:
        """Save the Kling task id the moment it exists: XCom, and the task state store with its request."""
        self.push_task_id(task.task_id)
        if self.store is not None:
            self.store.set(STATE_KLING_TASK_ID, task.task_id)
            request = {
                "fingerprint": self.fingerprint,
                "external_task_id": external_id,
                "generation": generation,
            }
            self.store.set(STATE_KLING_REQUEST, request)
