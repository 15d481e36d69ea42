"""
Kling's model-path API (from 2026-07-15): the paths it is reached at, and the task records every
model-path answer carries. No Airflow and no HTTP here.

The request kinds that take model-path models (text to video, image to video, omni video) are the
ones of :mod:`airflow_provider_kling.models.requests`: a request's model chooses its API style, and
its class lays the body out for it. These paths take an API key only: an access-key JWT gets
401/1002 (:func:`is_new_style_path` lets the hook refuse it before sending).

Records: ``{id, status, message, create_time, update_time, external_id, outputs[], billing[]}``,
with ``succeeded`` where the ``/v1/`` API says ``succeed``. :func:`legacy_fields` maps one onto
the fields of :class:`~airflow_provider_kling.models.task.ImageTask`, so XCom and spend see one
shape whichever API created the task.

``external_id`` on these paths: a create's ``options.external_task_id`` comes back as
``external_id``; a second create with an id the account already used answers 400/1201 "already
exists" and makes no second task and no second charge (one live probe; Kling documents the id as
unique per account), and ``GET /tasks?external_task_ids=`` finds the task by it. So the same
resume-by-external-id rule as on ``/v1/`` holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

TEXT_TO_VIDEO_PATH = "/text-to-video"
IMAGE_TO_VIDEO_PATH = "/image-to-video"
OMNI_VIDEO_PATH = "/omni-video"
#: Paths of model-path creates (``{path}/{model}``; the request kinds declare them, these are the
#: prefixes the hook tells the style by until it asks the request) and the many-task query.
NEW_STYLE_PATHS: tuple[str, ...] = (
    TEXT_TO_VIDEO_PATH,
    IMAGE_TO_VIDEO_PATH,
    OMNI_VIDEO_PATH,
    "/motion-control",
)
#: The new-style task query (``models.task_query``).
TASKS_PATH = "/tasks"


def is_new_style_path(path: str) -> bool:
    """Whether ``path`` (a create path with its model, or ``/tasks``) belongs to the new-style API."""
    first = "/" + path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return first in NEW_STYLE_PATHS or first == TASKS_PATH


# --- task records -----------------------------------------------------------------------------------

#: New-style statuses that the ``/v1/`` API spells differently.
STATUS_TO_LEGACY: Mapping[str, str] = {"succeeded": "succeed"}


def is_new_style_record(data: Any) -> bool:
    """Whether ``data`` is a new-style task record (``id`` and ``status``, no ``task_id``)."""
    return isinstance(data, dict) and "task_id" not in data and "id" in data and "status" in data


def _outputs(record: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The ``outputs[]`` entries of one kind: ``{"video": {...}}`` (Kling's) or ``{"type": "video", ...}``."""
    found = []
    for output in record.get("outputs") or ():
        if not isinstance(output, dict):
            continue
        if isinstance(output.get(kind), dict):
            found.append(output[kind])
        elif output.get("type") == kind:
            found.append({key: value for key, value in output.items() if key != "type"})
    return found


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _billing(record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """``billing[]`` as (units, cash): the units as a decimal string, the cash as a balance deduction."""
    units: Decimal | None = None
    cash: Decimal | None = None
    currency = None
    for charge in record.get("billing") or ():
        if not isinstance(charge, dict) or (amount := _amount(charge.get("amount"))) is None:
            continue
        if charge.get("charge_type") == "unit":
            units = (units or Decimal(0)) + amount
        elif charge.get("charge_type") == "cash":
            cash = (cash or Decimal(0)) + amount
            currency = charge.get("currency") or currency
    balance = None
    if cash is not None:
        balance = {"quota": format(cash, "f"), **({"currency": currency} if currency else {})}
    return (format(units, "f") if units is not None else None), balance


def legacy_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """A new-style task record in the ``/v1/`` task's field names (what :class:`ImageTask` reads)."""
    status = record.get("status")
    units, balance = _billing(record)
    images = [{"index": position, **image} for position, image in enumerate(_outputs(record, "image"))]
    external_id = record.get("external_id")
    fields: dict[str, Any] = {
        "task_id": record.get("id"),
        "task_status": STATUS_TO_LEGACY.get(status, status) if isinstance(status, str) else status,
        "task_status_msg": record.get("message") or None,
        "task_info": {"external_task_id": external_id} if external_id else {},
        "created_at": record.get("create_time"),
        "updated_at": record.get("update_time"),
        "task_result": {"images": images, "videos": _outputs(record, "video")},
        "final_unit_deduction": units,
        "final_balance_deduction": balance,
    }
    return {key: value for key, value in fields.items() if value is not None}
