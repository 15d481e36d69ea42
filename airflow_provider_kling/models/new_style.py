"""
Kling's new-style API (from 2026-07-15): video creates that name the model in the path, and the
task records every new-style answer carries. No Airflow and no HTTP here.

Creates: ``POST /text-to-video/{model}``, ``POST /image-to-video/{model}`` and
``POST /omni-video/{model}`` with a body ``{prompt | contents[], settings{}, options{}}``. The
rules per model are one row each in :data:`NEW_STYLE_MODELS`; a request is checked against its
row before any HTTP call. These paths take an API key only: an access-key JWT gets 401/1002
(:func:`is_new_style_path` lets the hook refuse it before sending).

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

import base64
import binascii
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_kling.models.requests.base import KlingTaskRequest, WatermarkInfo

TEXT_TO_VIDEO_PATH = "/text-to-video"
IMAGE_TO_VIDEO_PATH = "/image-to-video"
OMNI_VIDEO_PATH = "/omni-video"
#: Paths of new-style creates (``{path}/{model}``) and of the many-task query, none under ``/v1``.
NEW_STYLE_PATHS: tuple[str, ...] = (
    TEXT_TO_VIDEO_PATH,
    IMAGE_TO_VIDEO_PATH,
    OMNI_VIDEO_PATH,
    "/motion-control",
)
#: The new-style task query (``models.task_query``).
TASKS_PATH = "/tasks"

#: Images on new-style paths: a URL or base64 of at most 50 MB. Videos: a URL only.
MAX_NEW_STYLE_IMAGE_BYTES = 50 * 1024 * 1024
PROMPT_LIMIT = 2500
LONG_PROMPT_LIMIT = 3072
AUDIO_MODES = ("native", "original", "off")
RESOLUTIONS = ("720p", "1080p", "4k")


@dataclass(frozen=True)
class NewStyleModel:
    """What one new-style video model accepts (Kling's 2026 model table)."""

    name: str
    #: the create paths that take it
    paths: tuple[str, ...]
    resolutions: tuple[str, ...]
    #: accepted ``settings.duration`` values, in seconds
    durations: tuple[int, ...]
    #: accepted ``settings.audio`` values; empty: the model has no ``audio`` setting
    audio: tuple[str, ...]
    #: ``settings.multi_shot`` is accepted
    multi_shot: bool = False
    #: longest prompt, and the longest on text-to-video when that differs
    prompt_limit: int = PROMPT_LIMIT
    text_prompt_limit: int | None = None
    #: image-to-video takes a last frame as well as the first
    last_frame: bool = False
    #: at most this many elements on image-to-video
    max_elements: int = 0
    #: at most this many voices on image-to-video
    max_voices: int = 0
    #: what forces 1080p: ``audio`` (audio on), ``last_frame`` (first and last frame)
    full_hd_only_with: tuple[str, ...] = ()
    notes: str = ""


_T2V_I2V = (TEXT_TO_VIDEO_PATH, IMAGE_TO_VIDEO_PATH)
_HD = ("720p", "1080p")

NEW_STYLE_MODELS: Mapping[str, NewStyleModel] = {
    row.name: row
    for row in (
        NewStyleModel(
            "kling-3.0-turbo",
            _T2V_I2V,
            _HD,
            tuple(range(3, 16)),
            audio=(),
            text_prompt_limit=LONG_PROMPT_LIMIT,
            notes="new-style only; audio is always on (no setting); image to video: first frame only",
        ),
        NewStyleModel(
            "kling-3.0",
            _T2V_I2V,
            RESOLUTIONS,
            tuple(range(3, 16)),
            audio=("native", "off"),
            multi_shot=True,
            prompt_limit=LONG_PROMPT_LIMIT,
            last_frame=True,
            max_elements=3,
            notes="the new-style name of kling-v3 (inferred)",
        ),
        NewStyleModel(
            "kling-2.6",
            _T2V_I2V,
            _HD,
            (5, 10),
            audio=("native", "off"),
            last_frame=True,
            max_voices=2,
            full_hd_only_with=("audio", "last_frame"),
        ),
        NewStyleModel(
            "kling-2.5-turbo",
            _T2V_I2V,
            _HD,
            (5, 10),
            audio=(),
            last_frame=True,
            full_hd_only_with=("last_frame",),
        ),
        NewStyleModel(
            "kling-3.0-omni",
            (OMNI_VIDEO_PATH,),
            RESOLUTIONS,
            tuple(range(3, 16)),
            audio=("native", "original", "off"),
            multi_shot=True,
            prompt_limit=LONG_PROMPT_LIMIT,
            notes="a feature video turns audio off; a base video allows no native audio and no frames",
        ),
        NewStyleModel(
            "kling-o1",
            (OMNI_VIDEO_PATH,),
            _HD,
            tuple(range(3, 11)),
            audio=("original", "off"),
        ),
    )
}


def models_for(path: str) -> tuple[str, ...]:
    """The new-style models a create path takes, in the table's order."""
    return tuple(name for name, row in NEW_STYLE_MODELS.items() if path in row.paths)


def is_new_style_path(path: str) -> bool:
    """Whether ``path`` (a create path with its model, or ``/tasks``) belongs to the new-style API."""
    first = "/" + path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return first in NEW_STYLE_PATHS or first == TASKS_PATH


def check_new_style_image(value: str | None) -> str | None:
    """An image on a new-style path: an http(s) URL, or bare base64 of at most 50 MB."""
    if value is None or value.startswith(("http://", "https://")):
        return value
    if value[:5].lower() == "data:":
        raise ValueError("must be an http(s) URL or bare base64 (without a 'data:' prefix)")
    if len(value) > MAX_NEW_STYLE_IMAGE_BYTES * 4 // 3 + 4:
        raise ValueError(f"must be at most {MAX_NEW_STYLE_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be an http(s) URL or base64 image data") from None
    return value


def check_video_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL (new-style paths take videos by URL only)")
    return value


class NewStyleVideoRequest(KlingTaskRequest):
    """
    The base of the new-style video creates: the model goes in the path, the rest in
    ``{prompt | contents[], settings{}, options{}}``. Field names are flat, as in the ``/v1/`` kinds.
    """

    #: ``new``: sent to :attr:`create_path`, answered with new-style task records.
    api_style: ClassVar[str] = "new"
    #: A video task, holding one slot at any length, as the ``/v1/videos`` kinds.
    output: ClassVar[str] = "video"
    task_slots: ClassVar[int] = 1
    blank_text_fields: ClassVar[tuple[str, ...]] = ("resolution", "audio", "last_frame")

    model_name: str
    resolution: Literal["720p", "1080p", "4k"] | None = None
    duration: int | None = None
    audio: Literal["native", "original", "off"] | None = None
    multi_shot: bool | None = None
    watermark_info: WatermarkInfo | None = None

    @property
    def create_path(self) -> str:
        """Where the create is POSTed: ``{path}/{model_name}``."""
        return f"{self.path}/{self.model_name}"

    @property
    def model(self) -> NewStyleModel:
        return NEW_STYLE_MODELS[self.model_name]

    def _prompt_limit(self) -> int:
        return self.model.prompt_limit

    def _settings(self) -> dict[str, Any]:
        fields = ("resolution", "duration", "aspect_ratio", "audio", "multi_shot")
        return {name: getattr(self, name) for name in fields if getattr(self, name, None) is not None}

    def _contents(self) -> list[dict[str, Any]]:
        return []

    def to_json(self) -> dict[str, Any]:
        """The body Kling expects; unset settings and options are left out."""
        body: dict[str, Any] = {}
        contents = self._contents()
        if contents:
            body["contents"] = contents
        settings = self._settings()
        if settings:
            body["settings"] = settings
        options = {
            "callback_url": self.callback_url,
            "external_task_id": self.external_task_id,
            "watermark_info": self.watermark_info.model_dump() if self.watermark_info else None,
        }
        options = {key: value for key, value in options.items() if value is not None}
        if options:
            body["options"] = options
        return body

    def _rule_problems(self) -> list[str]:
        """Each rule of the model's row the request breaks, field first."""
        model = self.model
        problems = []
        prompt = getattr(self, "prompt", None)
        if prompt is not None and len(prompt) > self._prompt_limit():
            problems.append(
                f"prompt: {model.name} takes at most {self._prompt_limit()} characters (got {len(prompt)})"
            )
        if self.resolution is not None and self.resolution not in model.resolutions:
            problems.append(
                f"resolution: {model.name} supports {', '.join(model.resolutions)} (got {self.resolution!r})"
            )
        if self.duration is not None and self.duration not in model.durations:
            allowed = (
                f"{model.durations[0]}-{model.durations[-1]} s"
                if len(model.durations) > 2
                else " or ".join(f"{d} s" for d in model.durations)
            )
            problems.append(f"duration: {model.name} makes {allowed} (got {self.duration!r})")
        if self.audio is not None and self.audio not in model.audio:
            allowed = ", ".join(model.audio) if model.audio else "no audio setting"
            problems.append(f"audio: {model.name} takes {allowed} (got {self.audio!r})")
        if self.multi_shot is not None and not model.multi_shot:
            shots = ", ".join(name for name, row in NEW_STYLE_MODELS.items() if row.multi_shot)
            problems.append(f"multi_shot: {model.name} takes no multi_shot setting; models that do: {shots}")
        if self.resolution not in (None, "1080p"):
            if "audio" in model.full_hd_only_with and self.audio == "native":
                problems.append(
                    f"resolution: {model.name} with audio makes 1080p only (got {self.resolution!r})"
                )
            if "last_frame" in model.full_hd_only_with and getattr(self, "last_frame", None):
                problems.append(
                    f"resolution: {model.name} with a first and a last frame makes 1080p only "
                    f"(got {self.resolution!r})"
                )
        return problems

    @model_validator(mode="after")
    def _model_rules(self) -> NewStyleVideoRequest:
        problems = self._rule_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def summary(self) -> dict[str, Any]:
        return {
            "request_kind": self.kind,
            "model_name": self.model_name,
            "prompt": getattr(self, "prompt", None),
        }


class NewStyleTextToVideoRequest(NewStyleVideoRequest):
    """``POST /text-to-video/{model}``: a video from a prompt (a top-level ``prompt`` string)."""

    kind: ClassVar[str] = "new-text-to-video"
    path: ClassVar[str] = TEXT_TO_VIDEO_PATH
    known_models: ClassVar[Collection[str]] = models_for(TEXT_TO_VIDEO_PATH)

    prompt: str = Field(min_length=1)
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None

    def _prompt_limit(self) -> int:
        return self.model.text_prompt_limit or self.model.prompt_limit

    def to_json(self) -> dict[str, Any]:
        return {"prompt": self.prompt, **super().to_json()}


def _prompt_entry(prompt: str | None) -> list[dict[str, Any]]:
    return [{"type": "prompt", "text": prompt}] if prompt else []


def _element_entries(element_ids: list[int] | None) -> list[dict[str, Any]]:
    # ``id`` names the element in the prompt; Kling's pages show it but not its form (UNCONFIRMED).
    return [
        {"type": "element", "element_id": element_id, "id": f"element_{n}"}
        for n, element_id in enumerate(element_ids or (), start=1)
    ]


class NewStyleImageToVideoRequest(NewStyleVideoRequest):
    """``POST /image-to-video/{model}``: a video from a first frame (and a last frame, elements, voices)."""

    kind: ClassVar[str] = "new-image-to-video"
    path: ClassVar[str] = IMAGE_TO_VIDEO_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("first_frame", "last_frame")
    known_models: ClassVar[Collection[str]] = models_for(IMAGE_TO_VIDEO_PATH)
    blank_text_fields: ClassVar[tuple[str, ...]] = (*NewStyleVideoRequest.blank_text_fields, "prompt")
    blank_list_fields: ClassVar[tuple[str, ...]] = ("element_ids", "voice_ids")

    prompt: str | None = None
    first_frame: str
    last_frame: str | None = None
    element_ids: list[int] | None = None
    voice_ids: list[str] | None = None

    _images = field_validator("first_frame", "last_frame")(
        classmethod(lambda cls, value: check_new_style_image(value))
    )

    def _rule_problems(self) -> list[str]:
        model, problems = self.model, super()._rule_problems()
        if self.last_frame is not None and not model.last_frame:
            problems.append(f"last_frame: {model.name} takes a first frame only")
        if self.element_ids and len(self.element_ids) > model.max_elements:
            problems.append(
                f"element_ids: {model.name} takes at most {model.max_elements} elements "
                f"(got {len(self.element_ids)})"
            )
        if self.voice_ids and len(self.voice_ids) > model.max_voices:
            problems.append(
                f"voice_ids: {model.name} takes at most {model.max_voices} voices (got {len(self.voice_ids)})"
            )
        return problems

    def _contents(self) -> list[dict[str, Any]]:
        contents = _prompt_entry(self.prompt)
        contents.append({"type": "first_frame", "url": self.first_frame})
        if self.last_frame:
            contents.append({"type": "last_frame", "url": self.last_frame})
        contents += _element_entries(self.element_ids)
        contents += [
            {"type": "voice", "voice_id": voice_id, "id": f"voice_{n}"}
            for n, voice_id in enumerate(self.voice_ids or (), start=1)
        ]
        return contents


class NewStyleOmniVideoRequest(NewStyleVideoRequest):
    """``POST /omni-video/{model}``: a video from a prompt, reference images, frames, a video, elements."""

    kind: ClassVar[str] = "new-omni-video"
    path: ClassVar[str] = OMNI_VIDEO_PATH
    image_fields: ClassVar[tuple[str, ...]] = ("first_frame", "last_frame")
    known_models: ClassVar[Collection[str]] = models_for(OMNI_VIDEO_PATH)
    blank_text_fields: ClassVar[tuple[str, ...]] = (
        *NewStyleVideoRequest.blank_text_fields,
        "first_frame",
        "feature_video",
        "base_video",
    )
    blank_list_fields: ClassVar[tuple[str, ...]] = ("reference_images", "element_ids")

    prompt: str = Field(min_length=1)
    reference_images: list[str] | None = None
    first_frame: str | None = None
    last_frame: str | None = None
    feature_video: str | None = None
    base_video: str | None = None
    element_ids: list[int] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None

    _images = field_validator("first_frame", "last_frame")(
        classmethod(lambda cls, value: check_new_style_image(value))
    )
    _videos = field_validator("feature_video", "base_video")(
        classmethod(lambda cls, value: check_video_url(value))
    )

    @field_validator("reference_images")
    @classmethod
    def _reference_images(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [check_new_style_image(image) or "" for image in value]

    def _rule_problems(self) -> list[str]:
        problems = super()._rule_problems()
        if self.feature_video and self.base_video:
            problems.append("base_video: one video at most (got a feature_video as well)")
        if self.feature_video and self.audio not in (None, "off"):
            problems.append(f"audio: a feature_video turns audio off (got {self.audio!r})")
        if self.base_video:
            if self.audio == "native":
                problems.append("audio: a base_video allows no native audio (use 'original' or 'off')")
            if self.first_frame or self.last_frame:
                problems.append("first_frame: a base_video takes no first or last frame")
        if self.last_frame and not self.first_frame:
            problems.append("last_frame: needs a first_frame")
        return problems

    def _contents(self) -> list[dict[str, Any]]:
        contents = _prompt_entry(self.prompt)
        for kind in ("first_frame", "last_frame"):
            if getattr(self, kind):
                contents.append({"type": kind, "url": getattr(self, kind)})
        contents += [
            {"type": "refer_image", "url": image, "id": f"image_{n}"}
            for n, image in enumerate(self.reference_images or (), start=1)
        ]
        for kind in ("feature_video", "base_video"):
            if getattr(self, kind):
                contents.append({"type": kind, "url": getattr(self, kind), "id": "video_1"})
        contents += _element_entries(self.element_ids)
        return contents


#: Every new-style request kind by its short name.
NEW_STYLE_KINDS: Mapping[str, type[NewStyleVideoRequest]] = {
    cls.kind: cls
    for cls in (NewStyleTextToVideoRequest, NewStyleImageToVideoRequest, NewStyleOmniVideoRequest)
}


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
