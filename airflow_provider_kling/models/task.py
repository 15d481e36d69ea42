"""
Kling's answers read into typed tasks: the envelope, task states, images and deductions.

Sans-I/O: the hook's sync and async transports both hand status, headers and body to
:func:`parse_answer`, and read tasks with :func:`task_from_data`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_provider_kling.errors import KlingResponseError, error_from_response


class TaskStatus(StrEnum):
    """Kling's task states; ``succeed`` is Kling's spelling."""

    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEED = "succeed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.SUCCEED, TaskStatus.FAILED)


def _millis_to_datetime(value: Any) -> Any:
    # Kling's query example sends 0 for times it does not know: that is "unset", not 1970.
    if value in ("", 0, "0"):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return value


class _Tolerant(BaseModel):
    # Resellers add fields and leave others out: keep what they send, require little.
    # Some send numbers where Kling sends strings (an image ``id``, ``final_unit_deduction``).
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class KlingImage(_Tolerant):
    index: int | None = None
    url: str | None = None
    id: str | None = None
    #: the watermarked copy, when the request asked for one (``watermark_info``)
    watermark_url: str | None = None

    def to_xcom(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"index": self.index, "url": self.url}
        if self.watermark_url:
            summary["watermark_url"] = self.watermark_url
        return summary


class KlingVideo(_Tolerant):
    """One result video: ``id`` (what video-extend takes), ``url``, ``duration`` in seconds (a string)."""

    id: str | None = None
    url: str | None = None
    #: the watermarked copy, when the request asked for one (``watermark_info``)
    watermark_url: str | None = None
    duration: str | None = None

    def to_xcom(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"id": self.id, "url": self.url, "duration": self.duration}
        if self.watermark_url:
            summary["watermark_url"] = self.watermark_url
        return summary


class BalanceDeduction(_Tolerant):
    """What a task cost when paid from the account balance (``final_balance_deduction``)."""

    quota: str | None = None
    list_price: str | None = None


class TaskInfo(_Tolerant):
    external_task_id: str | None = None
    #: video-extend: the video that was extended (``id``, ``url``, ``duration``)
    parent_video: KlingVideo | None = None

    @field_validator("parent_video", mode="before")
    @classmethod
    def _video_object_or_none(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None


class TaskResult(_Tolerant):
    images: list[KlingImage] = Field(default_factory=list)
    #: omni-image with ``result_type="series"`` answers its images here (a reseller's copy of
    #: Kling's page says so; not confirmed on Kling's own): both lists are read.
    series_images: list[KlingImage] = Field(default_factory=list)
    result_type: str | None = None
    #: the video endpoints' results (``/v1/videos/*``): one video per task
    videos: list[KlingVideo] = Field(default_factory=list)

    @field_validator("images", "series_images", "videos", mode="before")
    @classmethod
    def _null_is_no_images(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("images", "series_images", mode="after")
    @classmethod
    def _number_images(cls, images: list[KlingImage]) -> list[KlingImage]:
        # Some resellers omit index: fall back to the position in the list.
        return [
            img if img.index is not None else img.model_copy(update={"index": pos})
            for pos, img in enumerate(images)
        ]


class ImageTask(_Tolerant):
    """A Kling task (image or video; also named :data:`KlingTask`) as returned by create, query and list."""

    task_id: str
    task_status: TaskStatus
    task_status_msg: str | None = None
    task_info: TaskInfo = Field(default_factory=TaskInfo)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: resource-pack units the task used up, as Kling sends it (a decimal string)
    final_unit_deduction: str | None = None
    final_balance_deduction: BalanceDeduction | None = None
    task_result: TaskResult = Field(default_factory=TaskResult)

    _times = field_validator("created_at", "updated_at", mode="before")(_millis_to_datetime)

    @field_validator("task_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("task_info", "task_result", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("final_balance_deduction", mode="before")
    @classmethod
    def _deduction_object_or_none(cls, value: Any) -> Any:
        # An informational field: a reseller's "" or other non-object must not make the task unreadable.
        return value if isinstance(value, dict) else None

    @property
    def external_task_id(self) -> str | None:
        return self.task_info.external_task_id

    @property
    def images(self) -> list[KlingImage]:
        """The task's images: ``task_result.images``, or an omni series' ``series_images``."""
        return self.task_result.images or self.task_result.series_images

    @property
    def videos(self) -> list[KlingVideo]:
        """The task's videos (``task_result.videos``; empty for an image task)."""
        return self.task_result.videos

    @property
    def parent_video(self) -> KlingVideo | None:
        """video-extend: the video that was extended."""
        return self.task_info.parent_video

    def to_xcom(self) -> dict[str, Any]:
        """The JSON-serialisable summary pushed to XCom (``path`` is added once a file is stored).

        ``videos`` (each ``id``, ``url``, ``duration``) and ``parent_video`` appear when Kling sent them.
        """
        summary = {
            "task_id": self.task_id,
            "task_status": self.task_status.value,
            "task_status_msg": self.task_status_msg or None,
            "external_task_id": self.external_task_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "final_unit_deduction": self.final_unit_deduction,
            "final_balance_deduction": (
                self.final_balance_deduction.model_dump(mode="json") if self.final_balance_deduction else None
            ),
            "images": [image.to_xcom() for image in self.images],
            **({"videos": [video.to_xcom() for video in self.videos]} if self.videos else {}),
        }
        if self.videos:
            summary["videos"] = [video.to_xcom() for video in self.videos]
        if self.parent_video is not None:
            summary["parent_video"] = self.parent_video.to_xcom()
        return summary


#: A Kling task of any endpoint: the same model reads image and video tasks.
KlingTask = ImageTask


class Envelope(_Tolerant):
    """Kling's ``{code, message, request_id, data}`` wrapper; ``code`` 0 (or absent) means success."""

    code: int | None = 0
    message: str | None = None
    request_id: str | None = None
    data: Any = None


def parse_answer(status: int, headers: Mapping[str, str], content: bytes, task_id: str | None = None) -> Any:
    """
    One HTTP answer (from any transport) to Kling's ``data``, or the matching :class:`KlingError`.

    Sans-I/O: the hook's requests and httpx paths both hand their status, headers and body here.
    """
    try:
        body = json.loads(content) if content else None
    except ValueError:
        if status < 400:
            raise KlingResponseError(
                f"Kling answered HTTP {status} with a body that is not JSON",
                http_status=status,
                task_id=task_id,
            ) from None
        body = None
    if status >= 400:
        raise error_from_response(
            status, body if isinstance(body, dict) else None, headers=headers, task_id=task_id
        )
    if not isinstance(body, dict):
        raise KlingResponseError(
            f"Kling answered HTTP {status} without a JSON object", http_status=status, task_id=task_id
        )
    try:
        envelope = Envelope.model_validate(body)
    except ValidationError:
        raise KlingResponseError(
            f"Kling answered HTTP {status} with an unreadable envelope", http_status=status, task_id=task_id
        ) from None
    if envelope.code not in (None, 0):
        raise error_from_response(status, body, headers=headers, task_id=task_id)
    return envelope.data


def task_from_data(data: Any, what: str, task_id: str | None = None) -> ImageTask:
    """Read one task from Kling's ``data`` (a ``/v1/`` task or a new-style record); an answer this
    provider cannot read is a KlingResponseError."""
    if not isinstance(data, dict):
        raise KlingResponseError(f"Kling answered without a task for {what}", task_id=task_id)
    if "task_id" not in data and "id" in data:
        # A new-style record (``id``, ``status``, ``outputs[]``, ``billing[]``): read in /v1/ terms.
        from airflow_provider_kling.models.new_style import legacy_fields

        data = legacy_fields(data)
    try:
        return ImageTask.model_validate(data)
    except ValidationError as exc:
        problems = answer_problems(exc, "task")
        raise KlingResponseError(
            f"Kling answered with a task this provider cannot read for {what}: {problems}", task_id=task_id
        ) from None


def answer_problems(exc: ValidationError, root: str) -> str:
    """What in an answer could not be read: ``field.path: rule`` per problem (``root`` for the whole)."""
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or root}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )
