"""Kling's rules for the old-style video endpoints (``/v1/videos/*``), as data: the simulator's own.

Written from Kling's text-to-video, image-to-video, omni-video, video-extend and multi-image-to-
video pages and its changelog, never imported from the client's request models. Each accepted
create becomes a :class:`VideoRequest`, an :class:`~airflow_provider_kling.testing.rules.ImageRequest`
making one video: a video task holds one slot at any length, the markers, progress and faults of
the image endpoints apply alike, and its units are a stand-in price per second.

The multi-shot fields of kling-v3 are accepted in the shape third-party copies show
(``multi_shot``, ``shot_type``, ``multi_prompt[{index, prompt, duration}]``), which Kling's own
pages do not confirm.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_kling.testing.endpoints import _Checker, _content_seed
from airflow_provider_kling.testing.rules import ImageRequest, RuleViolation, _is_number

VIDEO_RATIOS = ("16:9", "9:16", "1:1")
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
#: Kling's extend limits: the whole video at most 3 minutes, about 5 s more per extend.
MAX_EXTENDED_SECONDS = 180.0
EXTEND_SECONDS = 5.0
#: Where videos are served, under the simulator's origin (next to ``/kling/images``).
VIDEO_PATH = "/kling/videos"


@dataclass(frozen=True)
class VideoModel:
    """One model: the endpoints it serves, its modes (empty: none), durations and options."""

    kinds: tuple[str, ...]
    modes: tuple[str, ...]
    durations: tuple[int, ...]
    cfg_scale: bool = False
    sound: bool = False
    #: modes in which ``image_tail`` is taken
    tail_modes: tuple[str, ...] = ()
    multi_shot: bool = False
    discontinued: bool = False
    #: STAND-IN units per second by mode, ``<mode>+audio`` with sound on where it costs more: Kling's
    #: published per-second prices where it has them (2.5 Turbo, 2.6, 3.0), kept in ratio elsewhere.
    units_per_second: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: {"std": 0.3, "pro": 0.5}
    )


_T2V_I2V = ("text2video", "image2video")
_5_10 = (5, 10)
MODELS: dict[str, VideoModel] = {
    "kling-v1": VideoModel(_T2V_I2V, ("std", "pro"), _5_10, cfg_scale=True, discontinued=True),
    "kling-v1-5": VideoModel(("image2video",), ("std", "pro"), _5_10, cfg_scale=True, tail_modes=("pro",)),
    "kling-v1-6": VideoModel(
        (*_T2V_I2V, "multi-image2video"), ("std", "pro"), _5_10, cfg_scale=True, tail_modes=("pro",)
    ),
    # The masters take no mode; v2.x refuses cfg_scale.
    "kling-v2-master": VideoModel(_T2V_I2V, (), _5_10, units_per_second={"": 2.0}),
    "kling-v2-1": VideoModel(("image2video",), ("std", "pro"), _5_10, tail_modes=("pro",)),
    "kling-v2-1-master": VideoModel(_T2V_I2V, (), _5_10, units_per_second={"": 2.0}),
    "kling-v2-5-turbo": VideoModel(_T2V_I2V, ("std", "pro"), _5_10, tail_modes=("pro",)),
    "kling-v2-6": VideoModel(_T2V_I2V, ("std", "pro"), _5_10, sound=True, tail_modes=("pro",)),
    "kling-v3": VideoModel(
        _T2V_I2V,
        ("std", "pro", "4k"),
        tuple(range(3, 16)),
        cfg_scale=True,
        sound=True,
        tail_modes=("std", "pro", "4k"),
        multi_shot=True,
        units_per_second={"std": 0.6, "pro": 0.8, "4k": 3.0, "std+audio": 0.9, "pro+audio": 1.2},
    ),
    "kling-video-o1": VideoModel(
        ("omni-video",), ("std", "pro"), tuple(range(3, 11)), units_per_second={"std": 0.6, "pro": 0.8}
    ),
    "kling-v3-omni": VideoModel(
        ("omni-video",),
        ("std", "pro", "4k"),
        tuple(range(3, 11)),
        units_per_second={"std": 0.6, "pro": 0.8, "4k": 3.0},
    ),
}
DEFAULT_MODELS = {
    "text2video": "kling-v1",
    "image2video": "kling-v1",
    "omni-video": "kling-video-o1",
    "multi-image2video": "kling-v1-6",
}


@dataclass(frozen=True)
class VideoRequest(ImageRequest):
    """An accepted video create: one video of ``seconds``; ``parent`` is the extended video."""

    seconds: float = 5.0
    mode: str = "std"
    #: a video task draws on a video resource pack
    product_type: str = "video"
    parent: Mapping[str, Any] | None = None

    def render_result(self, task_id: str, image_root: str) -> dict[str, Any]:
        """``task_result`` of the succeeded task: one video, with its watermarked copy when asked."""
        video: dict[str, Any] = {
            "id": video_id(task_id),
            "url": video_url(image_root, task_id),
            "duration": f"{self.seconds:g}",
        }
        if self.watermark:
            video["watermark_url"] = video_url(image_root, task_id, watermarked=True)
        return {"videos": [video]}

    def render_info(self, image_root: str) -> dict[str, Any]:
        """What ``task_info`` adds: the extended video (video-extend), as Kling shows it."""
        if not self.parent:
            return {}
        source = task_of_video(self.parent["id"]) or ""
        return {"parent_video": {**self.parent, "url": video_url(image_root, source)}}


def video_url(image_root: str, task_id: str, watermarked: bool = False) -> str:
    """Where a task's video is served: next to the images (``.../kling/videos/<task>/0.mp4``)."""
    root = image_root.rsplit("/images", 1)[0] + "/videos"
    return f"{root}/{task_id}/{'watermarked/' if watermarked else ''}0.mp4"


class VideoRuleViolation(RuleViolation):
    """Broken rules of a video request."""

    def __init__(self, problems: list[str]) -> None:
        ValueError.__init__(self, "Invalid Kling video request: " + "; ".join(problems))
        self.problems = problems


def video_id(task_id: str) -> str:
    """The id of a task's video (not the task id: video-extend refuses a task id)."""
    return f"vid-{task_id}"


def task_of_video(video: str) -> str | None:
    """The task id a video id belongs to, or None for an id this simulator never made."""
    return video.removeprefix("vid-") if video.startswith("vid-") else None


class _VideoChecker(_Checker):
    def number(self, name: str, low: float, high: float) -> None:
        value = self.fields.get(name)
        if value is not None and not (_is_number(value) and low <= value <= high):
            self.bad(name, f"must be a number from {low:g} to {high:g}")

    def seconds(self, name: str = "duration") -> int | None:
        value = self.fields.get(name)
        if value is None:
            return None
        if isinstance(value, str) and value.isdigit():
            return int(value)
        self.bad(name, 'must be a string of whole seconds, like "5"')
        return None

    def model(self, kind: str) -> VideoModel | None:
        name = self.fields.setdefault("model_name", DEFAULT_MODELS[kind])
        model = MODELS.get(name) if isinstance(name, str) else None
        if model is None or kind not in model.kinds:
            self.bad(
                "model_name", f"must be one of {', '.join(m for m, r in MODELS.items() if kind in r.kinds)}"
            )
            return None
        if model.discontinued:
            self.bad("model_name", "has been discontinued")
            return None
        return model

    def image_field(self, name: str) -> None:
        if name in self.fields:
            self.image(name, self.fields[name])

    def image_list(self, name: str, key: str, low: int, high: int, extra: tuple[str, ...] = ()) -> list[dict]:
        items = self.fields.get(name, [])
        if not (
            isinstance(items, list)
            and low <= len(items) <= high
            and all(isinstance(i, dict) and key in i and set(i) <= {key, *extra} for i in items)
        ):
            self.bad(name, f'must be {low} to {high} {{"{key}": <URL or base64>}}')
            return []
        for position, item in enumerate(items):
            self.image(f"{name}.{position}.{key}", item[key])
        return items


def _camera_problems(check: _VideoChecker) -> None:
    camera = check.fields.get("camera_control")
    if camera is None:
        return
    if (
        not isinstance(camera, dict)
        or camera.get("type") not in CAMERA_TYPES
        or set(camera) - {"type", "config"}
    ):
        check.bad("camera_control", f"must be {{type: {'|'.join(CAMERA_TYPES)}, config?}}")
        return
    config = camera.get("config")
    if camera["type"] != "simple":
        if config is not None:
            check.bad("camera_control.config", "is only for type 'simple'", config)
        return
    if not isinstance(config, dict) or set(config) - set(CAMERA_AXES):
        check.bad("camera_control.config", f"must be an object of {', '.join(CAMERA_AXES)}", config)
        return
    values = [config.get(axis, 0) for axis in CAMERA_AXES]
    if not all(_is_number(v) and -10 <= v <= 10 for v in values) or sum(1 for v in values if v) != 1:
        check.bad("camera_control.config", "must set exactly one movement, in [-10, 10]", config)


def _model_options(check: _VideoChecker, model: VideoModel, name: str) -> tuple[str, int | None]:
    """mode, duration, cfg_scale and sound against the model's row; returns (mode, seconds)."""
    mode = check.fields.get("mode")
    if mode is not None and mode not in model.modes:
        check.bad("mode", f"{name} takes {', '.join(model.modes) or 'no mode'}")
    seconds = check.seconds()
    if seconds is not None and seconds not in model.durations:
        check.bad(
            "duration",
            f"{name} makes {model.durations[0]}-{model.durations[-1]} s videos"
            if len(model.durations) > 2
            else f"{name} makes 5 or 10 s videos",
        )
    if "cfg_scale" in check.fields:
        if not model.cfg_scale:
            check.bad("cfg_scale", f"{name} does not take cfg_scale")
        check.number("cfg_scale", 0, 1)
    if "sound" in check.fields:
        if not model.sound:
            check.bad("sound", f"{name} makes no sound")
        check.text("sound", choices=("on", "off"))
    default_mode = model.modes[0] if model.modes else ""
    return (mode if isinstance(mode, str) and mode in model.modes else default_mode), seconds


def _multi_shot(check: _VideoChecker, model: VideoModel, seconds: int) -> None:
    used = [name for name in ("multi_shot", "shot_type", "multi_prompt") if name in check.fields]
    if not used:
        return
    if not model.multi_shot:
        check.bad(used[0], "this model has no multi-shot")
        return
    if check.fields.get("multi_shot") is not True:
        check.bad(used[0], "needs multi_shot: true")
        return
    shots = check.fields.get("multi_prompt")
    if shots is None:
        return
    if not (
        isinstance(shots, list)
        and 1 <= len(shots) <= 6
        and all(
            isinstance(s, dict) and set(s) == {"index", "prompt", "duration"} and isinstance(s["prompt"], str)
            for s in shots
        )
    ):
        check.bad("multi_prompt", "must be 1 to 6 {index, prompt, duration}")
        return
    if [s["index"] for s in shots] != list(range(1, len(shots) + 1)):
        check.bad("multi_prompt", "indices must be 1, 2, ...")
    total = sum(int(s["duration"]) for s in shots if str(s["duration"]).isdigit())
    if total != seconds:
        check.bad("multi_prompt", f"shot durations must add up to duration ({seconds})", total)


def _video_request(
    kind: str, fields: dict[str, Any], model_name: str | None, mode: str, seconds: float, **extra: Any
) -> VideoRequest:
    model = MODELS.get(model_name or "")
    prices = model.units_per_second if model else {"std": 0.3}
    tier = f"{mode}+audio" if fields.get("sound") == "on" and f"{mode}+audio" in prices else mode
    rate = prices.get(tier, max(prices.values()))
    added = extra.pop("units_seconds", seconds)
    watermark = fields.get("watermark_info") or {}
    return VideoRequest(
        model_name=str(model_name or kind),
        prompt=fields.get("prompt") or _content_seed(kind, fields),
        n=1,
        body=fields,
        aspect_ratio=fields.get("aspect_ratio"),
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        watermark=bool(watermark.get("enabled")),
        endpoint=kind,
        units_each=round(rate * added, 4),
        seconds=seconds,
        mode=mode or "std",
        **extra,
    )


def _text2video(check: _VideoChecker) -> VideoRequest:
    model = check.model("text2video")
    check.text("prompt", required=True)
    check.text("negative_prompt")
    check.text("aspect_ratio", choices=VIDEO_RATIOS)
    _camera_problems(check)
    check.raise_if_any()
    assert model is not None
    mode, seconds = _model_options(check, model, check.fields["model_name"])
    _multi_shot(check, model, seconds or 5)
    if "element_list" in check.fields and not model.multi_shot:
        check.bad("element_list", "this model takes no elements")
    check.raise_if_any()
    return _video_request("text2video", check.fields, check.fields["model_name"], mode, seconds or 5)


def _image2video(check: _VideoChecker) -> VideoRequest:
    model = check.model("image2video")
    check.text("prompt")
    check.text("negative_prompt")
    for name in ("image", "image_tail", "static_mask"):
        check.image_field(name)
    _camera_problems(check)
    masks = check.fields.get("dynamic_masks")
    if masks is not None:
        if not (isinstance(masks, list) and 1 <= len(masks) <= 6):
            check.bad("dynamic_masks", "must be 1 to 6 masks")
        else:
            for position, mask in enumerate(masks):
                points = mask.get("trajectories") if isinstance(mask, dict) else None
                if not isinstance(points, list) or not 2 <= len(points) <= 77:
                    check.bad(f"dynamic_masks.{position}.trajectories", "must hold 2 to 77 points", points)
                if isinstance(mask, dict):
                    check.image(f"dynamic_masks.{position}.mask", mask.get("mask"))
    check.raise_if_any()
    assert model is not None
    name = check.fields["model_name"]
    mode, seconds = _model_options(check, model, name)
    if "image" not in check.fields and "image_tail" not in check.fields:
        check.problems.append("image: is required")
    if "image_tail" in check.fields and mode not in model.tail_modes:
        check.bad(
            "image_tail", f"{name} takes a last frame only in {', '.join(model.tail_modes) or 'no'} mode"
        )
    exclusive = [n for n in ("image_tail", "camera_control") if n in check.fields] + (
        ["masks"] if "static_mask" in check.fields or "dynamic_masks" in check.fields else []
    )
    if len(exclusive) > 1:
        check.problems.append(f"{exclusive[0]}: cannot be combined with {', '.join(exclusive[1:])}")
    voices = check.fields.get("voice_list")
    if voices is not None:
        if not model.sound:
            check.bad("voice_list", f"{name} takes no voices")
        elif not (isinstance(voices, list) and 1 <= len(voices) <= 2):
            check.bad("voice_list", "must hold 1 or 2 voices")
        elif check.fields.get("sound") != "on":
            check.bad("voice_list", "needs sound 'on'")
    _multi_shot(check, model, seconds or 5)
    check.raise_if_any()
    return _video_request("image2video", check.fields, name, mode, seconds or 5)


_CITE = re.compile(r"<<<(image|element|video)_(\d+)>>>")


def _omni(check: _VideoChecker) -> VideoRequest:
    model = check.model("omni-video")
    check.text("prompt", required=True)
    check.text("aspect_ratio", choices=VIDEO_RATIOS)
    images = (
        check.image_list("image_list", "image_url", 0, 7, extra=("type",))
        if "image_list" in check.fields
        else []
    )
    elements = check.fields.get("element_list", [])
    if not isinstance(elements, list) or not all(isinstance(e, dict) and "element_id" in e for e in elements):
        check.bad("element_list", 'must be a list of {"element_id": <integer>}')
        elements = []
    videos = check.fields.get("video_list", [])
    if (
        not isinstance(videos, list)
        or len(videos) > 1
        or not all(
            isinstance(v, dict) and str(v.get("video_url", "")).startswith(("http://", "https://"))
            for v in videos
        )
    ):
        check.bad(
            "video_list", "must hold at most one {video_url: <http(s) URL>, refer_type, keep_original_sound}"
        )
        videos = []
    check.raise_if_any()
    assert model is not None
    mode, seconds = _model_options(check, model, check.fields["model_name"])
    limit = 4 if videos else 7
    if len(images) + len(elements) > limit:
        check.problems.append(f"image_list: images plus elements must be at most {limit}")
    frames = [i.get("type") for i in images if i.get("type")]
    base = any(v.get("refer_type") == "base" for v in videos)
    if "aspect_ratio" not in check.fields and "first_frame" not in frames and not base:
        check.problems.append("aspect_ratio: is required without a first frame or a base video")
    if seconds is not None and base:
        check.bad("duration", "a base video sets the duration")
    elif seconds is not None and not videos and not elements and len(images) == frames.count("first_frame"):
        if seconds not in (5, 10):
            check.bad("duration", "text or a first frame alone makes 5 or 10 s")
    given = {"image": len(images), "element": len(elements), "video": len(videos)}
    for what, number in _CITE.findall(check.fields.get("prompt") or ""):
        if int(number) > given[what]:
            check.problems.append(f"prompt: <<<{what}_{number}>>> cites a {what} that is not given")
    check.raise_if_any()
    return _video_request("omni-video", check.fields, check.fields["model_name"], mode or "pro", seconds or 5)


def _multi_image(check: _VideoChecker) -> VideoRequest:
    model = check.model("multi-image2video")
    check.text("prompt", required=True)
    check.text("negative_prompt")
    check.text("aspect_ratio", choices=VIDEO_RATIOS)
    if "image_list" not in check.fields:
        check.problems.append("image_list: is required")
    else:
        check.image_list("image_list", "image", 1, 4)
    check.raise_if_any()
    assert model is not None
    mode, seconds = _model_options(check, model, check.fields["model_name"])
    check.raise_if_any()
    return _video_request("multi-image2video", check.fields, check.fields["model_name"], mode, seconds or 5)


#: Finds the source of an extend: ``(video duration, task ended at, task succeeded)`` or None.
SourceLookup = Callable[[str], "tuple[float, float] | None"]


def _extend(check: _VideoChecker, source: SourceLookup, now: float, retention: float) -> VideoRequest:
    check.text("prompt")
    check.text("negative_prompt")
    check.number("cfg_scale", 0, 1)
    video = check.fields.get("video_id")
    if not isinstance(video, str) or not video.strip():
        check.problems.append("video_id: is required")
    check.raise_if_any()
    found = source(str(video))
    if found is None:
        raise RuleViolation([f"video_id: no video {video!r} in this account (a video id, not a task id)"])
    seconds, ended = found
    if now - ended >= retention:
        check.bad("video_id", "the video is older than 30 days")
    if seconds + EXTEND_SECONDS > MAX_EXTENDED_SECONDS:
        check.bad("video_id", f"the video is {seconds:g} s; extended it would pass 3 minutes")
    check.raise_if_any()
    parent = {"id": video, "duration": f"{seconds:g}"}
    return _video_request(
        "video-extend",
        check.fields,
        None,
        "std",
        seconds + EXTEND_SECONDS,
        parent=parent,
        units_seconds=EXTEND_SECONDS,
    )


_COMMON = ("callback_url", "external_task_id", "watermark_info")
_FIELDS: dict[str, tuple[str, ...]] = {
    "text2video": (
        *_COMMON,
        "model_name",
        "prompt",
        "negative_prompt",
        "cfg_scale",
        "mode",
        "aspect_ratio",
        "duration",
        "sound",
        "camera_control",
        "element_list",
        "multi_shot",
        "shot_type",
        "multi_prompt",
    ),
    "image2video": (
        *_COMMON,
        "model_name",
        "image",
        "image_tail",
        "prompt",
        "negative_prompt",
        "cfg_scale",
        "mode",
        "duration",
        "sound",
        "voice_list",
        "camera_control",
        "static_mask",
        "dynamic_masks",
        "element_list",
        "multi_shot",
        "shot_type",
        "multi_prompt",
    ),
    "omni-video": (
        *_COMMON,
        "model_name",
        "prompt",
        "image_list",
        "element_list",
        "video_list",
        "mode",
        "aspect_ratio",
        "duration",
    ),
    "video-extend": (*_COMMON, "video_id", "prompt", "negative_prompt", "cfg_scale"),
    "multi-image2video": (
        *_COMMON,
        "model_name",
        "image_list",
        "prompt",
        "negative_prompt",
        "mode",
        "aspect_ratio",
        "duration",
    ),
}
VIDEO_KINDS: tuple[str, ...] = tuple(_FIELDS)
PATHS: Mapping[str, str] = {kind: f"/v1/videos/{kind}" for kind in VIDEO_KINDS}


def validate(kind: str, body: Any, *, source: SourceLookup, now: float, retention: float) -> VideoRequest:
    """The accepted video request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule.

    ``source(video_id)`` answers ``(duration, ended_at)`` of a succeeded video of the caller's
    account, or None: video-extend needs it.
    """
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    fields = {
        key: value
        for key, value in body.items()
        if value is not None and not (isinstance(value, str) and not value.strip() and key != "prompt")
    }
    check = _VideoChecker(fields, _FIELDS[kind])
    try:
        check.common()
        if kind == "video-extend":
            return _extend(check, source, now, retention)
        validator = {
            "text2video": _text2video,
            "image2video": _image2video,
            "omni-video": _omni,
            "multi-image2video": _multi_image,
        }[kind]
        return validator(check)
    except RuleViolation as exc:
        raise VideoRuleViolation(exc.problems) from None
