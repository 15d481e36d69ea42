"""
Kling's new-style API (from 2026-07-15): video creates that name the model in the path
(:attr:`ApiStyle.MODEL_PATH <airflow_provider_kling.models.api_style.ApiStyle.MODEL_PATH>`).
No Airflow and no HTTP here.

Creates: ``POST /text-to-video/{model}``, ``POST /image-to-video/{model}`` and
``POST /omni-video/{model}`` with a body ``{prompt | contents[], settings{}, options{}}``. The
rules per model are one row each in :data:`NEW_STYLE_MODELS`; a request is checked against its
row before any HTTP call. The hook's wire format of this style (``hooks.wire``) owns the create
path, the queries, the decoding of its task records and its credential rule (an API key only).

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
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest, WatermarkInfo

TEXT_TO_VIDEO_PATH = "/text-to-video"
IMAGE_TO_VIDEO_PATH = "/image-to-video"
OMNI_VIDEO_PATH = "/omni-video"

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

    #: Created at ``{path}/{model_name}``, answered with model-path task records.
    api_style: ClassVar[ApiStyle] = ApiStyle.MODEL_PATH
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
