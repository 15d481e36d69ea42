"""
What each Kling video model accepts, from Kling's pages and changelog: one row per model in one
table (:data:`VIDEO_MODELS`), each row in its model's API style; a kind's models are the rows that
serve it. The video requests read this table and nothing else. Where the pages say nothing, a row
allows rather than refuses and says so in ``notes``; fields they name without a shape are
:data:`UNCONFIRMED_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle

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
_HD = ("720p", "1080p")
_ALL_RESOLUTIONS = ("720p", "1080p", "4k")
_SOUND = ("native", "off")
V1, MODEL_PATH = ApiStyle.V1, ApiStyle.MODEL_PATH


@dataclass(frozen=True)
class VideoModel:
    """What one video model accepts in its API style. Empty tuples and zeros mean "not supported"."""

    name: str
    #: the request kinds (endpoints) the model serves
    kinds: tuple[str, ...]
    style: ApiStyle = V1
    #: ``resolution`` values (``/v1``'s ``mode``: 720p std, 1080p pro); empty: the model takes none
    resolutions: tuple[str, ...] = _HD
    #: ``duration`` values in seconds
    durations: tuple[int, ...] = _FIVE_OR_TEN
    #: ``audio`` values (``/v1``'s ``sound``, V2.6 and later); empty: no audio setting
    audio: tuple[str, ...] = ()
    #: the video has sound without an ``audio`` setting (priced with audio)
    always_sound: bool = False
    #: resolutions in which a last frame is taken (``/v1``'s ``image_tail``); empty: a first frame only
    last_frame: tuple[str, ...] = ()
    #: a last frame without a first (UNCONFIRMED: v1-5 and v1-6 in pro)
    tail_alone: bool = False
    #: at most this many elements and voices (``voice_ids`` on image-to-video)
    max_elements: int = 0
    max_voices: int = 0
    #: multi-shot (``/v1``: kling-v3's fields, UNCONFIRMED shape)
    multi_shot: bool = False
    #: ``cfg_scale`` is accepted (kling-v2.x rejects it; the model-path style has none)
    cfg_scale: bool = False
    #: longest prompt, and the longest on text-to-video when that differs
    prompt_limit: int = MAX_VIDEO_PROMPT_LENGTH
    text_prompt_limit: int | None = None
    #: what forces 1080p: ``audio`` (native audio), ``last_frame`` (first and last frame)
    full_hd_only_with: tuple[str, ...] = ()
    #: Kling answers "has been discontinued" for this model (seen live)
    discontinued: bool = False
    notes: str = ""

    def serves(self, kind: str) -> bool:
        return kind in self.kinds


VIDEO_MODELS: Mapping[str, VideoModel] = {
    row.name: row
    for row in (
        VideoModel(
            "kling-v1",
            _T2V_I2V_KINDS,
            cfg_scale=True,
            discontinued=True,
            notes="Kling's old default; a live probe answered 'has been discontinued'",
        ),
        VideoModel(
            "kling-v1-5",
            (RequestKind.IMAGE2VIDEO,),
            cfg_scale=True,
            last_frame=("1080p",),
            tail_alone=True,
            notes="whether it still answers is unconfirmed; a tail without image is unconfirmed",
        ),
        VideoModel(
            "kling-v1-6",
            (RequestKind.TEXT2VIDEO, RequestKind.IMAGE2VIDEO, RequestKind.MULTI_IMAGE2VIDEO),
            cfg_scale=True,
            last_frame=("1080p",),
            tail_alone=True,
            notes="the only multi-image2video model; a tail without image is unconfirmed",
        ),
        VideoModel("kling-v2-master", _T2V_I2V_KINDS, resolutions=()),
        VideoModel("kling-v2-1", (RequestKind.IMAGE2VIDEO,), last_frame=("1080p",)),
        VideoModel("kling-v2-1-master", _T2V_I2V_KINDS, resolutions=()),
        VideoModel("kling-v2-5-turbo", _T2V_I2V_KINDS, last_frame=("1080p",)),
        VideoModel("kling-v2-6", _T2V_I2V_KINDS, audio=_SOUND, last_frame=("1080p",), max_voices=MAX_VOICES),
        VideoModel(
            "kling-v3",
            _T2V_I2V_KINDS,
            resolutions=_ALL_RESOLUTIONS,
            durations=_SPAN_3_15,
            # No page says v3 refuses cfg_scale (the v2.x rule); the new-style API dropped it.
            cfg_scale=True,
            audio=_SOUND,
            max_voices=MAX_VOICES,
            last_frame=_ALL_RESOLUTIONS,
            multi_shot=True,
            max_elements=3,
            notes="3-15 s (sent as a string like the others: the encoding is unconfirmed); cfg_scale "
            "allowed (no page refuses it); last frame and 3 elements inferred from the new-style 3.0 model",
        ),
        VideoModel(
            "kling-video-o1",
            (RequestKind.OMNI_VIDEO,),
            durations=_SPAN_3_10,
            max_elements=MAX_OMNI_REFERENCES,
            notes="omni video's default model; Kling's default mode is pro",
        ),
        VideoModel(
            "kling-v3-omni",
            (RequestKind.OMNI_VIDEO,),
            resolutions=_ALL_RESOLUTIONS,
            durations=_SPAN_3_10,
            max_elements=MAX_OMNI_REFERENCES,
        ),
        # the model-path style (``POST /<product>/{model}``, from 2026-07-15)
        VideoModel(
            "kling-3.0-turbo",
            _T2V_I2V_KINDS,
            MODEL_PATH,
            durations=_SPAN_3_15,
            always_sound=True,
            text_prompt_limit=LONG_PROMPT_LENGTH,
            notes="model-path only; audio is always on (no setting); image to video: first frame only",
        ),
        VideoModel(
            "kling-3.0",
            _T2V_I2V_KINDS,
            MODEL_PATH,
            _ALL_RESOLUTIONS,
            _SPAN_3_15,
            audio=_SOUND,
            multi_shot=True,
            prompt_limit=LONG_PROMPT_LENGTH,
            last_frame=_ALL_RESOLUTIONS,
            max_elements=3,
            notes="the model-path name of kling-v3 (inferred)",
        ),
        VideoModel(
            "kling-2.6",
            _T2V_I2V_KINDS,
            MODEL_PATH,
            audio=_SOUND,
            last_frame=_HD,
            max_voices=MAX_VOICES,
            full_hd_only_with=("audio", "last_frame"),
        ),
        VideoModel(
            "kling-2.5-turbo", _T2V_I2V_KINDS, MODEL_PATH, last_frame=_HD, full_hd_only_with=("last_frame",)
        ),
        VideoModel(
            "kling-3.0-omni",
            (RequestKind.OMNI_VIDEO,),
            MODEL_PATH,
            _ALL_RESOLUTIONS,
            _SPAN_3_15,
            audio=("native", "original", "off"),
            multi_shot=True,
            prompt_limit=LONG_PROMPT_LENGTH,
            max_elements=7,
            notes="a feature video turns audio off; a base video allows no native audio and no frames",
        ),
        VideoModel(
            "kling-o1",
            (RequestKind.OMNI_VIDEO,),
            MODEL_PATH,
            durations=_SPAN_3_10,
            audio=("original", "off"),
            max_elements=7,
        ),
    )
}


def models_for(kind: str, style: ApiStyle = V1) -> tuple[str, ...]:
    """The models of API style ``style`` that serve request kind ``kind``, in the table's order."""
    return tuple(name for name, row in VIDEO_MODELS.items() if row.serves(kind) and row.style is style)


def models_with(kind: str, flag: str, style: ApiStyle = V1) -> str:
    """``"kling-v2-6, kling-v3"``: the live models of ``kind`` and ``style`` whose ``flag`` is set
    (for error messages)."""
    return ", ".join(
        name
        for name in models_for(kind, style)
        if getattr(VIDEO_MODELS[name], flag) and not VIDEO_MODELS[name].discontinued
    )


def describe_durations(durations: tuple[int, ...]) -> str:
    """``5 or 10``, ``3-15``: a model's durations as a person writes them."""
    if len(durations) > 2 and durations == tuple(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]}-{durations[-1]}"
    return " or ".join(str(seconds) for seconds in durations)


def render_video_model_table() -> str:
    """The docs' video model table (Markdown), generated from :data:`VIDEO_MODELS`."""
    lines = [
        "| `model_name` | API style | endpoints | `resolution` | `duration` (s) | `audio` | `last_frame`"
        " | `cfg_scale` | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in VIDEO_MODELS.values():
        lines.append(
            f"| `{row.name}` | {row.style.value} | {', '.join(row.kinds)}"
            f" | {', '.join(row.resolutions) or '-'} | {describe_durations(row.durations)}"
            f" | {', '.join(row.audio) or '-'}"
            f" | {', '.join(row.last_frame) or '-'} | {'yes' if row.cfg_scale else '-'} | "
            f"{'discontinued. ' if row.discontinued else ''}{row.notes} |"
        )
    return "\n".join(lines) + "\n"
