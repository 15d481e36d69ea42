"""
One request model per Kling endpoint (images and video); every one runs on the same task lifecycle.

Each kind is a :class:`KlingTaskRequest` subclass that names its path and holds its rules as
data; the hook, the resume logic, the trigger and storage take any of them. A new endpoint is
one more module here and one more row in :data:`REQUEST_KINDS`.

| kind | path | module |
|---|---|---|
| ``generations`` | ``/v1/images/generations`` | :mod:`.generations` |
| ``omni-image`` | ``/v1/images/omni-image`` | :mod:`.omni_image` |
| ``multi-image2image`` | ``/v1/images/multi-image2image`` | :mod:`.multi_image` |
| ``expand`` | ``/v1/images/editing/expand`` | :mod:`.expand` |
| ``virtual-try-on`` | ``/v1/images/kolors-virtual-try-on`` | :mod:`.virtual_try_on` |
| ``text2video`` | ``/v1/videos/text2video`` | :mod:`.video_text2video` |
| ``image2video`` | ``/v1/videos/image2video`` | :mod:`.video_image2video` |
| ``omni-video`` | ``/v1/videos/omni-video`` | :mod:`.video_omni` |
| ``video-extend`` | ``/v1/videos/video-extend`` | :mod:`.video_extend` |
| ``multi-image2video`` | ``/v1/videos/multi-image2video`` | :mod:`.video_multi_image` |

Video kinds share :class:`.video_base.KlingVideoRequest` (``output = "video"``, one slot per task).
| ``new-text-to-video`` ... | ``/text-to-video/{model}`` ... (new-style) | :mod:`..new_style` |

A new-style kind's ``path`` is the path without the model; it is created at ``create_path``
(``{path}/{model_name}``) and queried through ``GET /tasks``.
"""

from __future__ import annotations

from collections.abc import Mapping

from airflow_provider_kling.models.requests.base import KlingTaskRequest, WatermarkInfo
from airflow_provider_kling.models.requests.expand import (
    EXPAND_PATH,
    ExpandImageRequest,
    expansion_for_aspect_ratio,
)
from airflow_provider_kling.models.requests.generations import GENERATIONS_PATH, ImageGenerationRequest
from airflow_provider_kling.models.requests.multi_image import MULTI_IMAGE_PATH, MultiImageRequest
from airflow_provider_kling.models.requests.omni_image import OMNI_IMAGE_PATH, OMNI_MODELS, OmniImageRequest
from airflow_provider_kling.models.requests.video_base import KlingVideoRequest
from airflow_provider_kling.models.requests.video_extend import VIDEO_EXTEND_PATH, VideoExtendRequest
from airflow_provider_kling.models.requests.video_image2video import IMAGE2VIDEO_PATH, ImageToVideoRequest
from airflow_provider_kling.models.requests.video_multi_image import (
    MULTI_IMAGE2VIDEO_PATH,
    MultiImageToVideoRequest,
)
from airflow_provider_kling.models.requests.video_omni import OMNI_VIDEO_PATH, OmniVideoRequest
from airflow_provider_kling.models.requests.video_text2video import TEXT2VIDEO_PATH, TextToVideoRequest
from airflow_provider_kling.models.requests.virtual_try_on import VIRTUAL_TRY_ON_PATH, VirtualTryOnRequest


def _new_style_kinds() -> tuple[type[KlingTaskRequest], ...]:
    # models.new_style imports requests.base: imported here, after this package's own modules.
    from airflow_provider_kling.models.new_style import NEW_STYLE_KINDS

    return tuple(NEW_STYLE_KINDS.values())


#: Every request kind by its short name.
_KINDS: tuple[type[KlingTaskRequest], ...] = (
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
    *_new_style_kinds(),
)
REQUEST_KINDS: Mapping[str, type[KlingTaskRequest]] = {cls.kind: cls for cls in _KINDS}
#: Every endpoint path this provider speaks.
ENDPOINT_PATHS: tuple[str, ...] = tuple(cls.path for cls in REQUEST_KINDS.values())


def request_class(kind: str) -> type[KlingTaskRequest]:
    """The request model of ``kind``; a clear error naming the kinds there are otherwise."""
    try:
        return REQUEST_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown Kling request kind {kind!r}: one of {', '.join(REQUEST_KINDS)}") from None


def endpoint_path(kind_or_path: str) -> str:
    """The path of an endpoint given by kind (``"expand"``) or by path; ValueError naming both lists."""
    if kind_or_path in REQUEST_KINDS:
        return REQUEST_KINDS[kind_or_path].path
    if kind_or_path in ENDPOINT_PATHS:
        return kind_or_path
    raise ValueError(
        f"unknown Kling endpoint {kind_or_path!r}: a kind ({', '.join(REQUEST_KINDS)}) "
        f"or a path ({', '.join(ENDPOINT_PATHS)})"
    )


def check_endpoint(path: str) -> str:
    """``path`` when it is one of this provider's endpoints, else ValueError naming them."""
    if path not in ENDPOINT_PATHS:
        raise ValueError(f"unknown Kling endpoint {path!r}: one of {', '.join(ENDPOINT_PATHS)}")
    return path


__all__ = [
    "ENDPOINT_PATHS",
    "EXPAND_PATH",
    "GENERATIONS_PATH",
    "IMAGE2VIDEO_PATH",
    "MULTI_IMAGE2VIDEO_PATH",
    "MULTI_IMAGE_PATH",
    "OMNI_IMAGE_PATH",
    "OMNI_MODELS",
    "OMNI_VIDEO_PATH",
    "REQUEST_KINDS",
    "TEXT2VIDEO_PATH",
    "VIDEO_EXTEND_PATH",
    "VIRTUAL_TRY_ON_PATH",
    "ExpandImageRequest",
    "ImageGenerationRequest",
    "ImageToVideoRequest",
    "KlingTaskRequest",
    "KlingVideoRequest",
    "MultiImageRequest",
    "MultiImageToVideoRequest",
    "OmniImageRequest",
    "OmniVideoRequest",
    "TextToVideoRequest",
    "VideoExtendRequest",
    "VirtualTryOnRequest",
    "WatermarkInfo",
    "check_endpoint",
    "endpoint_path",
    "expansion_for_aspect_ratio",
    "request_class",
]
