"""A callback's body read into one record, whichever shape Kling sent.

Kling POSTs the task to ``callback_url`` on status changes, in one of two shapes:

- legacy (``/v1/`` endpoints): ``task_id``, ``task_status`` (``succeed``), ``task_status_msg``,
  ``task_info.external_task_id``, ``task_result{images[], videos[]}``, ``final_unit_deduction``;
- new-style (model in the path): the bare task record ``id``, ``status`` (``succeeded``),
  ``message``, ``external_id``, ``outputs[]``, ``billing[]``.

Which models send which is not confirmed, so the body is read by its keys (``id`` or
``task_id``). Both are read by the task model (:mod:`airflow_provider_kling.models.task`): a
new-style record is first restated in the legacy shape, so statuses, ids and results are read
by one parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_kling.errors import KlingResponseError
from airflow_provider_kling.models.task import ImageTask, TaskStatus, task_from_data

#: New-style statuses that differ from the legacy spelling (the only one known: ``succeeded``).
NEW_STYLE_STATUSES = {"succeeded": TaskStatus.SUCCEED.value}


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
    #: ``legacy`` or ``new``: which body shape Kling sent (``query``: read by the sweep, not a callback).
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
    if not isinstance(data, dict):
        raise CallbackBodyError("the callback body is not a JSON object")
    if "code" in data and isinstance(data.get("data"), dict):
        data = data["data"]  # an enveloped task, as a query answers it: read the task inside
    shape = "legacy" if "task_id" in data else "new"
    legacy = data if shape == "legacy" else restate_new_style(data)
    try:
        task = task_from_data(legacy, "a callback")
    except KlingResponseError as exc:
        raise CallbackBodyError(str(exc)) from None
    if shape == "new":
        return record_of_task(task, shape, units=_billed_units(data.get("billing")))
    return record_of_task(task, shape)


def record_of_task(task: ImageTask, shape: str = "query", units: str | None = None) -> CallbackRecord:
    """The record of a task read by the task model (a callback's, or a query's: the sweep's)."""
    return CallbackRecord(
        task_id=task.task_id,
        external_task_id=task.external_task_id or None,
        status=task.task_status,
        status_message=task.task_status_msg or None,
        image_urls=tuple(image.url for image in task.images if image.url),
        video_urls=_video_urls(task),
        units=units if units is not None else task.final_unit_deduction,
        shape=shape,
    )


def restate_new_style(record: Mapping[str, Any]) -> dict[str, Any]:
    """A new-style task record in the legacy shape the task model reads (outputs split by kind)."""
    status = record.get("status")
    images: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    for output in record.get("outputs") or []:
        kind, item = _output_item(output)
        if kind == "image":
            images.append({"index": len(images), **item})
        elif kind == "video":
            videos.append(item)
    return {
        "task_id": record.get("id"),
        "task_status": NEW_STYLE_STATUSES.get(status, status) if isinstance(status, str) else status,
        "task_status_msg": record.get("message"),
        "task_info": {"external_task_id": record.get("external_id")},
        "created_at": record.get("create_time"),
        "updated_at": record.get("update_time"),
        "task_result": {"images": images, "videos": videos},
    }


def _output_item(output: Any) -> tuple[str | None, dict[str, Any]]:
    # Kling's page shows an output as ``{"video": {...}}`` or ``{"image": {...}}``; a flat
    # ``{"type": "video", "url": ...}`` is read as well.
    if not isinstance(output, dict):
        return None, {}
    for kind in ("image", "video"):
        if isinstance(output.get(kind), dict):
            return kind, dict(output[kind])
    flat = output.get("type")
    return (flat, dict(output)) if flat in ("image", "video") else (None, {})


def _billed_units(billing: Any) -> str | None:
    """The sum of the ``unit`` charges of a new-style ``billing[]``, or None when there are none."""
    if not isinstance(billing, list):
        return None
    total, seen = Decimal(0), False
    for charge in billing:
        if isinstance(charge, dict) and charge.get("charge_type") == "unit":
            try:
                total += Decimal(str(charge.get("amount")))
            except InvalidOperation:
                continue
            seen = True
    return format(total.normalize(), "f") if seen else None


def _video_urls(task: ImageTask) -> tuple[str, ...]:
    urls = []
    videos = getattr(task, "videos", None)
    if videos is None:  # a task model without a video list keeps them as an extra field
        videos = (task.task_result.model_extra or {}).get("videos") or []
    for video in videos:
        url = video.get("url") if isinstance(video, dict) else getattr(video, "url", None)
        if isinstance(url, str) and url:
            urls.append(url)
    return tuple(urls)
