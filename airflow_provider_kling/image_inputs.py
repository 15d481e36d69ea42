"""Request images read from your own storage: an ``ObjectStoragePath``, a storage URI or an
earlier task's XCom result becomes base64 (docs: ``operators/endpoints.rst``). Plain local paths
are not taken: a base64 JPEG starts with ``/9j/``, so write ``file:///abs/path``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_kling.errors import KlingRequestValidationError, KlingStorageError
from airflow_provider_kling.models.reference_image import MAX_REFERENCE_IMAGE_BYTES, checked_image
from airflow_provider_kling.models.requests.base import first_output

#: A URI with a scheme; http(s) URLs go to Kling as they are.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_KLING_FORMS = ("http://", "https://")


def is_storage_reference(value: Any) -> bool:
    """Whether ``value`` names a file in the user's storage (rather than a URL or base64 for Kling)."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        return True
    if isinstance(value, Mapping):
        return bool(value.get("path"))
    return isinstance(value, str) and bool(_URI.match(value)) and not value.startswith(_KLING_FORMS)


def read_image(value: Any, where: str, conn_id: str | None = None) -> str:
    """The image ``value`` names, as bare base64; errors name ``where`` (the request field)."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, Mapping):
        value = value["path"]
    try:
        if isinstance(value, ObjectStoragePath):
            path = value
        elif conn_id and not str(value).startswith("file://"):
            path = ObjectStoragePath(value, conn_id=conn_id)
        else:  # a local file needs no connection, whatever the output store's is
            path = ObjectStoragePath(value)
    except (ValueError, ImportError) as exc:
        raise KlingRequestValidationError(f"{where}: cannot open {value}: {exc}") from None
    shown = str(value)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REFERENCE_IMAGE_BYTES + 1)
    except (ValueError, ImportError) as exc:  # an unknown scheme, or its filesystem is not installed
        raise KlingRequestValidationError(f"{where}: cannot open {shown}: {exc}") from None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise KlingRequestValidationError(
            f"{where}: no image file at {shown} ({type(exc).__name__})"
        ) from None
    except OSError as exc:
        raise KlingStorageError(f"{where}: could not read {shown}: {type(exc).__name__}: {exc}") from None
    if len(data) > MAX_REFERENCE_IMAGE_BYTES:
        raise KlingRequestValidationError(
            f"{where}: {shown} is larger than {MAX_REFERENCE_IMAGE_BYTES} bytes; Kling accepts at most 10 MB"
        )
    encoded = base64.b64encode(data).decode("ascii")
    try:
        return checked_image(encoded)
    except ValueError as exc:
        raise KlingRequestValidationError(f"{where}: {shown}: {exc}") from None


def first_image_of_result(value: Any, where: str) -> Any:
    """An image task's whole XCom result (``{"task_id", "images": [...]}``) stands for its first
    image, so ``image=upstream.output`` chains two Kling tasks; anything else is returned as is."""
    if isinstance(value, Mapping) and (value.get("path") or value.get("url")):
        return value  # one image of a result, not the result
    try:
        return first_output(value, "images")
    except ValueError as exc:
        raise KlingRequestValidationError(f"{where}: {exc}") from None


def _resolve(value: Any, where: str, conn_id: str | None) -> Any:
    value = first_image_of_result(value, where)
    if is_storage_reference(value):
        return read_image(value, where, conn_id)
    if isinstance(value, Mapping) and value.get("url"):
        return value["url"]  # an image of an XCom result that was not stored: Kling's own URL
    return value


def read_image_fields(
    fields: dict[str, Any], image_fields: tuple[str, ...], conn_id: str | None
) -> dict[str, Any]:
    """``fields`` with every image in ``image_fields`` that names stored file read into base64.

    ``image_fields`` entries are ``"field"`` (an image, or a list of images) or ``"list_field.key"``
    (a list of images, or of ``{key: image}`` objects). Nothing else is touched; nothing is read
    when no field names a file.
    """
    resolved = dict(fields)
    for spec in image_fields:
        name, _, key = spec.partition(".")
        value = resolved.get(name)
        if value is None:
            continue
        if not key and isinstance(value, list | tuple):
            resolved[name] = [_resolve(item, f"{name}.{n}", conn_id) for n, item in enumerate(value)]
            continue
        if not key:
            resolved[name] = _resolve(value, name, conn_id)
            continue
        if not isinstance(value, list | tuple):
            continue  # the request model names the type error
        items = []
        for position, item in enumerate(value):
            where = f"{name}.{position}"
            if isinstance(item, Mapping) and key in item:
                items.append({**item, key: _resolve(item[key], f"{where}.{key}", conn_id)})
            else:
                items.append(_resolve(item, where, conn_id))
        resolved[name] = items
    return resolved
