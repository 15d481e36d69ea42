"""What exists on Kling for one request, and what to do about it: written once for every caller.

Generation ``g`` of a request carries the external task id ``<base>`` (g = 1) or ``<base>-<g>``.
:func:`run_scan` looks for every generation; :func:`decide` then resumes the
newest, creates generation 1 or the next one, or stops (refused, or regenerations exhausted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from airflow_provider_kling.idempotency import generation_external_task_id
from airflow_provider_kling.lifecycle.policy import FailurePolicy, Outcome, Verdict, outcome_of

#: Generations looked for by external task id before giving up (a guard against odd hosts).
MAX_GENERATIONS_SCANNED = 50

T = TypeVar("T")


def run_scan(base_external_id: str, lookup: Callable[[str], T | None]) -> tuple[T | None, int]:
    """Look up each generation's external task id in turn with ``lookup`` (the task found, or None).

    Returns ``(newest task found, its generation)``; ``(None, 0)`` when generation 1 is not found.
    """
    newest: T | None = None
    generation = 0
    while generation < MAX_GENERATIONS_SCANNED:
        found = lookup(generation_external_task_id(base_external_id, generation + 1))
        if found is None:
            break
        newest, generation = found, generation + 1
    return newest, generation


def newest_generation(base_external_id: str, known: Mapping[str, T]) -> tuple[T | None, int]:
    """The scan against tasks already at hand, keyed by external task id (a listed page, a /tasks answer)."""
    return run_scan(base_external_id, known.get)


@dataclass(frozen=True)
class Decision:
    """What to do for a request, given the newest generation found on Kling.

    ``action``: ``resume`` (``task`` is running or succeeded: wait for it or store it), ``create``
    (generation ``generation`` under ``external_task_id``), ``refused`` (the newest was refused by
    content policy: never again) or ``exhausted`` (``max_regenerations`` reached: ``message`` says so).
    """

    action: Literal["resume", "create", "refused", "exhausted"]
    generation: int
    external_task_id: str
    task: object | None = None
    message: str | None = None


def decide(
    base_external_id: str,
    newest: T | None,
    generation: int,
    policy: FailurePolicy,
    *,
    status: Callable[[T], tuple[str | None, str | None]] | None = None,
) -> Decision:
    """
    The decision for a request whose newest generation on Kling is ``newest`` (generation
    ``generation``; ``None``/0 when nothing exists).

    :param status: Reads ``(task_status, task_status_msg)`` of a found task; by default its
        ``task_status``/``task_status_msg`` attributes or keys (an ``KlingTask`` or its JSON).
    """
    if newest is None:
        return Decision("create", 1, generation_external_task_id(base_external_id, 1))
    this_id = generation_external_task_id(base_external_id, generation)
    task_status, message = (status or _status_of)(newest)
    outcome = outcome_of(task_status, message)
    if outcome in (Outcome.RUNNING, Outcome.SUCCEEDED):
        return Decision("resume", generation, this_id, newest)
    verdict = policy.verdict(outcome, generation)
    if verdict is Verdict.REFUSED:
        return Decision("refused", generation, this_id, newest, message)
    if verdict is Verdict.EXHAUSTED:
        return Decision("exhausted", generation, this_id, newest, policy.exhausted_message(generation))
    return Decision(
        "create",
        generation + 1,
        generation_external_task_id(base_external_id, generation + 1),
        newest,
        message,
    )


def _status_of(task: object) -> tuple[str | None, str | None]:
    if isinstance(task, Mapping):
        return task.get("task_status"), task.get("task_status_msg")
    status = getattr(task, "task_status", None)
    return getattr(status, "value", status), getattr(task, "task_status_msg", None)
