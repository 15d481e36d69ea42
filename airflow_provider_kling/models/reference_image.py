"""
Checks on the ``image`` field of a request: an http(s) URL, or base64 of a JPEG or PNG file.

Kling takes bare base64 (a ``data:`` prefix is stripped here) of a .jpg/.jpeg/.png file of at
most 10 MB. Anything else it refuses after the request reached it; this refuses it first.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from airflow_provider_kling.models.capabilities import MAX_REFERENCE_IMAGE_BYTES

_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)
#: The leading bytes of the file formats Kling accepts.
_MAGIC: tuple[tuple[bytes, str], ...] = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))


def image_format(data: bytes) -> str | None:
    """``"PNG"`` or ``"JPEG"`` from the file's first bytes, ``None`` for anything else."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def checked_image(value: str) -> str:
    """``value`` as Kling wants it (a URL, or bare base64 of a JPEG/PNG), or ValueError saying why not."""
    if value.startswith(("http://", "https://")):
        if not urlsplit(value).hostname:
            raise ValueError("an http(s) URL needs a host name")
        return value
    if value[:5].lower() == "data:":
        prefix = _DATA_URI.match(value)
        if prefix is None:
            raise ValueError("a data: URI must be of the form data:<mime>;base64,<data>")
        value = value[prefix.end() :]
        if not value:
            raise ValueError("the data: URI carries no image data after 'base64,'")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be an http(s) URL or base64-encoded image data") from None
    if image_format(data) is None:
        raise ValueError(
            f"base64 data must decode to a JPEG or PNG file (Kling accepts .jpg/.jpeg/.png); "
            f"it starts with {data[:8]!r}"
        )
    if len(data) > MAX_REFERENCE_IMAGE_BYTES:
        raise ValueError(
            f"the image is {len(data)} bytes; Kling accepts at most {MAX_REFERENCE_IMAGE_BYTES} (10 MB)"
        )
    return value
