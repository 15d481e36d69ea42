"""How long to wait between polls, and what a poll's answer means: shared by hook and trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_kling.errors import KlingTaskFailedError, KlingTaskTimeoutError

if TYPE_CHECKING:
    from airflow_provider_kling.models import ImageTask

DEFAULT_POLL_INTERVAL = 10.0
#: An image task takes about 30 s; 30 minutes leaves room for queueing behind other tasks.
DEFAULT_TIMEOUT = 1800.0


def next_poll_delay(poll_interval: float, deadline: float, now: float) -> float:
    """Sleep for the poll interval, but never past the deadline."""
    return max(0.0, min(poll_interval, deadline - now))


def raise_if_failed(task: ImageTask) -> None:
    """A ``failed`` task becomes :class:`KlingTaskFailedError` with Kling's own reason."""
    if task.task_status == "failed":
        reason = task.task_status_msg or "Kling gave no reason"
        raise KlingTaskFailedError(f"Kling task {task.task_id} failed: {reason}", task_id=task.task_id)


def deadline_error(task_id: str, status: str, elapsed: float) -> KlingTaskTimeoutError:
    """The error for a task still running at its deadline, saying how to pick it up again."""
    return KlingTaskTimeoutError(
        f"Kling task {task_id} was still '{status}' after {elapsed:.0f}s, past its deadline. "
        "It may still finish on Kling's side: clear and re-run this Airflow task (it resumes the same "
        f"Kling task, with no new generation) or wait for it with KlingImageTaskSensor(task_id='{task_id}').",
        task_id=task_id,
    )
