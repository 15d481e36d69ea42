"""The sweep's decision: which of our Kling tasks never had their terminal callback recorded,
or had it consumed only by runs that failed.

No Airflow, no I/O: the sweep operator lists the account's tasks and the asset's recent events,
and asks :func:`find_missing`. A task is ours when its external task id is one this provider
made (``[<namespace>-]airflow-<instance>-<fingerprint>``), of the namespace asked for. An event
whose every consuming run failed (a consumer run that could not reach the api-server, say)
counts as lost: the sweep records the task again, and the consumer's next run stores it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_kling.callbacks.records import CallbackRecord, record_of_task
from airflow_provider_kling.idempotency import parse_external_task_id
from airflow_provider_kling.models.task import KlingTask

#: A task that ended this long ago without its callback recorded is recovered by the sweep.
DEFAULT_GRACE = timedelta(minutes=10)
#: A task still running this long after it was created is reported as still open.
DEFAULT_DEADLINE = timedelta(hours=1)


@dataclass
class SweepFindings:
    """What the sweep found among our tasks."""

    #: Ended on Kling, no event recorded: the sweep records them itself.
    recovered: list[CallbackRecord] = field(default_factory=list)
    #: Not ended, and created more than the deadline ago.
    still_open: list[CallbackRecord] = field(default_factory=list)
    #: Ours and seen at all (recorded, recovered, open or not late yet).
    ours: int = 0


#: The state of a DAG run that will not store anything more.
FAILED_RUN = "failed"


def was_consumed(created_dagruns: Iterable[Any]) -> bool:
    """Whether an event still stands for its task: it queued no run yet (its run is still to
    come), or at least one of the runs it created did not fail."""
    states = [str(getattr(run, "state", None) or "") for run in created_dagruns]
    return not states or any(state != FAILED_RUN for state in states)


def is_ours(external_task_id: str | None, namespace: str | None) -> bool:
    parts = parse_external_task_id(external_task_id)
    return parts is not None and (namespace is None or parts.namespace == namespace)


def find_missing(
    tasks: Iterable[KlingTask],
    recorded_task_ids: set[str],
    *,
    namespace: str | None,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    deadline: timedelta = DEFAULT_DEADLINE,
) -> SweepFindings:
    """Sort our tasks that have no recorded terminal event into recovered and still open."""
    findings = SweepFindings()
    for task in tasks:
        if not is_ours(task.external_task_id, namespace):
            continue
        findings.ours += 1
        if task.task_id in recorded_task_ids:
            continue
        if task.task_status.is_final:
            ended = task.updated_at or task.created_at
            if ended is None or now - ended >= grace:
                findings.recovered.append(record_of_task(task))
        elif task.created_at is not None and now - task.created_at >= deadline:
            findings.still_open.append(record_of_task(task))
    return findings
