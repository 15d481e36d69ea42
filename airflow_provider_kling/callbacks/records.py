"""A callback's body read into one record, whichever shape Kling sent.

Kling POSTs the task to ``callback_url`` on status changes, in one of two shapes:

- legacy (``/v1/`` endpoints): ``task_id``, ``task_status`` (``succeed``), ``task_status_msg``,
  ``task_info.external_task_id``, ``task_result{images[], videos[]}``, ``final_unit_deduction``;
- new-style (model in the path): the bare task record ``id``, ``status`` (``succeeded``),
  ``message``, ``external_id``, ``outputs[]``, ``billing[]``.

Which models send which is not confirmed, so the body is read by its shape, with the decoders
the hook reads answers with (:func:`~airflow_provider_kling.models.task.task_from_data`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from airflow_provider_kling.errors import KlingResponseError
from airflow_provider_kling.models.task import KlingTask, TaskStatus, record_style, task_from_data

#: Units are a plain, non-negative decimal of bounded length (Kling's are a few digits): not
#: ``inf``, ``nan``, ``1e999`` or thousands of digits.
_UNITS = re.compile(r"[0-9]{1,15}(\.[0-9]{1,12})?")


class CallbackBodyError(ValueError):
    """A signed callback whose body is not a task this provider can read."""


@dataclass(frozen=True)
class CallbackRecord:
    """One callback, normalised: the task's ids, status, result URLs and units."""

    task_id: str
    external_task_id: str | None
    status: TaskStatus
    status_message: str | None
    #: The result's image and video URLs, in Kling's order.
    image_urls: tuple[str, ...]
    video_urls: tuple[str, ...]
    #: Units Kling deducted, as a decimal string (``final_unit_deduction``, or the unit ``billing``).
    units: str | None
    #: Which style's body Kling sent (an ``ApiStyle`` value: ``v1``, ``model-path``), or ``query``
    #: (read by the sweep, not a callback).
    shape: str

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @property
    def result_urls(self) -> tuple[str, ...]:
        return self.image_urls + self.video_urls


def parse_callback(body: bytes) -> CallbackRecord:
    """The record of one callback body; :class:`CallbackBodyError` when it is not a readable task."""
    try:
        data = json.loads(body)
    except ValueError:
        raise CallbackBodyError("the callback body is not JSON") from None
    except RecursionError:  # JSON nested deeper than the interpreter's stack (a body is <= 256 KiB)
        raise CallbackBodyError("the callback body is nested too deep") from None
    if not isinstance(data, dict):
        raise CallbackBodyError("the callback body is not a JSON object")
    if "code" in data and isinstance(data.get("data"), dict):
        data = data["data"]  # an enveloped task, as a query answers it: read the task inside
    try:
        task = task_from_data(data, "a callback")
    except KlingResponseError as exc:
        raise CallbackBodyError(str(exc)) from None
    except RecursionError:
        raise CallbackBodyError("the callback body is nested too deep") from None
    record = record_of_task(task, record_style(data).value)
    if record.units is not None and not _UNITS.fullmatch(record.units):
        raise CallbackBodyError("the callback's units are not a plain non-negative decimal")
    return record


def record_of_task(task: KlingTask, shape: str = "query") -> CallbackRecord:
    """The record of a task read by the task model (a callback's, or a query's: the sweep's)."""
    return CallbackRecord(
        task_id=task.task_id,
        external_task_id=task.external_task_id or None,
        status=task.task_status,
        status_message=task.task_status_msg or None,
        image_urls=tuple(image.url for image in task.images if image.url),
        video_urls=tuple(video.url for video in task.videos if video.url),
        units=task.final_unit_deduction,
        shape=shape,
    )
