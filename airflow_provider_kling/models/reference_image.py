"""
Checks on the ``image`` field of a request: an http(s) URL, or base64 of a JPEG or PNG file.

Kling takes bare base64 (a ``data:`` prefix is stripped here) of a .jpg/.jpeg/.png file of at
most 10 MB, at least 300 pixels on each side, with an aspect ratio from 1:2.5 to 2.5:1. Anything
else it refuses after the request reached it; this refuses it first. A URL is not fetched here.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

#: Kling's limits on a reference image (``image``): file size in bytes, shortest side in
#: pixels, and the longer side at most this many times the shorter (1:2.5 to 2.5:1).
MAX_REFERENCE_IMAGE_BYTES = 10 * 1024 * 1024
MIN_REFERENCE_IMAGE_SIDE = 300
MAX_REFERENCE_IMAGE_RATIO = 2.5

_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
# JPEG start-of-frame markers (they carry the size); C4, C8 and CC are other segments.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_format(data: bytes) -> str | None:
    """``"PNG"`` or ``"JPEG"`` from the file's first bytes, ``None`` for anything else."""
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's start-of-frame, ``None`` when unreadable."""
    if data.startswith(_PNG):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(_JPEG):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came first
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _JPEG_SOF:
            if pos + 9 > len(data) or length < 7:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        pos += 2 + length
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
    _check_image_file(data)
    return value


def _check_image_file(data: bytes) -> None:
    kind = image_format(data)
    if kind is None:
        raise ValueError(
            f"base64 data must decode to a JPEG or PNG file (Kling accepts .jpg/.jpeg/.png); "
            f"it starts with {data[:8]!r}"
        )
    if len(data) > MAX_REFERENCE_IMAGE_BYTES:
        raise ValueError(
            f"the image is {len(data)} bytes; Kling accepts at most {MAX_REFERENCE_IMAGE_BYTES} (10 MB)"
        )
    size = image_size(data)
    if size is None:
        raise ValueError(f"the {kind} file is cut short or malformed: its width and height cannot be read")
    width, height = size
    if min(width, height) < MIN_REFERENCE_IMAGE_SIDE:
        raise ValueError(
            f"the image is {width}x{height} pixels; "
            f"Kling needs at least {MIN_REFERENCE_IMAGE_SIDE} on each side"
        )
    if max(width, height) > MAX_REFERENCE_IMAGE_RATIO * min(width, height):
        raise ValueError(
            f"the image is {width}x{height} pixels; Kling accepts aspect ratios from "
            f"1:{MAX_REFERENCE_IMAGE_RATIO} to {MAX_REFERENCE_IMAGE_RATIO}:1"
        )


#: Images on model-path creates: a URL or bare base64 of at most 50 MB.
MAX_MODEL_PATH_IMAGE_BYTES = 50 * 1024 * 1024


def check_model_path_image(value: str) -> str:
    """An image on a model-path create: an http(s) URL, or bare base64 of at most 50 MB."""
    if value.startswith(("http://", "https://")):
        return value
    if value[:5].lower() == "data:":
        raise ValueError("must be an http(s) URL or bare base64 (without a 'data:' prefix)")
    if len(value) > MAX_MODEL_PATH_IMAGE_BYTES * 4 // 3 + 4:
        raise ValueError(f"must be at most {MAX_MODEL_PATH_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be an http(s) URL or base64 image data") from None
    return value
