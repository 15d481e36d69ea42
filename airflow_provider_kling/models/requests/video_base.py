"""What every Kling video request kind shares: camera control, elements, and the per-model rules.

A video request is a :class:`~.base.KlingTaskRequest` like the image kinds: it names its path,
its image fields and its rules. What a model accepts (modes, durations, ``cfg_scale``, ``sound``,
the last frame, multi-shot) is read from :data:`~airflow_provider_kling.models.video_capabilities.
VIDEO_MODEL_CAPABILITIES` by :func:`video_model_problems`, the one place those rules are applied.
A video task holds one of the account's slots at any length (:attr:`KlingVideoRequest.task_slots`),
and what its units depend on is given as plain attributes (:attr:`KlingVideoRequest.units_basis`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from airflow_provider_kling.models.requests.base import KlingTaskRequest
from airflow_provider_kling.models.video_capabilities import (
    CAMERA_CONFIG_AXES,
    CAMERA_CONFIG_RANGE,
    MAX_SHOT_PROMPT_LENGTH,
    MAX_SHOTS,
    UNCONFIRMED_FIELDS,
    VIDEO_MODEL_CAPABILITIES,
    VideoModelCapability,
    describe_durations,
    models_for,
    models_with,
)

_AXIS = Field(default=0.0, ge=-CAMERA_CONFIG_RANGE, le=CAMERA_CONFIG_RANGE)
_CITATION = re.compile(r"<<<(\w+?)_(\d+)>>>")


class CameraConfig(BaseModel):
    """``camera_control.config``: exactly one of the six movements is non-zero, each in [-10, 10]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizontal: float = _AXIS
    vertical: float = _AXIS
    pan: float = _AXIS
    tilt: float = _AXIS
    roll: float = _AXIS
    zoom: float = _AXIS

    @model_validator(mode="after")
    def _exactly_one_movement(self) -> CameraConfig:
        moving = {axis: getattr(self, axis) for axis in CAMERA_CONFIG_AXES if getattr(self, axis)}
        if len(moving) != 1:
            shown = ", ".join(f"{axis}={value:g}" for axis, value in moving.items()) or "all zero"
            raise ValueError(f"exactly one of {', '.join(CAMERA_CONFIG_AXES)} must be non-zero (got {shown})")
        return self


class CameraControl(BaseModel):
    """``camera_control``: a preset ``type``, or ``simple`` with one movement in ``config``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
    config: CameraConfig | None = None

    @model_validator(mode="after")
    def _config_only_for_simple(self) -> CameraControl:
        if self.type == "simple" and self.config is None:
            raise ValueError("type 'simple' needs a config with one non-zero movement")
        if self.type != "simple" and self.config is not None:
            raise ValueError(f"type {self.type!r} is a preset and takes no config (only 'simple' does)")
        return self


class VideoElement(BaseModel):
    """One ``element_list`` item: an element of Kling's element library, by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    element_id: Annotated[StrictInt, Field(gt=0)]


class Shot(BaseModel):
    """One ``multi_prompt`` item of a kling-v3 multi-shot request (UNCONFIRMED shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Annotated[StrictInt, Field(ge=1, le=MAX_SHOTS)]
    prompt: str = Field(min_length=1, max_length=MAX_SHOT_PROMPT_LENGTH)
    duration: str

    @field_validator("duration", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        return seconds_as_text(value)


def plain_items(key: str) -> Any:
    """A before-validator for a list of ``{key: value}`` objects that also takes bare values:
    ``["<url>", ...]`` reads better in a DAG than ``[{"image": "<url>"}, ...]``."""

    def wrap(cls: type, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{key: item} if isinstance(item, str) else item for item in value]
        return value

    return classmethod(wrap)


def words_from_bool(yes: str, no: str) -> Any:
    """A before-validator that takes ``True``/``False`` for Kling's two words (``on``/``off`` ...)."""

    def wrap(cls: type, value: Any) -> Any:
        return (yes if value else no) if isinstance(value, bool) else value

    return classmethod(wrap)


def seconds_as_text(value: Any) -> Any:
    """Kling sends and takes durations as strings (``"5"``): an int or a digit string becomes one."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number of seconds, like 5 or '5'")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value.strip()))
    if value is None:
        return value
    raise ValueError("must be a whole number of seconds, like 5 or '5'")


def cited(prompt: str | None, what: str) -> set[int]:
    """The numbers ``N`` the prompt cites as ``<<<what_N>>>`` (what: image, element, video, voice)."""
    return {int(number) for name, number in _CITATION.findall(prompt or "") if name == what}


def citation_problems(prompt: str | None, what: str, given: int, field: str) -> list[str]:
    """A prompt citing ``<<<what_N>>>`` beyond the ``given`` items of ``field``."""
    beyond = sorted(number for number in cited(prompt, what) if not 1 <= number <= given)
    if not beyond:
        return []
    names = ", ".join(f"<<<{what}_{number}>>>" for number in beyond)
    return [f"prompt: cites {names} but {field} has {given} item(s)"]


class KlingVideoRequest(KlingTaskRequest):
    """The base of the video request kinds: a video task, one slot, units from model/mode/duration/sound."""

    #: What the task makes: storage and the operators read this (image kinds make images).
    output: ClassVar[str] = "video"
    #: Slots a video task holds from ``submitted`` to its end, at any length (Kling's concurrency page).
    task_slots: ClassVar[int] = 1
    #: Kling's ``duration`` when the request leaves it out (seconds); None: the kind has none.
    default_duration: ClassVar[int | None] = 5
    #: Kling's ``mode`` when the request leaves it out.
    default_mode: ClassVar[str] = "std"

    @field_validator("model_name", check_fields=False)
    @classmethod
    def _known_model(cls, value: str) -> str:
        # Replaces the base's check: a discontinued model gets its own message.
        row = VIDEO_MODEL_CAPABILITIES.get(value)
        if row is not None and row.serves(cls.kind) and row.discontinued:
            live = ", ".join(m for m in models_for(cls.kind) if not VIDEO_MODEL_CAPABILITIES[m].discontinued)
            raise ValueError(
                f"Kling discontinued {value} (it answers 'has been discontinued'); use one of {live}"
            )
        if row is None or not row.serves(cls.kind):
            raise ValueError(f"must be one of {', '.join(models_for(cls.kind))}")
        return value

    @field_validator("duration", mode="before", check_fields=False)
    @classmethod
    def _duration_as_text(cls, value: Any) -> Any:
        return seconds_as_text(value)

    _sound_from_bool = field_validator("sound", mode="before", check_fields=False)(
        words_from_bool("on", "off")
    )

    @model_validator(mode="after")
    def _video_model_rules(self) -> KlingVideoRequest:
        model_name = getattr(self, "model_name", None)
        problems = self.kind_problems()
        if model_name is not None:
            problems = video_model_problems(self, VIDEO_MODEL_CAPABILITIES[model_name]) + problems
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def kind_problems(self) -> list[str]:
        """Rules across this kind's own fields (subclasses add theirs), each starting with its field."""
        return []

    @property
    def effective_mode(self) -> str | None:
        """The mode Kling runs: the one asked for, else Kling's default (None: the model has no mode)."""
        mode = getattr(self, "mode", None)
        if mode is not None:
            return str(mode)
        model_name = getattr(self, "model_name", None)
        row = VIDEO_MODEL_CAPABILITIES.get(model_name) if model_name else None
        return self.default_mode if row is None or row.modes else None

    @property
    def duration_seconds(self) -> int | None:
        """The video's length in seconds as asked (Kling's default when unset; None: Kling decides)."""
        duration = getattr(self, "duration", None)
        return int(duration) if duration is not None else self.default_duration

    @property
    def units_basis(self) -> dict[str, Any]:
        """What a video task's units depend on: ``model_name``, ``mode``, ``duration``, ``sound``."""
        return {
            "model_name": getattr(self, "model_name", None),
            "mode": self.effective_mode,
            "duration": self.duration_seconds,
            "sound": getattr(self, "sound", None) == "on",
        }

    def unconfirmed_fields(self) -> dict[str, str]:
        """Fields set on this request whose shape Kling's pages do not confirm, with why."""
        return {
            name: why for name, why in UNCONFIRMED_FIELDS.items() if getattr(self, name, None) is not None
        }

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            **{key: value for key, value in self.units_basis.items() if key != "model_name"},
        }


def video_model_problems(request: KlingVideoRequest, model: VideoModelCapability) -> list[str]:
    """Each rule of ``model``'s row that ``request`` breaks, field first (the one place they apply)."""
    kind = request.kind
    problems = []
    mode = getattr(request, "mode", None)
    if mode is not None and mode not in model.modes:
        allowed = f"supports mode {', '.join(model.modes)}" if model.modes else "takes no mode"
        problems.append(f"mode: {model.name} {allowed} (got {mode!r})")
    duration = getattr(request, "duration", None)
    if duration is not None and int(duration) not in model.durations:
        problems.append(
            f"duration: {model.name} makes videos of {describe_durations(model.durations)} seconds "
            f"(got {duration!r})"
        )
    if getattr(request, "cfg_scale", None) is not None and not model.cfg_scale:
        problems.append(
            f"cfg_scale: {model.name} rejects cfg_scale (kling-v2.x models do); "
            f"models that take it: {models_with(kind, 'cfg_scale')}"
        )
    if getattr(request, "sound", None) is not None and not model.sound:
        problems.append(f"sound: {model.name} makes no sound; models that do: {models_with(kind, 'sound')}")
    if getattr(request, "voice_list", None) is not None and not model.voices:
        problems.append(
            f"voice_list: {model.name} takes no voices; models that do: {models_with(kind, 'voices')}"
        )
    if getattr(request, "image_tail", None) is not None:
        effective = request.effective_mode
        if effective not in model.image_tail_modes:
            where = f"only in mode {', '.join(model.image_tail_modes)}" if model.image_tail_modes else "never"
            problems.append(
                f"image_tail: {model.name} takes a last frame {where} (mode is {effective!r}"
                f"{'' if mode else ' by default'}); models that take one: "
                f"{models_with(kind, 'image_tail_modes')}"
            )
        elif getattr(request, "image", None) is None and not model.tail_alone:
            problems.append(f"image: {model.name} needs a first frame (image) with image_tail")
    multi_shot_fields = [
        name
        for name in ("multi_shot", "shot_type", "multi_prompt")
        if getattr(request, name, None) is not None
    ]
    if multi_shot_fields and not model.multi_shot:
        problems.append(
            f"{multi_shot_fields[0]}: {model.name} has no multi-shot; models that do: "
            f"{models_with(kind, 'multi_shot')}"
        )
    elif multi_shot_fields:
        problems += multi_shot_problems(request)
    if kind != "omni-video" and getattr(request, "element_list", None) is not None and not model.elements:
        problems.append(
            f"element_list: {model.name} takes no elements here; models that do: "
            f"{models_with(kind, 'elements')}"
        )
    return problems


def multi_shot_problems(request: KlingVideoRequest) -> list[str]:
    """kling-v3 multi-shot (UNCONFIRMED shape): ``multi_shot=True`` with ``shot_type``; a
    ``customize`` request lists 1-6 shots numbered from 1 whose durations add up to ``duration``."""
    multi_shot = getattr(request, "multi_shot", None)
    shot_type = getattr(request, "shot_type", None)
    shots = getattr(request, "multi_prompt", None)
    if not multi_shot:
        extra = "shot_type" if shot_type is not None else "multi_prompt"
        if shot_type is None and shots is None:
            return []
        return [f"{extra}: only with multi_shot=True (UNCONFIRMED multi-shot shape)"]
    problems = []
    if shot_type == "intelligence" and shots is not None:
        problems.append("multi_prompt: not with shot_type 'intelligence' (Kling splits the shots itself)")
    if shot_type == "customize" and shots is None:
        problems.append("multi_prompt: required with shot_type 'customize' (1-6 shots)")
    if shots is not None:
        indices = [shot.index for shot in shots]
        if indices != list(range(1, len(shots) + 1)):
            problems.append(
                f"multi_prompt: shots must be numbered 1, 2, ... in order (got indices {indices})"
            )
        total = sum(int(shot.duration) for shot in shots)
        if total != request.duration_seconds:
            problems.append(
                f"multi_prompt: the shots' durations add up to {total} s, but duration is "
                f"{request.duration_seconds} s (UNCONFIRMED multi-shot shape)"
            )
    return problems
