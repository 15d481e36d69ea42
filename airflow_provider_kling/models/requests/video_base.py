"""What every Kling video request kind shares: the canonical fields, camera control, and the
per-model rules (read from ``models.video_capabilities`` by :func:`model_problems`, the one place
they are applied).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import (
    OPTION,
    SETTING,
    SETTINGS,
    V1_ONLY,
    Contents,
    ElementId,
    KlingTaskRequest,
    WatermarkInfo,
    Wire,
)
from airflow_provider_kling.models.video_capabilities import (
    CAMERA_CONFIG_AXES,
    CAMERA_CONFIG_RANGE,
    MAX_SHOT_PROMPT_LENGTH,
    MAX_SHOTS,
    MAX_VIDEO_PROMPT_LENGTH,
    MODE_OF_RESOLUTION,
    RESOLUTION_OF_MODE,
    UNCONFIRMED_FIELDS,
    VIDEO_MODELS,
    VideoModel,
    describe_durations,
    models_for,
    models_with,
)
from airflow_provider_kling.unit_prices import VIDEO_PRICES, Prices, UnitRule, video_rule

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


class Shot(BaseModel):
    """One ``multi_prompt`` item of a kling-v3 multi-shot request (UNCONFIRMED shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Annotated[StrictInt, Field(ge=1, le=MAX_SHOTS)]
    prompt: str = Field(min_length=1, max_length=MAX_SHOT_PROMPT_LENGTH)
    duration: str

    @field_validator("duration", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        checked = whole_seconds(value)  # Kling's /v1 durations are strings ("5")
        return None if checked is None else str(checked)


def whole_seconds(value: Any) -> Any:
    """A duration in whole seconds: an int, or a digit string (Kling's ``/v1`` sends ``"5"``)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number of seconds, like 5 or '5'")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if value is None or isinstance(value, int):
        return value
    raise ValueError("must be a whole number of seconds, like 5 or '5'")


def ids_of(key: str) -> Any:
    """A before-validator for a list of ids that also takes ``/v1``'s ``[{key: id}, ...]`` form."""

    def wrap(cls: type, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [
                item.get(key) if isinstance(item, dict) and set(item) == {key} else item for item in value
            ]
        return value

    return classmethod(wrap)


def objects_of(key: str, **extra: str) -> Any:
    """``/v1``'s form of a value or list of values: ``[{key: value, **extra}, ...]``."""

    def convert(value: Any) -> list[dict[str, Any]]:
        return [{key: item, **extra} for item in (value if isinstance(value, list) else [value])]

    return convert


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


#: The canonical video fields, each with where it goes in each style (``/v1`` names in brackets):
#: ``first_frame`` (``image``), ``last_frame`` (``image_tail``), ``resolution`` (``mode``: 720p is
#: std, 1080p pro), ``audio`` (``sound``: native is on), ``element_ids`` (``element_list``),
#: ``voice_ids`` (``voice_list``), ``duration`` (a string on ``/v1``).
RESOLUTION = Annotated[
    Literal["720p", "1080p", "4k"] | None,
    Wire(v1="mode", to_v1=MODE_OF_RESOLUTION.get, model_path=SETTINGS),
    Field(description="720p, 1080p or 4k (/v1: mode std, pro or 4k; std/pro are taken too)."),
]
ASPECT_RATIO = Annotated[
    Literal["16:9", "9:16", "1:1"] | None, SETTING, Field(description="16:9 (Kling's default), 9:16 or 1:1.")
]
DURATION = Annotated[
    int | None,
    Wire(to_v1=str, model_path=SETTINGS),
    Field(description="Seconds: 5 or 10; 3-15 on kling-v3/kling-3.0 (Kling's default: 5)."),
]
AUDIO = Annotated[
    Literal["native", "original", "off"] | None,
    Wire(v1="sound", to_v1={"native": "on", "off": "off"}.get, model_path=SETTINGS),
    Field(description="native (or True), off (or False); original keeps a reference video's sound."),
]
ELEMENT_IDS = Annotated[
    list[ElementId] | None,
    Wire(
        v1="element_list",
        to_v1=objects_of("element_id"),
        model_path=Contents("element", "element_id", "element"),
    ),
    Field(min_length=1, description="Elements of Kling's element library, by id."),
]
MULTI_SHOT = Annotated[StrictBool | None, SETTING, Field(description="Multi-shot (kling-v3/kling-3.0).")]
NEGATIVE_PROMPT = Annotated[
    str | None,
    V1_ONLY,
    Field(max_length=MAX_VIDEO_PROMPT_LENGTH, description="What to keep out (/v1 models)."),
]
CFG_SCALE = Annotated[
    float | None, V1_ONLY, Field(ge=0, le=1, description="0 to 1; kling-v2.x models refuse it (/v1 models).")
]
SHOT_TYPE = Annotated[
    Literal["customize", "intelligence"] | None,
    V1_ONLY,
    Field(description="kling-v3 multi-shot (UNCONFIRMED shape)."),
]
MULTI_PROMPT = Annotated[
    list[Shot] | None,
    V1_ONLY,
    Field(
        min_length=1,
        max_length=MAX_SHOTS,
        description='kling-v3 shots: [{"index": 1, "prompt": ..., "duration": 5}] (UNCONFIRMED shape).',
    ),
]
WATERMARK = Annotated[
    WatermarkInfo | None, OPTION, Field(description='{"enabled": True} for a watermarked copy as well.')
]


class KlingVideoRequest(KlingTaskRequest):
    """The base of the video request kinds: a video task, one slot, priced per second of video."""

    output: ClassVar[str] = "video"
    #: Slots a video task holds from ``submitted`` to its end, at any length (Kling's concurrency page).
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = video_rule
    stand_in_prices: ClassVar[Prices] = VIDEO_PRICES
    #: Kling's ``duration`` when the request leaves it out (seconds); None: the kind has none.
    default_duration: ClassVar[int | None] = 5
    #: Kling's ``/v1`` ``mode`` when the request leaves it out.
    default_mode: ClassVar[str] = "std"
    unconfirmed: ClassVar[Mapping[str, str]] = UNCONFIRMED_FIELDS

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            cls.model_path_models = models_for(cls.kind, ApiStyle.MODEL_PATH)
            cls.known_models = (*models_for(cls.kind), *cls.model_path_models)
            cls.discontinued = tuple(name for name in cls.known_models if VIDEO_MODELS[name].discontinued)

    _duration = field_validator("duration", mode="before", check_fields=False)(
        classmethod(lambda cls, value: whole_seconds(value))
    )
    _audio = field_validator("audio", mode="before", check_fields=False)(
        classmethod(
            lambda cls, value: (
                {True: "native", False: "off", "on": "native"}.get(value, value)
                if isinstance(value, bool | str)
                else value
            )
        )
    )
    _resolution = field_validator("resolution", mode="before", check_fields=False)(
        classmethod(
            lambda cls, value: RESOLUTION_OF_MODE.get(value, value) if isinstance(value, str) else value
        )
    )
    _element_ids = field_validator("element_ids", mode="before", check_fields=False)(ids_of("element_id"))
    _voice_ids = field_validator("voice_ids", mode="before", check_fields=False)(ids_of("voice_id"))

    @model_validator(mode="after")
    def _video_model_rules(self) -> KlingVideoRequest:
        model_name = getattr(self, "model_name", None)
        problems = self.kind_problems()
        if model_name is not None:
            problems = model_problems(self, VIDEO_MODELS[model_name]) + problems
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def kind_problems(self) -> list[str]:
        """Rules across this kind's own fields (subclasses add theirs), each starting with its field."""
        return []

    @property
    def effective_mode(self) -> str | None:
        """The ``/v1`` mode Kling runs: the one asked for, else Kling's default (None: the model has none)."""
        resolution = getattr(self, "resolution", None)
        if resolution is not None:
            return MODE_OF_RESOLUTION.get(resolution, resolution)
        row = VIDEO_MODELS.get(getattr(self, "model_name", None) or "")
        return self.default_mode if row is None or row.resolutions else None

    @property
    def tier(self) -> str | None:
        """What the price depends on besides model and length: ``/v1``'s mode, else the resolution."""
        if self.api_style is ApiStyle.V1:
            return self.effective_mode
        return getattr(self, "resolution", None) or "720p"

    @property
    def duration_seconds(self) -> int | None:
        """The video's length in seconds as asked (Kling's default when unset; None: Kling decides)."""
        duration = getattr(self, "duration", None)
        return int(duration) if duration is not None else self.default_duration

    @property
    def units_basis(self) -> dict[str, Any]:
        """What a video task's units depend on: ``model_name``, ``tier``, ``duration``, ``sound``."""
        return {
            "model_name": getattr(self, "model_name", None),
            "tier": self.tier,
            "duration": self.duration_seconds,
            "sound": getattr(self, "audio", None) in ("native", "original")
            or getattr(VIDEO_MODELS.get(getattr(self, "model_name", None) or ""), "always_sound", False),
        }

    def summary(self) -> dict[str, Any]:
        basis = self.units_basis
        return {
            **super().summary(),
            "api_style": self.api_style.value,
            "tier": basis["tier"],
            "duration": basis["duration"],
            "sound": basis["sound"],
        }


def model_problems(request: KlingVideoRequest, model: VideoModel) -> list[str]:
    """Each rule of ``model``'s row that ``request`` breaks, field first."""
    kind, name, style = request.kind, model.name, model.style
    problems = []
    prompt = getattr(request, "prompt", None)
    limit = (model.text_prompt_limit if kind == RequestKind.TEXT2VIDEO else None) or model.prompt_limit
    if prompt is not None and len(prompt) > limit:
        problems.append(f"prompt: {name} takes at most {limit} characters (got {len(prompt)})")
    resolution = getattr(request, "resolution", None)
    if resolution is not None and resolution not in model.resolutions:
        allowed = ", ".join(model.resolutions)
        allowed = f"supports resolution {allowed}" if allowed else "takes no resolution (mode)"
        problems.append(f"resolution: {name} {allowed} (got {resolution!r})")
    duration = getattr(request, "duration", None)
    if duration is not None and duration not in model.durations:
        problems.append(
            f"duration: {name} makes videos of {describe_durations(model.durations)} seconds "
            f"(got {duration!r})"
        )
    if getattr(request, "cfg_scale", None) is not None and not model.cfg_scale:
        problems.append(
            f"cfg_scale: {name} rejects cfg_scale (kling-v2.x models do); models that do: "
            f"{models_with(kind, 'cfg_scale', style)}"
        )
    audio = getattr(request, "audio", None)
    if audio is not None and audio not in model.audio:
        problems.append(
            f"audio: {name} takes {', '.join(model.audio)} (got {audio!r})"
            if model.audio
            else f"audio: {name} takes no audio setting; models that do: {models_with(kind, 'audio', style)}"
        )
    if kind != RequestKind.OMNI_VIDEO and getattr(request, "last_frame", None) is not None:
        shown, takers = request.tier, models_with(kind, "last_frame", style)
        if not model.last_frame:
            problems.append(
                f"last_frame: {name} takes a first frame only; models that take a last one: {takers}"
            )
        elif RESOLUTION_OF_MODE.get(shown or "", shown) not in model.last_frame:
            problems.append(
                f"last_frame: {name} takes a last frame only in resolution {', '.join(model.last_frame)} "
                f"(mode is {shown!r}{'' if resolution else ' by default'}); models that take one: {takers}"
            )
        elif getattr(request, "first_frame", None) is None and not model.tail_alone:
            problems.append(f"first_frame: {name} needs a first frame with last_frame")
    for field, most, what in (
        ("element_ids", model.max_elements, "elements"),
        ("voice_ids", model.max_voices, "voices"),
    ):
        given = getattr(request, field, None)
        if given and len(given) > most:
            problems.append(
                f"{field}: {name} takes at most {most} {what} (got {len(given)})"
                if most
                else f"{field}: {name} takes no {what}; models that do: "
                f"{models_with(kind, 'max_' + what, style)}"
            )
    shot_fields = [
        f for f in ("multi_shot", "shot_type", "multi_prompt") if getattr(request, f, None) is not None
    ]
    if shot_fields and not model.multi_shot:
        problems.append(
            f"{shot_fields[0]}: {name} has no multi-shot; models that do: "
            f"{models_with(kind, 'multi_shot', style)}"
        )
    elif shot_fields:
        problems += multi_shot_problems(request)
    if resolution not in (None, "1080p"):
        if "audio" in model.full_hd_only_with and audio == "native":
            problems.append(f"resolution: {name} with audio makes 1080p only (got {resolution!r})")
        if "last_frame" in model.full_hd_only_with and getattr(request, "last_frame", None):
            problems.append(
                f"resolution: {name} with a first and a last frame makes 1080p only (got {resolution!r})"
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
