"""Kling's new-style video API (2026-07), as the simulator's own rules and records.

Written from Kling's 2026 pages (the model table of the new-style paths), never imported from the
client. Creates are ``POST /text-to-video/{model}``, ``/image-to-video/{model}`` and
``/omni-video/{model}`` with ``{prompt | contents[], settings, options}``; they take an API key
only (an access-key JWT answers 401/1002). A task is answered as a new-style record:
``{id, status, message, create_time, update_time, external_id, outputs[], billing[]}`` with
``succeeded`` as the end of a good task. ``GET /tasks`` renders every task (``/v1/`` ones too) so.

An accepted create is a :class:`~airflow_provider_kling.testing.video_rules.VideoRequest` like a
``/v1/videos`` one, so its task, slot (one per video), resource pack (``video``) and MP4 file
(``testing.videos``) work alike; its price is a STAND-IN of units per second by model and
resolution (Kling publishes prices per second, not units).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.rules import MAX_EXTERNAL_TASK_ID, RuleViolation, _shown
from airflow_provider_kling.testing.tasks import FAILED, IMAGE_PATH, SUCCEED, SimTask
from airflow_provider_kling.testing.video_rules import VideoRequest, video_id, video_url

T2V, I2V, OMNI = "text-to-video", "image-to-video", "omni-video"
PRODUCTS = (T2V, I2V, OMNI)
MAX_IMAGE_BYTES = 50 * 1024 * 1024
DEFAULT_DURATION = 5


@dataclass(frozen=True)
class VideoModel:
    """What one model takes on the new-style paths."""

    products: tuple[str, ...]
    resolutions: tuple[str, ...]
    durations: tuple[int, ...]
    #: ``settings.audio`` values; ``None``: the field does not exist for this model
    audio: tuple[str, ...] | None
    multi_shot: bool
    prompt_limit: int
    t2v_prompt_limit: int
    last_frame: bool = False
    elements: int = 0
    voices: int = 0
    #: 1080p only with native audio / with a first and a last frame
    hd_only_with_audio: bool = False
    hd_only_with_frames: bool = False
    #: STAND-IN units per second, by resolution
    units_per_second: Mapping[str, float] = field(default_factory=dict)


_STD = {"720p": 0.3, "1080p": 0.5}
AUDIO_ALL = ("native", "original", "off")
MODELS: Mapping[str, VideoModel] = {
    "kling-3.0-turbo": VideoModel(
        (T2V, I2V), ("720p", "1080p"), tuple(range(3, 16)), None, False, 2500, 3072,
        units_per_second={"720p": 0.8, "1080p": 1.0},
    ),
    "kling-3.0": VideoModel(
        (T2V, I2V), ("720p", "1080p", "4k"), tuple(range(3, 16)), ("native", "off"), True, 3072, 3072,
        last_frame=True, elements=3, units_per_second={"720p": 0.6, "1080p": 0.8, "4k": 3.0},
    ),
    "kling-2.6": VideoModel(
        (T2V, I2V), ("720p", "1080p"), (5, 10), ("native", "off"), False, 2500, 2500,
        last_frame=True, voices=2, hd_only_with_audio=True, hd_only_with_frames=True, units_per_second=_STD,
    ),
    "kling-2.5-turbo": VideoModel(
        (T2V, I2V), ("720p", "1080p"), (5, 10), None, False, 2500, 2500,
        last_frame=True, hd_only_with_frames=True, units_per_second=_STD,
    ),
    "kling-3.0-omni": VideoModel(
        (OMNI,), ("720p", "1080p", "4k"), tuple(range(3, 16)), AUDIO_ALL, True, 3072, 3072,
        units_per_second={"720p": 0.6, "1080p": 0.8, "4k": 3.0},
    ),
    "kling-o1": VideoModel(
        (OMNI,), ("720p", "1080p"), tuple(range(3, 11)), ("original", "off"), False, 2500, 2500,
        units_per_second=_STD,
    ),
}  # fmt: skip

_TOP_LEVEL = {T2V: ("prompt", "settings", "options"), I2V: ("contents", "settings", "options")}
_TOP_LEVEL[OMNI] = _TOP_LEVEL[I2V]
_SETTINGS = ("resolution", "duration", "aspect_ratio", "audio", "multi_shot")
_OPTIONS = ("callback_url", "external_task_id", "watermark_info")
_IMAGE_TYPES = ("first_frame", "last_frame", "refer_image")
_VIDEO_TYPES = ("feature_video", "base_video")


def _image_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be an image URL or base64 string"
    if value.startswith(("http://", "https://")):
        return None
    if len(value) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        return "must be at most 50 MB"
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "must be an http(s) URL or base64 image data"
    return None


class _Check:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, name: str, rule: str, value: Any) -> None:
        self.problems.append(f"{name}: {rule} (got {_shown(value)})")


def _contents(check: _Check, body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``contents[]`` grouped by entry type, each entry checked."""
    contents = body.get("contents")
    grouped: dict[str, list[dict[str, Any]]] = {}
    if not isinstance(contents, list):
        check.bad("contents", "must be a list of {type, ...} entries", contents)
        return grouped
    for position, entry in enumerate(contents):
        name = f"contents.{position}"
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind == "prompt":
            if not isinstance(entry.get("text"), str) or not entry["text"].strip():
                check.bad(f"{name}.text", "must be a non-blank string", entry.get("text"))
        elif kind in _IMAGE_TYPES:
            if problem := _image_problem(entry.get("url")):
                check.bad(f"{name}.url", problem, entry.get("url"))
        elif kind in _VIDEO_TYPES:
            url = entry.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                check.bad(f"{name}.url", "videos are taken by http(s) URL only", url)
        elif kind == "element":
            if not isinstance(entry.get("element_id"), int) or not entry.get("id"):
                check.bad(name, "an element needs an integer element_id and an id", entry)
        elif kind == "voice":
            if not entry.get("voice_id") or not entry.get("id"):
                check.bad(name, "a voice needs a voice_id and an id", entry)
        else:
            check.bad(f"{name}.type", "must be prompt, first_frame, last_frame, refer_image, "
                      "feature_video, base_video, element or voice", kind)  # fmt: skip
            continue
        grouped.setdefault(kind, []).append(entry)
    return grouped


def _prompt_of(product: str, body: dict[str, Any], grouped: dict[str, list[dict[str, Any]]]) -> str | None:
    if product == T2V:
        prompt = body.get("prompt")
        return prompt if isinstance(prompt, str) else None
    texts = [entry["text"] for entry in grouped.get("prompt", ()) if isinstance(entry.get("text"), str)]
    return " ".join(texts) if texts else None


def validate(product: str, model_name: str, body: Any) -> VideoRequest:
    """The accepted new-style create, or :class:`RuleViolation`; an unknown model answers 404/1203."""
    model = MODELS.get(model_name)
    if model is None or product not in model.products:
        served = ", ".join(name for name, row in MODELS.items() if product in row.products)
        raise ApiError(404, 1203, f"model {model_name!r} is not served at /{product} (served: {served})")
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    check = _Check()
    check.problems += [
        f"{key}: is not a field of /{product}" for key in body if key not in _TOP_LEVEL[product]
    ]
    grouped = _contents(check, body) if product != T2V else {}
    prompt = _prompt_of(product, body, grouped)
    if product in (T2V, OMNI) and not prompt:
        check.problems.append("prompt: is required")
    limit = model.t2v_prompt_limit if product == T2V else model.prompt_limit
    if prompt and len(prompt) > limit:
        check.problems.append(f"prompt: {model_name} takes at most {limit} characters (got {len(prompt)})")
    settings = body.get("settings", {})
    options = body.get("options", {})
    for name, value, allowed in (("settings", settings, _SETTINGS), ("options", options, _OPTIONS)):
        if not isinstance(value, dict):
            check.bad(name, "must be an object", value)
            _raise_if_any(check)
        check.problems += [f"{name}.{key}: is not a field here" for key in value if key not in allowed]
    resolution = settings.get("resolution", "1080p")
    if resolution not in model.resolutions:
        check.bad("settings.resolution", f"{model_name} makes {', '.join(model.resolutions)}", resolution)
    duration = settings.get("duration", DEFAULT_DURATION)
    if not isinstance(duration, int) or isinstance(duration, bool) or duration not in model.durations:
        check.bad("settings.duration", f"{model_name} makes {model.durations[0]}-{model.durations[-1]} s "
                  f"({', '.join(map(str, model.durations))})", duration)  # fmt: skip
    if "aspect_ratio" in settings:
        if product == I2V:
            check.problems.append("settings.aspect_ratio: image to video takes the frame's ratio")
        elif settings["aspect_ratio"] not in ("16:9", "9:16", "1:1"):
            check.bad("settings.aspect_ratio", "must be 16:9, 9:16 or 1:1", settings["aspect_ratio"])
    audio = settings.get("audio")
    if "audio" in settings and (model.audio is None or audio not in model.audio):
        rule = "has no audio setting" if model.audio is None else f"takes {', '.join(model.audio)}"
        check.bad("settings.audio", f"{model_name} {rule}", audio)
    if "multi_shot" in settings and not model.multi_shot:
        check.bad("settings.multi_shot", f"{model_name} has no multi-shot", settings["multi_shot"])
    frames = len(grouped.get("first_frame", ())) + len(grouped.get("last_frame", ()))
    if product == I2V:
        if not grouped.get("first_frame"):
            check.problems.append("contents: image to video needs a first_frame")
        if grouped.get("last_frame") and not model.last_frame:
            check.problems.append(f"contents: {model_name} takes a first frame only")
        if len(grouped.get("element", ())) > model.elements:
            check.problems.append(f"contents: {model_name} takes at most {model.elements} elements")
        if len(grouped.get("voice", ())) > model.voices:
            check.problems.append(f"contents: {model_name} takes at most {model.voices} voices")
    if resolution != "1080p" and (
        (model.hd_only_with_audio and audio == "native") or (model.hd_only_with_frames and frames == 2)
    ):
        check.bad(
            "settings.resolution", f"{model_name} makes 1080p only with audio or two frames", resolution
        )
    if grouped.get("feature_video") and audio not in (None, "off"):
        check.bad("settings.audio", "a feature_video turns audio off", audio)
    if grouped.get("base_video") and (audio == "native" or frames):
        check.problems.append("contents: a base_video takes no native audio and no frames")
    external = options.get("external_task_id")
    if external is not None and (not isinstance(external, str) or len(external) > MAX_EXTERNAL_TASK_ID):
        check.bad("options.external_task_id", f"must be a string of at most {MAX_EXTERNAL_TASK_ID}", external)
    callback = options.get("callback_url")
    if callback is not None and not (
        isinstance(callback, str) and callback.startswith(("http://", "https://"))
    ):
        check.bad("options.callback_url", "must be an http:// or https:// URL", callback)
    watermark = options.get("watermark_info")
    if watermark is not None and not (
        isinstance(watermark, dict) and isinstance(watermark.get("enabled"), bool)
    ):
        check.bad("options.watermark_info", 'must be {"enabled": true|false}', watermark)
    _raise_if_any(check)
    return VideoRequest(
        model_name=model_name,
        prompt=prompt or f"{product} {model_name}",
        n=1,  # a video task holds one slot, whatever its length
        body=body,
        resolution=resolution,
        callback_url=callback,
        external_task_id=external,
        watermark=bool((watermark or {}).get("enabled")),
        endpoint=product,
        units_each=model.units_per_second[resolution] * duration,
        seconds=float(duration),
        mode="std" if resolution == "720p" else "pro",
    )


def _raise_if_any(check: _Check) -> None:
    if check.problems:
        raise RuleViolation(check.problems)


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


def render_record(task: SimTask, *, origin: str, now: float, status: str | None = None) -> dict[str, Any]:
    """A task (of either style) as a new-style record: ``succeeded``, ``outputs[]`` and ``billing[]``."""
    status = status or task.status_at(now)
    request = task.request
    record: dict[str, Any] = {
        "id": task.task_id,
        "status": "succeeded" if status == SUCCEED else status,
        "message": task.failure if status == FAILED else "",
        "create_time": _millis(task.created),
        "update_time": _millis(task.changed_at(status)),
        "external_id": task.external_task_id or "",
        "outputs": [],
        "billing": [],
    }
    if status in (SUCCEED, FAILED):
        units = request.units if status == SUCCEED else 0.0
        record["billing"] = [
            {
                "charge_type": "unit",
                "amount": f"{units:g}",
                "currency": "",
                "package_type": request.product_type,
            }
        ]
    image_root = f"{origin}{IMAGE_PATH}"
    if status == SUCCEED:
        if isinstance(request, VideoRequest):  # served by testing.videos' file routes
            video: dict[str, Any] = {
                "id": video_id(task.task_id),
                "url": video_url(image_root, task.task_id),
                "duration": f"{request.seconds:g}",
            }
            if request.watermark:
                video["watermark_url"] = video_url(image_root, task.task_id, watermarked=True)
            record["outputs"] = [{"video": video}]
        else:
            for index in range(request.n):
                image = {"url": f"{image_root}/{task.task_id}/{index}.png"}
                if request.watermark:
                    image["watermark_url"] = f"{image_root}/{task.task_id}/watermarked/{index}.png"
                record["outputs"].append({"image": image})
    return record
