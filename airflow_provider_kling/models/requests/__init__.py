"""One request model per Kling endpoint (images and video), each declaring its kind (``.base``).

A new endpoint is one more module here and one more entry in :data:`REQUEST_KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kling.models.requests.avatar import AvatarRequest
from airflow_provider_kling.models.requests.base import KlingTaskRequest, WatermarkInfo
from airflow_provider_kling.models.requests.expand import ExpandImageRequest, expansion_for_aspect_ratio
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.models.requests.lip_sync import LipSyncRequest
from airflow_provider_kling.models.requests.motion_control import MotionControlRequest
from airflow_provider_kling.models.requests.multi_image import MultiImageRequest
from airflow_provider_kling.models.requests.omni_image import OmniImageRequest
from airflow_provider_kling.models.requests.subject_completion import SubjectCompletionRequest
from airflow_provider_kling.models.requests.text_to_audio import TextToAudioRequest
from airflow_provider_kling.models.requests.text_to_speech import TextToSpeechRequest
from airflow_provider_kling.models.requests.video_base import KlingVideoRequest
from airflow_provider_kling.models.requests.video_effects import VideoEffectsRequest
from airflow_provider_kling.models.requests.video_extend import VideoExtendRequest
from airflow_provider_kling.models.requests.video_image2video import ImageToVideoRequest
from airflow_provider_kling.models.requests.video_multi_image import MultiImageToVideoRequest
from airflow_provider_kling.models.requests.video_omni import OmniVideoRequest
from airflow_provider_kling.models.requests.video_text2video import TextToVideoRequest
from airflow_provider_kling.models.requests.video_to_audio import VideoToAudioRequest
from airflow_provider_kling.models.requests.virtual_try_on import VirtualTryOnRequest
from airflow_provider_kling.storage import MEDIA, MediaKind

#: Every request kind by its short name (:class:`~airflow_provider_kling.kinds.RequestKind`).
REQUEST_KINDS: Mapping[str, type[KlingTaskRequest]] = {
    cls.kind: cls
    for cls in (
        ImageGenerationRequest,
        OmniImageRequest,
        MultiImageRequest,
        ExpandImageRequest,
        VirtualTryOnRequest,
        TextToVideoRequest,
        ImageToVideoRequest,
        OmniVideoRequest,
        VideoExtendRequest,
        MultiImageToVideoRequest,
        VideoEffectsRequest,
        TextToAudioRequest,
        VideoToAudioRequest,
        MotionControlRequest,
        AvatarRequest,
        LipSyncRequest,
        TextToSpeechRequest,
        SubjectCompletionRequest,
    )
}
#: Every endpoint path this provider speaks (each kind's paths in every style).
ENDPOINT_PATHS: tuple[str, ...] = tuple(path for cls in REQUEST_KINDS.values() for path in cls.paths.values())


def media_of(kind: str) -> MediaKind:
    """What a task of ``kind`` makes (its request class's ``output``): the one place images and
    videos part; the single operators and the batch store, list and check expired results by it."""
    return MEDIA[request_class(kind).output]


def kind_defaults(kind: str) -> dict[str, Any]:
    """The request fields ``kind``'s model fills in when a request leaves them out (``model_name``,
    ``n`` ...): what every caller (operator, batch, decorator, hook) gets by leaving them out."""
    return {
        name: info.default
        for name, info in request_class(kind).model_fields.items()
        if not info.is_required() and info.default is not None
    }


def kind_table(kind: str) -> list[dict[str, Any]]:
    """``kind``'s fields for docs and the decorators: name, required, default, description, and the
    API styles that take it."""
    cls = request_class(kind)
    return [
        {
            "name": name,
            "required": info.is_required(),
            "default": None if info.is_required() else info.default,
            "description": info.description or "",
            "styles": [
                style
                for style, where in (("v1", cls.wire(name).v1), ("model-path", cls.wire(name).model_path))
                if (where is not None or name == "model_name") and (style == "v1" or cls.model_path_models)
            ],
        }
        for name, info in cls.model_fields.items()
    ]


def request_class(kind: str) -> type[KlingTaskRequest]:
    """The request model of ``kind``; a clear error naming the kinds there are otherwise."""
    try:
        return REQUEST_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown Kling request kind {kind!r}: one of {', '.join(REQUEST_KINDS)}") from None


def endpoint_path(kind_or_path: str) -> str:
    """The path of an endpoint given by kind (``expand``) or by path; ValueError naming both lists."""
    if kind_or_path in REQUEST_KINDS:
        return REQUEST_KINDS[kind_or_path].path
    if kind_or_path in ENDPOINT_PATHS:
        return kind_or_path
    raise ValueError(
        f"unknown Kling endpoint {kind_or_path!r}: a kind ({', '.join(REQUEST_KINDS)}) "
        f"or a path ({', '.join(ENDPOINT_PATHS)})"
    )


__all__ = [
    "ENDPOINT_PATHS",
    "REQUEST_KINDS",
    "AvatarRequest",
    "ExpandImageRequest",
    "ImageGenerationRequest",
    "ImageToVideoRequest",
    "KlingTaskRequest",
    "KlingVideoRequest",
    "LipSyncRequest",
    "MotionControlRequest",
    "MultiImageRequest",
    "MultiImageToVideoRequest",
    "OmniImageRequest",
    "OmniVideoRequest",
    "SubjectCompletionRequest",
    "TextToAudioRequest",
    "TextToSpeechRequest",
    "TextToVideoRequest",
    "VideoEffectsRequest",
    "VideoExtendRequest",
    "VideoToAudioRequest",
    "VirtualTryOnRequest",
    "WatermarkInfo",
    "endpoint_path",
    "expansion_for_aspect_ratio",
    "kind_defaults",
    "kind_table",
    "media_of",
    "request_class",
]
