"""Typed Kling image-generation requests and responses.

No Airflow and no HTTP here: this module decides what a valid request is and how Kling's
answers are read, for the hook (sync and async), the operator and the simulator alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_provider_kling.errors import KlingRequestValidationError, KlingResponseError, error_from_response

#: Image models the reseller and Kling document today. Extend here when Kling adds one.
IMAGE_MODELS: tuple[str, ...] = (
    "kling-v1",
    "kling-v1-5",
    "kling-v2",
    "kling-v2-new",
    "kling-v2-1",
    "kling-v3",
)
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
MAX_PROMPT_LENGTH = 2500
MAX_IMAGES = 9

_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)
_OPTIONAL_TEXT_FIELDS = (
    "negative_prompt",
    "image",
    "image_reference",
    "resolution",
    "aspect_ratio",
    "callback_url",
    "external_task_id",
)


class ImageGenerationRequest(BaseModel):
    """The body of ``POST /v1/images/generations``, with every rule Kling documents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_LENGTH)
    n: int = Field(ge=1, le=MAX_IMAGES)
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    image: str | None = None
    image_reference: Literal["subject", "face"] | None = None
    image_fidelity: float | None = Field(default=None, ge=0, le=1)
    human_fidelity: float | None = Field(default=None, ge=0, le=1)
    resolution: Literal["1k", "2k"] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"] | None = None
    callback_url: str | None = None
    external_task_id: str | None = Field(default=None, max_length=256)

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, values: Any) -> Any:
        # Templated fields often render to "", and the reseller's own example sends "" for
        # unused fields: treat blank optional text as absent, so it is never sent as "".
        if isinstance(values, dict):
            return {
                key: (
                    None if key in _OPTIONAL_TEXT_FIELDS and isinstance(val, str) and not val.strip() else val
                )
                for key, val in values.items()
            }
        return values

    @field_validator("model_name")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in IMAGE_MODELS:
            raise ValueError(f"must be one of {', '.join(IMAGE_MODELS)}")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("image")
    @classmethod
    def _image_is_url_or_base64(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(("http://", "https://")):
            return value
        if value[:5].lower() == "data:":
            # Kling wants bare base64: strip a data-URI prefix, refuse any other data: form.
            prefix = _DATA_URI.match(value)
            if prefix is None:
                raise ValueError("a data: URI must be of the form data:<mime>;base64,<data>")
            value = value[prefix.end() :]
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be an http(s) URL or base64-encoded image data") from None
        return value

    @field_validator("callback_url")
    @classmethod
    def _callback_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("external_task_id")
    @classmethod
    def _external_id_is_printable(cls, value: str | None) -> str | None:
        if value is not None and (any(ch.isspace() or not ch.isprintable() for ch in value) or "/" in value):
            raise ValueError("must not contain whitespace, control characters or '/'")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ImageGenerationRequest:
        if self.model_name == "kling-v1-5" and self.image and not self.image_reference:
            raise ValueError(
                "image_reference is required ('subject' or 'face') when kling-v1-5 gets an image"
            )
        if self.human_fidelity is not None and self.image_reference != "subject":
            raise ValueError("human_fidelity is only allowed with image_reference='subject'")
        if self.negative_prompt and self.image:
            raise ValueError("negative_prompt is not allowed together with image (Kling rejects it)")
        return self

    @classmethod
    def build(cls, **fields: Any) -> ImageGenerationRequest:
        """Validate ``fields``; raise :class:`KlingRequestValidationError` naming each bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise KlingRequestValidationError(describe_validation_error(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """The JSON body Kling expects: unset optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: the field, the rule, and (shortened) the value that broke it."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "request"
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        if field == "request" or isinstance(value, dict):
            problems.append(f"{field}: {message}")
            continue
        shown = repr(value)
        if len(shown) > 60:
            shown = f"{shown[:40]}... ({len(value) if isinstance(value, str) else len(shown)} characters)"
        problems.append(f"{field}: {message} (got {shown})")
    return "Invalid Kling image request: " + "; ".join(problems)


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


class TaskInfo(_Tolerant):
    external_task_id: str | None = None


class TaskResult(_Tolerant):
    images: list[KlingImage] = Field(default_factory=list)

    @field_validator("images", mode="after")
    @classmethod
    def _number_images(cls, images: list[KlingImage]) -> list[KlingImage]:
        # Some resellers omit index: fall back to the position in the list.
        return [
            img if img.index is not None else img.model_copy(update={"index": pos})
            for pos, img in enumerate(images)
        ]


class ImageTask(_Tolerant):
    """A Kling image task as returned by create, query and list."""

    task_id: str
    task_status: TaskStatus
    task_status_msg: str | None = None
    task_info: TaskInfo = Field(default_factory=TaskInfo)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    final_unit_deduction: str | None = None
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

    @property
    def external_task_id(self) -> str | None:
        return self.task_info.external_task_id

    @property
    def images(self) -> list[KlingImage]:
        return self.task_result.images

    def to_xcom(self) -> dict[str, Any]:
        """The JSON-serialisable summary pushed to XCom (``path`` is added once an image is stored)."""
        return {
            "task_id": self.task_id,
            "task_status": self.task_status.value,
            "task_status_msg": self.task_status_msg or None,
            "external_task_id": self.external_task_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "images": [{"index": image.index, "url": image.url} for image in self.images],
        }


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
    """Read one task from Kling's ``data``; an answer this provider cannot read is a KlingResponseError."""
    if not isinstance(data, dict):
        raise KlingResponseError(f"Kling answered without a task for {what}", task_id=task_id)
    try:
        return ImageTask.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'task'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise KlingResponseError(
            f"Kling answered with a task this provider cannot read for {what}: {problems}", task_id=task_id
        ) from None
