"""Small, valid PNG pictures of a prompt, written with zlib and struct alone.

The simulator stands in for Kling's renderer: :func:`scene` paints a landscape (a sky gradient,
a sun and two hills) whose colours and layout come from a hash of the prompt and the image index,
and writes the prompt on it in a built-in 5x7 bitmap font: its subject (the words before the first
comma) large on a light card, the rest small on a dark band. Different prompts give different
pixels, the same prompt the same picture every time. :mod:`.mp4` paints its frames with it too.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import math
import struct
import textwrap
import zlib
from collections.abc import Callable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Long side in pixels per Kling resolution: Kling's sizes scaled down to keep tests fast.
LONG_SIDE = {"1k": 256, "2k": 512}
DEFAULT_ASPECT_RATIO = "16:9"
#: A 5x7 font: each glyph's seven rows in hex, 5 bits a row (the high bit is the left column).
FONT = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.,'? :/!()&+\"#%",
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
                "000c0c000c0c00 00010204081000 04040404040004 02040808080402 08040202020408 0c12140815120d "
                "0004041f040400 0a0a0a00000000 0a0a1f0a1f0a0a 18190204081303"
            ).split(),
        ),
        strict=True,
    )
)
#: Colour of the writing and of what it is written on: the subject's card, the details' band.
CARD, INK, BAND, PAPER = (250, 248, 240), (28, 28, 36), (24, 26, 34), (236, 236, 230)
Colour = tuple[int, int, int]


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
    """An 8-bit RGB PNG of ``width`` x ``height`` showing ``prompt``; its scene depends on ``index`` too.

    ``prompt`` may end in ``"\\x00watermark"`` (the watermarked copy): a "KLING" mark is added."""
    pixels = scene(prompt, index, width, height)
    row = width * 3
    scanlines = b"".join(b"\x00" + pixels[y * row : (y + 1) * row] for y in range(height))  # filter 0
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit depth, RGB, no interlace
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(scanlines, 9))
        + _chunk(b"IEND", b"")
    )


def scene(
    prompt: str,
    index: int,
    width: int,
    height: int,
    phase: float | None = None,
    colour: Callable[[Colour], Colour] = lambda rgb: rgb,
) -> bytearray:
    """``width * height`` pixels of three bytes, row by row: the picture of ``prompt``.

    ``phase`` (0 to 1) places the sun along its arc and draws a progress bar across the top (a
    video's frames); without it the sun's place comes from the prompt. ``colour`` maps each RGB
    colour to the three bytes written (:mod:`.mp4` paints in YCbCr)."""
    text, _, mark = prompt.partition("\x00")
    seed = hashlib.sha256(f"{index}\x00{prompt}".encode()).digest()
    hue = seed[0] / 255

    def hsv(shift: float, saturation: float, value: float) -> bytes:
        rgb = colorsys.hsv_to_rgb((hue + shift) % 1, saturation, value)
        return bytes(colour((round(rgb[0] * 255), round(rgb[1] * 255), round(rgb[2] * 255))))

    row = width * 3
    pixels = bytearray(row * height)
    top, bottom = colorsys.hsv_to_rgb(hue, 0.55, 0.85), colorsys.hsv_to_rgb((hue + 0.1) % 1, 0.25, 1.0)
    for y in range(height):
        mix = y / max(1, height - 1)
        r, g, b = (round(255 * (high + (low - high) * mix)) for high, low in zip(top, bottom, strict=True))
        pixels[y * row : (y + 1) * row] = bytes(colour((r, g, b))) * width
    at = seed[1] / 255 if phase is None else phase
    sun_x, sun_y = width * (0.1 + 0.8 * at), height * (0.66 - 0.16 * math.sin(math.pi * at))
    _disc(pixels, width, height, sun_x, sun_y, min(width, height) / 9, hsv(0.5, 0.65, 1.0))
    for number, (shift, value) in enumerate(((0.3, 0.6), (0.36, 0.42))):
        x = width * (0.15 + 0.7 * seed[2 + number] / 255)
        radius = width * (0.45 + 0.3 * seed[4 + number] / 255)
        _disc(
            pixels, width, height, x, height * (0.72 + 0.12 * number) + radius, radius, hsv(shift, 0.5, value)
        )
    if phase is not None:
        _box(pixels, width, 0, 0, round(width * phase), max(2, height // 36), hsv(0.5, 0.65, 1.0))
    subject, _, details = text.partition(",")
    scale = max(1, round(width / 128))
    most = min(5, height * 6 // (10 * 9 * scale))  # the subject covers at most 60% of the height
    _write(pixels, width, height, subject, scale, most, height // 10, colour(CARD), colour(INK))
    small = max(1, scale // 2)
    lines = min(2, (height // 3) // (9 * small))
    _write(pixels, width, height, details, small, lines, None, colour(BAND), colour(PAPER))
    if mark:
        _write(pixels, width, height, "KLING", small, 1, 0, colour(BAND), colour(PAPER), right=True)
    return pixels


def _box(pixels: bytearray, width: int, x0: int, y0: int, x1: int, y1: int, paint: bytes) -> None:
    x0, x1 = max(0, x0), min(width, x1)
    if x1 > x0:
        for y in range(max(0, y0), min(len(pixels) // (width * 3), y1)):
            pixels[(y * width + x0) * 3 : (y * width + x1) * 3] = paint * (x1 - x0)


def _disc(pixels: bytearray, width: int, height: int, cx: float, cy: float, r: float, paint: bytes) -> None:
    for y in range(max(0, math.ceil(cy - r)), min(height, math.floor(cy + r) + 1)):
        half = math.sqrt(max(0.0, r * r - (y - cy) ** 2))
        _box(pixels, width, round(cx - half), y, round(cx + half) + 1, y + 1, paint)


def _write(
    pixels: bytearray,
    width: int,
    height: int,
    text: str,
    scale: int,
    most: int,
    top: int | None,
    ground: Colour,
    ink: Colour,
    right: bool = False,
) -> None:
    """Write up to ``most`` lines of ``text``, each centred on its own ``ground``, from ``top`` down
    (``None``: on a full-width band at the bottom; ``right``: in the top right corner)."""
    per_line = (width - 4 * scale) // (6 * scale)
    words = " ".join(text.upper().split())
    lines = (
        textwrap.wrap(words, per_line, max_lines=most, placeholder=" ...") if per_line >= 4 and most else []
    )
    if not lines:
        return
    cell = 9 * scale
    if top is None:
        top = height - len(lines) * cell - scale
        _box(pixels, width, 0, top - scale, width, height, bytes(ground))
    paint = bytes(ink)
    for number, line in enumerate(lines):
        span = len(line) * 6 * scale - scale
        left = width - span - 2 * scale if right else (width - span) // 2
        y0 = top + number * cell
        _box(pixels, width, left - 2 * scale, y0, left + span + 2 * scale, y0 + cell, bytes(ground))
        for position, char in enumerate(line):
            for dy, bits in enumerate(FONT.get(char, FONT["?"])):
                y = y0 + scale + dy * scale
                for dx in (dx for dx in range(5) if bits >> (4 - dx) & 1):
                    x = left + (position * 6 + dx) * scale
                    _box(pixels, width, x, y, x + scale, y + scale, paint)
