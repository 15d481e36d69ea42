"""Small, valid PNG pictures derived from a prompt, written with zlib and struct alone.

The simulator stands in for Kling's renderer: every picture is a grid of coloured tiles whose
palette and layout come from a hash of the prompt and the image index, so different prompts give
different pixels and the same prompt gives the same picture every time.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Long side in pixels per Kling resolution: Kling's sizes scaled down to keep tests fast.
LONG_SIDE = {"1k": 256, "2k": 512}
DEFAULT_ASPECT_RATIO = "16:9"
_TILES_ON_LONG_SIDE = 8


def image_size(resolution: str | None, aspect_ratio: str | None) -> tuple[int, int]:
    """Width and height for a Kling ``resolution`` and ``aspect_ratio`` (defaults: 1k, 16:9)."""
    long_side = LONG_SIDE.get(resolution or "1k", LONG_SIDE["1k"])
    ratio_w, ratio_h = (int(part) for part in (aspect_ratio or DEFAULT_ASPECT_RATIO).split(":"))
    if ratio_w >= ratio_h:
        return long_side, max(1, round(long_side * ratio_h / ratio_w))
    return max(1, round(long_side * ratio_w / ratio_h)), long_side


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


@functools.lru_cache(maxsize=128)
def make_png(prompt: str, index: int, width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of ``width`` x ``height`` whose pixels depend on ``prompt`` and ``index``."""
    seed = hashlib.sha256(f"{index}\x00{prompt}".encode()).digest()
    tile = max(1, max(width, height) // _TILES_ON_LONG_SIDE)
    cols = -(-width // tile)
    rows = -(-height // tile)
    palette = [seed[i : i + 3] for i in range(0, 12, 3)]
    layout = hashlib.shake_256(seed).digest(cols * rows)
    scanlines = []
    for row in range(rows):
        pixels = b"".join(
            _shade(palette[layout[row * cols + col] % 4], layout[row * cols + col]) * tile
            for col in range(cols)
        )
        scanline = b"\x00" + pixels[: width * 3]  # filter type 0 (None) before each row
        scanlines.extend([scanline] * min(tile, height - row * tile))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit depth, RGB, no interlace
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(scanlines), 6))
        + _chunk(b"IEND", b"")
    )


def _shade(color: bytes, noise: int) -> bytes:
    # Lighten or darken a palette colour a little per tile, so tiles of one colour still differ.
    delta = (noise >> 2) % 48 - 24
    return bytes(min(255, max(0, channel + delta)) for channel in color)
