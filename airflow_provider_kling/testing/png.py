"""Small, valid PNG pictures derived from a prompt, written with zlib and struct alone.

The simulator stands in for Kling's renderer: every picture is a grid of coloured tiles whose
palette and layout come from a hash of the prompt and the image index, so different prompts give
different pixels and the same prompt gives the same picture every time. The prompt's words are
written across the bottom in a built-in 5x7 bitmap font, so a contact sheet says what each
picture stands for.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import textwrap
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Long side in pixels per Kling resolution: Kling's sizes scaled down to keep tests fast.
LONG_SIDE = {"1k": 256, "2k": 512}
DEFAULT_ASPECT_RATIO = "16:9"
_TILES_ON_LONG_SIDE = 8
#: A 5x7 font: each glyph's seven rows in hex, 5 bits a row (the high bit is the left column).
_FONT = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.,'? ",
        map(
            bytes.fromhex,
            (
                "0e11111f111111 1e11111e11111e 0e11101010110e 1e11111111111e 1f10101e10101f 1f10101e101010 "
                "0e111017111f0f 1111111f111111 0e04040404040e 0702020202120c 11121418141211 1010101010101f "
                "111b1515111111 11111915131111 0e11111111110e 1e11111e101010 0e11111115120d 1e11111e141211 "
                "0f10100e01011e 1f040404040404 1111111111110e 11111111110a04 1111111515150a 11110a040a1111 "
                "1111110a040404 1f01020408101f 0e11131519110e 040c040404040e 0e11010204081f 1f02040201110e "
                "02060a121f0202 1f101e0101110e 0608101e11110e 1f010204080808 0e11110e11110e 0e11110f01020c "
                "0000001f000000 00000000000c0c 000000000c0408 04040800000000 0e110102040004 00000000000000 "
            ).split(),
        ),
        strict=True,
    )
)


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
    rows_of_pixels: list[bytearray] = []
    for row in range(rows):
        pixels = b"".join(
            _shade(palette[layout[row * cols + col] % 4], layout[row * cols + col]) * tile
            for col in range(cols)
        )
        rows_of_pixels.extend(bytearray(pixels[: width * 3]) for _ in range(min(tile, height - row * tile)))
    _caption(rows_of_pixels, width, height, prompt)
    scanlines = [b"\x00" + bytes(pixels) for pixels in rows_of_pixels]  # filter type 0 (None) per row
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


def _caption(rows: list[bytearray], width: int, height: int, text: str) -> None:
    """Write ``text``'s first words on a white band across the bottom (up to three lines)."""
    scale = max(1, width // 128)
    cell_w, cell_h = 6 * scale, 9 * scale
    per_line, most = (width - 2 * scale) // cell_w, min(3, height // (3 * cell_h))
    lines = textwrap.wrap(text.upper(), per_line)[:most] if per_line >= 4 else []
    if not lines:
        return
    top = height - len(lines) * cell_h - scale
    for y in range(top, height):
        rows[y][:] = b"\xff" * (width * 3)
    ink = b"\x20" * (3 * scale)
    for number, line in enumerate(lines):
        for position, char in enumerate(line):
            x = (2 + position * 6) * scale * 3
            for dy, bits in enumerate(_FONT.get(char, _FONT["?"])):
                y0 = top + scale + (number * 9 + dy) * scale
                for dx in (dx for dx in range(5) if bits >> (4 - dx) & 1):
                    for y in range(y0, y0 + scale):
                        rows[y][x + dx * 3 * scale : x + (dx + 1) * 3 * scale] = ink
