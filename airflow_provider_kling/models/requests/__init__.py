"""One request model per Kling endpoint, each declaring its kind (``.base``): a module here.

:data:`REQUEST_KINDS` finds them itself (each module's request classes that declare a kind), so a new
endpoint is one more module here and nothing else in this package; each class is importable from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest, WatermarkInfo
from airflow_provider_kling.models.requests.expand import expansion_for_aspect_ratio
from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
from airflow_provider_kling.models.requests.video_base import KlingVideoRequest
from airflow_provider_kling.storage import MEDIA, MediaKind

#: Every module's own request classes by kind (a base, of no kind, is left out below).
_FOUND = {
    cls.kind: cls
    for info in pkgutil.iter_modules(__path__, f"{__name__}.")
    for cls in vars(importlib.import_module(info.name)).values()
    if isinstance(cls, type) and issubclass(cls, KlingTaskRequest) and cls.__module__ == info.name
}
#: Every request kind by its short name, in :class:`~airflow_provider_kling.kinds.RequestKind`'s order
#: (a kind without a request class is a KeyError naming it, at import).
REQUEST_KINDS: Mapping[str, type[KlingTaskRequest]] = {str(kind): _FOUND[kind] for kind in RequestKind}
globals().update({cls.__name__: cls for cls in REQUEST_KINDS.values()})
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
                style.value
                for style in ApiStyle
                if cls.takes(name, style) and (style is ApiStyle.V1 or cls.model_path_models)
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
    "ImageGenerationRequest",
    "KlingTaskRequest",
    "KlingVideoRequest",
    "WatermarkInfo",
    "endpoint_path",
    "expansion_for_aspect_ratio",
    "kind_defaults",
    "kind_table",
    "media_of",
    "request_class",
    *sorted({cls.__name__ for cls in REQUEST_KINDS.values()} - {"ImageGenerationRequest"}),
]
