"""Kling's motion-control rules in both API styles, as data: the simulator's own.

Written from Kling's motion-control pages (2026-09, ``/motion-control/{kling-3.0|kling-2.6}``) and
the ``/v1/videos/motion-control`` form third-party docs give, never imported from the client.
``/v1``: ``model_name`` (``kling-v2-6`` default, ``kling-v3``), ``image_url`` and ``video_url``
(http(s)) and ``character_orientation`` (image/video) required, ``mode`` std/pro,
``keep_original_sound`` yes/no, ``prompt``; ``element_list`` (one, kling-v3) and ``watermark_info``
accepted. Model path: ``contents[]`` of prompt, image, video (required) and element (kling-3.0,
at most one, a string ``element_id`` and an ``id``), ``settings`` (``character_orientation``
required, ``audio`` original/off, ``resolution`` 720p/1080p), ``options``. An element needs
``character_orientation: video``. An accepted create is a
:class:`~airflow_provider_kling.testing.video_rules.VideoRequest` of :data:`OUTPUT_SECONDS` (the
usable motion of a reference the simulator does not read), priced per output second.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.endpoints import Endpoint, _Checker
from airflow_provider_kling.testing.rules import MAX_PROMPT, RuleViolation, _shown
from airflow_provider_kling.testing.video_rules import VideoRequest

KIND = "motion-control"
OUTPUT_SECONDS = 5.0
#: Units per output second (std/720p, pro/1080p) and how many elements a request may carry.
MODELS: Mapping[str, tuple[float, float, int]] = {
    "kling-v2-6": (0.5, 0.8, 0),
    "kling-v3": (0.9, 1.2, 1),
    "kling-2.6": (0.5, 0.8, 0),
    "kling-3.0": (0.9, 1.2, 1),
}
V1_MODELS = ("kling-v2-6", "kling-v3")
NEW_STYLE_MODELS = ("kling-3.0", "kling-2.6")
ORIENTATIONS = ("image", "video")


def _accepted(fields: Mapping[str, Any], model: str, pro: bool, watermark: Any, **extra: Any) -> VideoRequest:
    low, high, _ = MODELS[model]
    return VideoRequest(
        model_name=model,
        prompt=f"{KIND} {_shown(dict(fields))}",
        n=1,
        body=dict(fields),
        watermark=bool((watermark or {}).get("enabled")) if isinstance(watermark, dict) else False,
        endpoint=KIND,
        units_each=round((high if pro else low) * OUTPUT_SECONDS, 4),
        seconds=OUTPUT_SECONDS,
        mode="pro" if pro else "std",
        **extra,
    )


def _v1(fields: dict[str, Any]) -> VideoRequest:
    allowed = ("model_name", "image_url", "video_url", "character_orientation", "mode", "keep_original_sound",
               "prompt", "element_list", "watermark_info", "callback_url", "external_task_id")  # fmt: skip
    check = _Checker(fields, allowed)
    check.common()
    fields.setdefault("model_name", "kling-v2-6")
    check.text("model_name", choices=V1_MODELS)
    check.text("prompt")
    check.text("character_orientation", required=True, choices=ORIENTATIONS)
    check.text("mode", choices=("std", "pro"))
    check.text("keep_original_sound", choices=("yes", "no"))
    if "image_url" not in fields:
        check.problems.append("image_url: is required")
    else:
        check.image("image_url", fields["image_url"])
    video = fields.get("video_url")
    if not (isinstance(video, str) and video.startswith(("http://", "https://"))):
        check.bad("video_url", "is required: an http(s) URL of an mp4/mov")
    elements = fields.get("element_list")
    if elements is not None:
        if not (isinstance(elements, list) and len(elements) == 1 and isinstance(elements[0], dict)
                and isinstance(elements[0].get("element_id"), int)):  # fmt: skip
            check.bad("element_list", 'must be one {"element_id": <integer>}')
        elif MODELS.get(fields["model_name"], (0, 0, 0))[2] == 0:
            check.bad("element_list", f"{fields['model_name']} takes no element")
        elif fields.get("character_orientation") != "video":
            check.bad("character_orientation", "an element needs 'video'")
    check.raise_if_any()
    return _accepted(
        fields,
        fields["model_name"],
        fields.get("mode") == "pro",
        fields.get("watermark_info"),
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
    )


ENDPOINTS: tuple[Endpoint, ...] = (Endpoint(KIND, "/v1/videos/motion-control", _v1),)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> VideoRequest:
    """The accepted ``/v1`` create, or :class:`RuleViolation` naming every broken rule."""
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    return _v1({key: value for key, value in body.items() if value is not None})


def validate_new_style(model_name: str, body: Any) -> VideoRequest:
    """The accepted ``POST /motion-control/{model}``, or :class:`RuleViolation`; an unknown model 404s."""
    if model_name not in NEW_STYLE_MODELS:
        raise ApiError(
            404, 1203, f"model {model_name!r} is not served at /{KIND} ({', '.join(NEW_STYLE_MODELS)})"
        )
    if not isinstance(body, dict):
        raise RuleViolation(["request: the body must be a JSON object"])
    problems = [
        f"{key}: is not a field of /{KIND}" for key in body if key not in ("contents", "settings", "options")
    ]
    contents, settings, options = body.get("contents"), body.get("settings") or {}, body.get("options") or {}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for position, entry in enumerate(contents if isinstance(contents, list) else []):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind not in ("prompt", "image", "video", "element"):
            problems.append(
                f"contents.{position}.type: must be prompt, image, video or element (got {_shown(kind)})"
            )
            continue
        grouped.setdefault(kind, []).append(entry)
        if kind in ("image", "video") and not (isinstance(entry.get("url"), str) and entry["url"]):
            problems.append(f"contents.{position}.url: is required")
        if kind == "video" and not str(entry.get("url", "")).startswith(("http://", "https://")):
            problems.append(f"contents.{position}.url: a video is taken by http(s) URL only")
        if kind == "element" and not (isinstance(entry.get("element_id"), str) and entry.get("id")):
            problems.append(f"contents.{position}: an element needs a string element_id and an id")
        if kind == "prompt" and len(str(entry.get("text", ""))) > MAX_PROMPT:
            problems.append(f"contents.{position}.text: must be at most {MAX_PROMPT} characters")
    for needed in ("image", "video"):
        if len(grouped.get(needed, ())) != 1:
            problems.append(f"contents: needs exactly one {needed}")
    elements = len(grouped.get("element", ()))
    if elements > MODELS[model_name][2]:
        problems.append(f"contents: {model_name} takes at most {MODELS[model_name][2]} element(s)")
    if not isinstance(settings, dict) or not isinstance(options, dict):
        raise RuleViolation(["settings: and options must be objects"])
    problems += [f"settings.{key}: is not a field here" for key in settings
                 if key not in ("character_orientation", "audio", "resolution")]  # fmt: skip
    orientation = settings.get("character_orientation")
    if orientation not in ORIENTATIONS:
        problems.append(
            f"settings.character_orientation: is required, image or video (got {_shown(orientation)})"
        )
    elif elements and orientation != "video":
        problems.append("settings.character_orientation: an element needs 'video'")
    if settings.get("audio", "original") not in ("original", "off"):
        problems.append(f"settings.audio: must be original or off (got {_shown(settings['audio'])})")
    resolution = settings.get("resolution", "720p")
    if resolution not in ("720p", "1080p"):
        problems.append(f"settings.resolution: must be 720p or 1080p (got {_shown(resolution)})")
    problems += [f"options.{key}: is not a field here" for key in options
                 if key not in ("callback_url", "external_task_id", "watermark_info")]  # fmt: skip
    if problems:
        raise RuleViolation(problems)
    return _accepted(
        body,
        model_name,
        resolution == "1080p",
        options.get("watermark_info"),
        resolution=resolution,
        callback_url=options.get("callback_url"),
        external_task_id=options.get("external_task_id"),
    )


#: The new-style products this module serves: ``POST /<product>/{model}``.
NEW_STYLE_PRODUCTS = {KIND: validate_new_style}
