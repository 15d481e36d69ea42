"""Kling's tasks read into one typed :class:`KlingTask` (sans-I/O): one decoder per API style
(:data:`DECODERS`); :func:`record_style` is the only place that tells the two shapes apart."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_provider_kling.errors import KlingResponseError
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import REQUEST_KINDS
from airflow_provider_kling.models.times import from_millis


class TaskStatus(StrEnum):
    """Kling's task states; ``succeed`` is the ``/v1`` spelling, and the model-path style's
    ``succeeded`` reads as the same member (``TaskStatus("succeeded") is TaskStatus.SUCCEED``)."""

    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEED = "succeed"
    FAILED = "failed"

    @classmethod
    def _missing_(cls, value: object) -> TaskStatus | None:
        return cls.SUCCEED if value == "succeeded" else None

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.SUCCEED, TaskStatus.FAILED)


#: The result readers of the kinds whose results have their own shape.
_READERS = tuple(cls.read_result for cls in REQUEST_KINDS.values() if "read_result" in vars(cls))


class _Tolerant(BaseModel):
    # Resellers add fields and leave others out: keep what they send, require little.
    # Some send numbers where Kling sends strings (an image ``id``, ``final_unit_deduction``).
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class _Output(_Tolerant):
    """One result file: its ``url``, and the watermarked copy when the request asked for one."""

    url: str | None = None
    id: str | None = None
    watermark_url: str | None = None
    #: the keys of its XCom summary (``watermark_url`` is added when there is one)
    _xcom_keys: ClassVar[tuple[str, ...]] = ()

    def to_xcom(self) -> dict[str, Any]:
        summary = {key: getattr(self, key) for key in self._xcom_keys}
        return {**summary, "watermark_url": self.watermark_url} if self.watermark_url else summary


class KlingImage(_Output):
    index: int | None = None
    _xcom_keys = ("index", "url")


class KlingVideo(_Output):
    """One result video: ``id`` (what video-extend takes), ``url``, ``duration`` in seconds (a string)."""

    duration: str | None = None
    _xcom_keys = ("id", "url", "duration")


class KlingAudio(_Tolerant):
    """One result audio file (text-to-audio, video-to-audio): Kling sends an MP3 and a WAV of it
    (``/v1``: ``url_mp3``/``url_wav``; the model-path style names them ``mp3_url``/``wav_url``).
    ``url`` is the MP3 (the file stored), ``wav_url`` the WAV."""

    id: str | None = None
    #: the MP3 (``url_mp3``; ``mp3_url`` in the model-path style), else the WAV
    url: str | None = Field(default=None, validation_alias=AliasChoices("url_mp3", "mp3_url", "url"))
    wav_url: str | None = Field(default=None, validation_alias=AliasChoices("url_wav", "wav_url"))
    duration: str | None = Field(
        default=None, validation_alias=AliasChoices("duration_mp3", "mp3_duration", "duration")
    )

    def to_xcom(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url or self.wav_url,
            "wav_url": self.wav_url,
            "duration": self.duration,
        }


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
    #: the audio endpoints' results (``/v1/audio/*``)
    audios: list[KlingAudio] = Field(default_factory=list)

    @field_validator("images", "series_images", "videos", "audios", mode="before")
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


class KlingTask(_Tolerant):
    """A Kling task (image or video) as returned by create, query and list."""

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

    _times = field_validator("created_at", "updated_at", mode="before")(from_millis)

    @field_validator("task_info", "task_result", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("task_result", mode="before")
    @classmethod
    def _kinds_own_shapes(cls, value: Any) -> Any:
        # A kind whose result has its own shape reads it (its request class's ``read_result``).
        for read in _READERS if isinstance(value, dict) else ():
            value = read(value)
        return value

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
    def audios(self) -> list[KlingAudio]:
        """The task's audio files (``task_result.audios``; empty for an image or video task)."""
        return self.task_result.audios

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
            **(
                {"audios": [audio.to_xcom() for audio in self.task_result.audios]}
                if self.task_result.audios
                else {}
            ),
        }
        if self.parent_video is not None:
            summary["parent_video"] = self.parent_video.to_xcom()
        return summary


def record_style(data: Mapping[str, Any]) -> ApiStyle:
    """Which style's shape a task body has: ``task_id`` (``/v1``) or ``id`` (a model-path record)."""
    return ApiStyle.MODEL_PATH if "task_id" not in data and "id" in data else ApiStyle.V1


def record_ids(data: Mapping[str, Any]) -> tuple[str, str | None]:
    """A task body's Kling task id and external task id, without reading the rest of it."""
    if record_style(data) is ApiStyle.MODEL_PATH:
        return str(data.get("id")), data.get("external_id") or None
    info = data.get("task_info")
    return str(data.get("task_id")), (
        info.get("external_task_id") if isinstance(info, dict) else None
    ) or None


def task_from_v1(data: Any, what: str, task_id: str | None = None) -> KlingTask:
    """A ``/v1`` task object (create, query, list) as a task; unreadable: KlingResponseError."""
    if not isinstance(data, dict):
        raise KlingResponseError(f"Kling answered without a task for {what}", task_id=task_id)
    try:
        return KlingTask.model_validate(data)
    except ValidationError as exc:
        problems = answer_problems(exc, "task")
        raise KlingResponseError(
            f"Kling answered with a task this provider cannot read for {what}: {problems}", task_id=task_id
        ) from None


def task_from_record(data: Any, what: str, task_id: str | None = None) -> KlingTask:
    """A model-path task record (``id``, ``status``, ``outputs[]``, ``billing[]``) as a task: the
    same fields a ``/v1`` task has, so XCom and spend see one shape whichever style made it."""
    if not isinstance(data, dict):
        raise KlingResponseError(f"Kling answered without a task for {what}", task_id=task_id)
    units, balance = _billing(data.get("billing"))
    external_id = data.get("external_id")
    fields: dict[str, Any] = {
        "task_id": data.get("id"),
        "task_status": data.get("status"),
        "task_status_msg": data.get("message") or None,
        "task_info": {"external_task_id": external_id} if external_id else {},
        "created_at": data.get("create_time"),
        "updated_at": data.get("update_time"),
        "task_result": {
            "images": [{"index": n, **image} for n, image in enumerate(_outputs(data, "image"))],
            "videos": _outputs(data, "video"),
        },
        "final_unit_deduction": units,
        "final_balance_deduction": balance,
    }
    return task_from_v1({key: value for key, value in fields.items() if value is not None}, what, task_id)


#: Each style's decoder of its task bodies.
DECODERS: Mapping[ApiStyle, Callable[[Any, str, str | None], KlingTask]] = {
    ApiStyle.V1: task_from_v1,
    ApiStyle.MODEL_PATH: task_from_record,
}


def task_from_data(data: Any, what: str, task_id: str | None = None) -> KlingTask:
    """A task body of either style (a callback, a many-task answer): read by its shape."""
    style = record_style(data) if isinstance(data, dict) else ApiStyle.V1
    return DECODERS[style](data, what, task_id)


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


def _billing(billing: Any) -> tuple[str | None, dict[str, Any] | None]:
    """``billing[]`` as (units, cash): the units as a decimal string, the cash as a balance deduction."""
    units: Decimal | None = None
    cash: Decimal | None = None
    currency = None
    for charge in billing if isinstance(billing, list) else ():
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
    return (format(units.normalize(), "f") if units is not None else None), balance


def answer_problems(exc: ValidationError, root: str) -> str:
    """What in an answer could not be read: ``field.path: rule`` per problem (``root`` for the whole)."""
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or root}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )
