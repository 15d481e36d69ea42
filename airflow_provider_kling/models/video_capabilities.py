"""
What each Kling video model accepts on the old-style ``/v1/videos/*`` endpoints: one row per model.

The video request kinds (``models.requests.video_*``) read this table and nothing else, so a
new model is one more row. Written from the facts gathered from Kling's pages and changelog
(text-to-video, image-to-video, omni-video, multi-image-to-video). Where the pages say nothing
about a model, the row allows rather than refuses and says so in ``notes``; what the pages name
without giving its shape (kling-v3's multi-shot fields, its ``element_list`` outside omni) is
listed in :data:`UNCONFIRMED_FIELDS` and flagged by the request (``unconfirmed_fields()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TEXT2VIDEO = "text2video"
IMAGE2VIDEO = "image2video"
MULTI_IMAGE2VIDEO = "multi-image2video"
OMNI_VIDEO = "omni-video"
VIDEO_EXTEND = "video-extend"

VIDEO_ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1")
MAX_VIDEO_PROMPT_LENGTH = 2500
#: Kling's camera-control presets; only ``simple`` takes a ``config``.
CAMERA_CONTROL_TYPES: tuple[str, ...] = (
    "simple",
    "down_back",
    "forward_up",
    "right_turn_forward",
    "left_turn_forward",
)
CAMERA_CONFIG_AXES: tuple[str, ...] = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
CAMERA_CONFIG_RANGE = 10.0
#: image2video: voices (``<<<voice_N>>>`` in the prompt), and the motion-brush masks.
MAX_VOICES = 2
MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
#: omni-video: images and elements together, and with a reference video.
MAX_OMNI_REFERENCES = 7
MAX_OMNI_REFERENCES_WITH_VIDEO = 4
MAX_OMNI_VIDEOS = 1
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
    "element_list": "element_list on text2video/image2video (kling-v3) is unconfirmed (omni: documented)",
}

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
    modes: tuple[str, ...]
    #: ``duration`` values in seconds
    durations: tuple[int, ...]
    #: ``cfg_scale`` is accepted (kling-v2.x rejects it)
    cfg_scale: bool
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
            name="kling-v1",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO),
            modes=("std", "pro"),
            durations=_FIVE_OR_TEN,
            cfg_scale=True,
            discontinued=True,
            notes="Kling's old default; a live probe answered 'has been discontinued'",
        ),
        VideoModelCapability(
            name="kling-v1-5",
            kinds=(IMAGE2VIDEO,),
            modes=("std", "pro"),
            durations=_FIVE_OR_TEN,
            cfg_scale=True,
            image_tail_modes=("pro",),
            tail_alone=True,
            notes="whether it still answers is unconfirmed; a tail without image is unconfirmed",
        ),
        VideoModelCapability(
            name="kling-v1-6",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO, MULTI_IMAGE2VIDEO),
            modes=("std", "pro"),
            durations=_FIVE_OR_TEN,
            cfg_scale=True,
            image_tail_modes=("pro",),
            tail_alone=True,
            notes="the only multi-image2video model; a tail without image is unconfirmed",
        ),
        VideoModelCapability(
            name="kling-v2-master",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO),
            modes=(),
            durations=_FIVE_OR_TEN,
            cfg_scale=False,
        ),
        VideoModelCapability(
            name="kling-v2-1",
            kinds=(IMAGE2VIDEO,),
            modes=("std", "pro"),
            durations=_FIVE_OR_TEN,
            cfg_scale=False,
            image_tail_modes=("pro",),
        ),
        VideoModelCapability(
            name="kling-v2-1-master",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO),
            modes=(),
            durations=_FIVE_OR_TEN,
            cfg_scale=False,
        ),
        VideoModelCapability(
            name="kling-v2-5-turbo",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO),
            modes=("std", "pro"),
            durations=_FIVE_OR_TEN,
            cfg_scale=False,
            image_tail_modes=("pro",),
        ),
        VideoModelCapability(
            name="kling-v2-6",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO),
            modes=("std", "pro"),
            durations=_FIVE_OR_TEN,
            cfg_scale=False,
            sound=True,
            voices=True,
            image_tail_modes=("pro",),
        ),
        VideoModelCapability(
            name="kling-v3",
            kinds=(TEXT2VIDEO, IMAGE2VIDEO),
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
            name="kling-video-o1",
            kinds=(OMNI_VIDEO,),
            modes=("std", "pro"),
            durations=_SPAN_3_10,
            cfg_scale=False,
            notes="omni-video's default model; Kling's default mode is pro",
        ),
        VideoModelCapability(
            name="kling-v3-omni",
            kinds=(OMNI_VIDEO,),
            modes=("std", "pro", "4k"),
            durations=_SPAN_3_10,
            cfg_scale=False,
        ),
    )
}

#: Video models in the table's order.
VIDEO_MODELS: tuple[str, ...] = tuple(VIDEO_MODEL_CAPABILITIES)
#: Every duration (seconds) any video model accepts, and every mode.
VIDEO_MODES: tuple[str, ...] = ("std", "pro", "4k")


def models_for(kind: str) -> tuple[str, ...]:
    """The models that serve request kind ``kind``, in the table's order."""
    return tuple(name for name, row in VIDEO_MODEL_CAPABILITIES.items() if row.serves(kind))


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
