"""
What each Kling video model accepts, from Kling's pages and changelog: one row per model, in one
table per API style (:data:`VIDEO_MODEL_CAPABILITIES` for ``/v1``, :data:`MODEL_PATH_MODELS`); a
kind's models are the rows that serve it. The video requests read these tables and nothing else.
Where the pages say nothing, a row allows rather than refuses and says so in ``notes``; fields
they name without a shape are :data:`UNCONFIRMED_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_kling.kinds import RequestKind

MAX_VIDEO_PROMPT_LENGTH = 2500
#: The longest prompt any model takes (kling-3.0 on the model-path style).
LONG_PROMPT_LENGTH = 3072
#: A ``resolution`` as ``/v1``'s ``mode`` (720p is std, 1080p pro: Kling prices them alike).
MODE_OF_RESOLUTION: Mapping[str, str] = {"720p": "std", "1080p": "pro", "4k": "4k"}
RESOLUTION_OF_MODE: Mapping[str, str] = {mode: res for res, mode in MODE_OF_RESOLUTION.items()}
CAMERA_CONFIG_AXES: tuple[str, ...] = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
CAMERA_CONFIG_RANGE = 10.0
#: image2video: voices (``<<<voice_N>>>`` in the prompt), and the motion-brush masks.
MAX_VOICES = 2
MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
#: omni-video: images and elements together, and with a reference video.
MAX_OMNI_REFERENCES = 7
MAX_OMNI_REFERENCES_WITH_VIDEO = 4
#: multi-image2video: at most this many images.
MAX_MULTI_IMAGES = 4
#: kling-v3 multi-shot (UNCONFIRMED shape): shots per request and characters per shot prompt.
MAX_SHOTS = 6
MAX_SHOT_PROMPT_LENGTH = 512
#: video-extend: each call adds about 4-5 s; the whole video stays at most 3 minutes, and the
#: source must be younger than 30 days (Kling purges outputs then).
MAX_EXTENDED_VIDEO_SECONDS = 180
EXTEND_ADDS_SECONDS = 5
MAX_EXTEND_SOURCE_AGE_DAYS = 30
#: Fields whose name Kling publishes but whose shape (or model support) its pages do not give.
UNCONFIRMED_FIELDS: Mapping[str, str] = {
    "multi_shot": "kling-v3 multi-shot: the changelog names multi_shot, no page gives its shape",
    "shot_type": "kling-v3 multi-shot: the changelog names shot_type ('intelligence'), not its values",
    "multi_prompt": "kling-v3 multi-shot: [{index, prompt, duration}] comes from third-party copies only",
    "element_ids": "element_list on text2video/image2video (kling-v3) is unconfirmed (omni: documented)",
}

_T2V_I2V_KINDS = (RequestKind.TEXT2VIDEO, RequestKind.IMAGE2VIDEO)
_FIVE_OR_TEN = (5, 10)
_SPAN_3_15 = tuple(range(3, 16))
_SPAN_3_10 = tuple(range(3, 11))


@dataclass(frozen=True)
class VideoModelCapability:
    """What one video model accepts. Empty tuples mean "not supported"."""

    name: str
    #: the request kinds (endpoints) the model serves
    kinds: tuple[str, ...]
    #: ``mode`` values; empty: the model takes no ``mode`` (v2-master, v2-1-master)
    modes: tuple[str, ...] = ("std", "pro")
    #: ``duration`` values in seconds
    durations: tuple[int, ...] = _FIVE_OR_TEN
    #: ``cfg_scale`` is accepted (kling-v2.x rejects it)
    cfg_scale: bool = False
    #: ``sound`` (on/off): V2.6 and later
    sound: bool = False
    #: ``voice_list`` on image2video: V2.6 and later
    voices: bool = False
    #: modes in which ``image_tail`` (the last frame) is accepted; empty: never
    image_tail_modes: tuple[str, ...] = ()
    #: ``image_tail`` without ``image`` (UNCONFIRMED: v1-5 and v1-6 in pro)
    tail_alone: bool = False
    #: kling-v3 multi-shot fields (UNCONFIRMED shape)
    multi_shot: bool = False
    #: ``element_list`` outside omni-video (UNCONFIRMED)
    elements: bool = False
    #: Kling answers "has been discontinued" for this model (seen live)
    discontinued: bool = False
    notes: str = ""

    def serves(self, kind: str) -> bool:
        return kind in self.kinds


VIDEO_MODEL_CAPABILITIES: Mapping[str, VideoModelCapability] = {
    row.name: row
    for row in (
        VideoModelCapability(
            "kling-v1",
            _T2V_I2V_KINDS,
            cfg_scale=True,
            discontinued=True,
            notes="Kling's old default; a live probe answered 'has been discontinued'",
        ),
        VideoModelCapability(
            "kling-v1-5",
            (RequestKind.IMAGE2VIDEO,),
            cfg_scale=True,
            image_tail_modes=("pro",),
            tail_alone=True,
            notes="whether it still answers is unconfirmed; a tail without image is unconfirmed",
        ),
        VideoModelCapability(
            "kling-v1-6",
            (RequestKind.TEXT2VIDEO, RequestKind.IMAGE2VIDEO, RequestKind.MULTI_IMAGE2VIDEO),
            cfg_scale=True,
            image_tail_modes=("pro",),
            tail_alone=True,
            notes="the only multi-image2video model; a tail without image is unconfirmed",
        ),
        VideoModelCapability("kling-v2-master", _T2V_I2V_KINDS, modes=()),
        VideoModelCapability("kling-v2-1", (RequestKind.IMAGE2VIDEO,), image_tail_modes=("pro",)),
        VideoModelCapability("kling-v2-1-master", _T2V_I2V_KINDS, modes=()),
        VideoModelCapability("kling-v2-5-turbo", _T2V_I2V_KINDS, image_tail_modes=("pro",)),
        VideoModelCapability(
            "kling-v2-6", _T2V_I2V_KINDS, sound=True, voices=True, image_tail_modes=("pro",)
        ),
        VideoModelCapability(
            "kling-v3",
            _T2V_I2V_KINDS,
            modes=("std", "pro", "4k"),
            durations=_SPAN_3_15,
            # No page says v3 refuses cfg_scale (the v2.x rule); the new-style API dropped it.
            cfg_scale=True,
            sound=True,
            voices=True,
            image_tail_modes=("std", "pro", "4k"),
            multi_shot=True,
            elements=True,
            notes="3-15 s (sent as a string like the others: the encoding is unconfirmed); cfg_scale "
            "allowed (no page refuses it); last frame inferred from the new-style 3.0 model",
        ),
        VideoModelCapability(
            "kling-video-o1",
            (RequestKind.OMNI_VIDEO,),
            durations=_SPAN_3_10,
            notes="omni video's default model; Kling's default mode is pro",
        ),
        VideoModelCapability(
            "kling-v3-omni", (RequestKind.OMNI_VIDEO,), modes=("std", "pro", "4k"), durations=_SPAN_3_10
        ),
    )
}


def models_for(kind: str) -> tuple[str, ...]:
    """The ``/v1`` models that serve request kind ``kind``, in the table's order."""
    return tuple(name for name, row in VIDEO_MODEL_CAPABILITIES.items() if row.serves(kind))


# --- the model-path style (``POST /<product>/{model}``, from 2026-07-15) ---------------------------


@dataclass(frozen=True)
class ModelPathModel:
    """What one model-path video model accepts (Kling's 2026 model table)."""

    name: str
    #: the request kinds that take it
    kinds: tuple[str, ...]
    resolutions: tuple[str, ...]
    #: accepted ``duration`` values, in seconds
    durations: tuple[int, ...]
    #: accepted ``audio`` values; empty: the model has no ``audio`` setting
    audio: tuple[str, ...]
    #: ``multi_shot`` is accepted
    multi_shot: bool = False
    #: longest prompt, and the longest on text-to-video when that differs
    prompt_limit: int = MAX_VIDEO_PROMPT_LENGTH
    text_prompt_limit: int | None = None
    #: image-to-video takes a last frame as well as the first
    last_frame: bool = False
    #: at most this many elements, voices on image-to-video
    max_elements: int = 0
    max_voices: int = 0
    #: what forces 1080p: ``audio`` (native audio), ``last_frame`` (first and last frame)
    full_hd_only_with: tuple[str, ...] = ()
    notes: str = ""


_HD = ("720p", "1080p")
_ALL_RESOLUTIONS = ("720p", "1080p", "4k")

MODEL_PATH_MODELS: Mapping[str, ModelPathModel] = {
    row.name: row
    for row in (
        ModelPathModel(
            "kling-3.0-turbo",
            _T2V_I2V_KINDS,
            _HD,
            _SPAN_3_15,
            audio=(),
            text_prompt_limit=LONG_PROMPT_LENGTH,
            notes="model-path only; audio is always on (no setting); image to video: first frame only",
        ),
        ModelPathModel(
            "kling-3.0",
            _T2V_I2V_KINDS,
            _ALL_RESOLUTIONS,
            _SPAN_3_15,
            audio=("native", "off"),
            multi_shot=True,
            prompt_limit=LONG_PROMPT_LENGTH,
            last_frame=True,
            max_elements=3,
            notes="the model-path name of kling-v3 (inferred)",
        ),
        ModelPathModel(
            "kling-2.6",
            _T2V_I2V_KINDS,
            _HD,
            _FIVE_OR_TEN,
            audio=("native", "off"),
            last_frame=True,
            max_voices=2,
            full_hd_only_with=("audio", "last_frame"),
        ),
        ModelPathModel(
            "kling-2.5-turbo",
            _T2V_I2V_KINDS,
            _HD,
            _FIVE_OR_TEN,
            audio=(),
            last_frame=True,
            full_hd_only_with=("last_frame",),
        ),
        ModelPathModel(
            "kling-3.0-omni",
            (RequestKind.OMNI_VIDEO,),
            _ALL_RESOLUTIONS,
            _SPAN_3_15,
            audio=("native", "original", "off"),
            multi_shot=True,
            prompt_limit=LONG_PROMPT_LENGTH,
            max_elements=7,
            notes="a feature video turns audio off; a base video allows no native audio and no frames",
        ),
        ModelPathModel(
            "kling-o1", (RequestKind.OMNI_VIDEO,), _HD, _SPAN_3_10, audio=("original", "off"), max_elements=7
        ),
    )
}


def model_path_models_for(kind: str) -> tuple[str, ...]:
    """The model-path models that serve request kind ``kind``, in the table's order."""
    return tuple(name for name, row in MODEL_PATH_MODELS.items() if kind in row.kinds)


def models_with(kind: str, flag: str) -> str:
    """``"kling-v2-6, kling-v3"``: the live models of ``kind`` whose ``flag`` is set (for error messages)."""
    return ", ".join(
        name
        for name, row in VIDEO_MODEL_CAPABILITIES.items()
        if row.serves(kind) and getattr(row, flag) and not row.discontinued
    )


def describe_durations(durations: tuple[int, ...]) -> str:
    """``5 or 10``, ``3-15``: a model's durations as a person writes them."""
    if len(durations) > 2 and durations == tuple(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]}-{durations[-1]}"
    return " or ".join(str(seconds) for seconds in durations)


def render_video_model_table() -> str:
    """The docs' video model table (Markdown), generated from :data:`VIDEO_MODEL_CAPABILITIES`."""
    lines = [
        "| `model_name` | endpoints | `mode` | `duration` (s) | `cfg_scale` | `sound` | `image_tail`"
        " | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in VIDEO_MODEL_CAPABILITIES.values():
        tail = ", ".join(row.image_tail_modes) if row.image_tail_modes else "-"
        lines.append(
            f"| `{row.name}` | {', '.join(row.kinds)} | {', '.join(row.modes) or '(none)'}"
            f" | {describe_durations(row.durations)} | {'yes' if row.cfg_scale else 'no'}"
            f" | {'yes' if row.sound else '-'} | {tail} | "
            f"{'discontinued. ' if row.discontinued else ''}{row.notes} |"
        )
    return "\n".join(lines) + "\n"
