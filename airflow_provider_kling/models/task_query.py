"""
One query for many tasks: ``GET /tasks?task_ids=a,b`` and ``POST /tasks``, built and read without I/O.

``GET /tasks`` takes at most :data:`MAX_TASK_IDS` ids (more answers 400/1201), either Kling task ids
(``task_ids``) or external task ids (``external_task_ids``), never both; ids Kling does not know are
left out of the answer (an empty list when none is known); tasks created on ``/v1/`` are returned
too. ``POST /tasks`` pages through the account's tasks: ``{start_time, end_time, cursor, limit,
filters}`` (times in ms, the last 30 days by default; ``limit`` up to :data:`MAX_LIMIT`), answered
``{result[], count, next_cursor, has_more}``. Both answer task records, new-style or ``/v1/``;
:func:`~airflow_provider_kling.models.task.task_from_data` reads either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from airflow_provider_kling.errors import KlingRequestValidationError, KlingResponseError
from airflow_provider_kling.models.times import to_millis

#: The model-path style's many-task query (``GET``) and search (``POST``).
TASKS_PATH = "/tasks"
MAX_TASK_IDS = 20
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
#: ``filters.status`` and ``filters.product_type`` values (the model-path spelling ``succeeded``).
SearchStatus = Literal["submitted", "processing", "succeeded", "failed"]
ProductType = Literal["video", "image", "try_on"]
TASK_STATUSES: tuple[str, ...] = get_args(SearchStatus)
PRODUCT_TYPES: tuple[str, ...] = get_args(ProductType)


def chunks(task_ids: Iterable[str], size: int = MAX_TASK_IDS) -> Iterator[list[str]]:
    """The ids in order, each once, in lists of at most ``size`` (one ``GET /tasks`` each)."""
    if not 1 <= size <= MAX_TASK_IDS:
        raise ValueError(f"size must be from 1 to {MAX_TASK_IDS} (got {size})")
    unique = list(dict.fromkeys(task_ids))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def tasks_by_ids_params(task_ids: Iterable[str], *, external: bool = False) -> dict[str, str]:
    """The query of ``GET /tasks`` for up to :data:`MAX_TASK_IDS` task ids (or external task ids)."""
    name = "external_task_ids" if external else "task_ids"
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        raise KlingRequestValidationError(f"{name}: at least one id is needed")
    if len(ids) > MAX_TASK_IDS:
        raise KlingRequestValidationError(
            f"{name}: at most {MAX_TASK_IDS} ids in one query (got {len(ids)}); split them with chunks()"
        )
    for task_id in ids:
        if not task_id or "," in task_id or any(ch.isspace() for ch in task_id):
            raise KlingRequestValidationError(
                f"{name}: an id must be non-empty, without commas or whitespace (got {task_id!r})"
            )
    return {name: ",".join(ids)}


def records_of(data: Any) -> list[dict[str, Any]]:
    """The task records of a ``GET /tasks`` answer's ``data`` (a list; ``None`` and ``[]``: none known)."""
    if data is not None and not isinstance(data, list):
        raise KlingResponseError("Kling answered a many-task query without a list of tasks")
    return [item for item in (data or ()) if isinstance(item, dict)]


@dataclass(frozen=True)
class TaskSearch:
    """The body of ``POST /tasks``: a time window, a page (``cursor``, ``limit``) and filters.

    The shape of ``filters`` (``{"status": ..., "product_type": ...}``) is UNCONFIRMED: Kling's page
    names the two filters without showing the object.
    """

    start_time: datetime | int | None = None
    end_time: datetime | int | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT
    status: SearchStatus | None = None
    product_type: ProductType | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise KlingRequestValidationError(f"limit: must be from 1 to {MAX_LIMIT} (got {self.limit})")
        if self.status is not None and self.status not in TASK_STATUSES:
            raise KlingRequestValidationError(
                f"status: must be one of {', '.join(TASK_STATUSES)} (got {self.status!r})"
            )
        if self.product_type is not None and self.product_type not in PRODUCT_TYPES:
            raise KlingRequestValidationError(
                f"product_type: must be one of {', '.join(PRODUCT_TYPES)} (got {self.product_type!r})"
            )
        start, end = to_millis("start_time", self.start_time), to_millis("end_time", self.end_time)
        if start is not None and end is not None and start > end:
            raise KlingRequestValidationError("start_time: must not be after end_time")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "start_time": to_millis("start_time", self.start_time),
            "end_time": to_millis("end_time", self.end_time),
            "cursor": self.cursor,
            "limit": self.limit,
        }
        filters = {"status": self.status, "product_type": self.product_type}
        filters = {key: value for key, value in filters.items() if value is not None}
        if filters:
            body["filters"] = filters
        return {key: value for key, value in body.items() if value is not None}
