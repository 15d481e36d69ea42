"""Small, valid MP4 files for the simulator's video results, written with struct alone.

The layout is ISO base media (ISO/IEC 14496-12): ``ftyp``, then ``moov`` (``mvhd`` and one
video ``trak`` whose sample table points into ``mdat``), then ``mdat``. The track holds one
sample per second of placeholder H.264 data (``avc1`` with an ``avcC`` record), so a box parser
reads the right duration, size and sample count; a player shows nothing worth watching. Samples
are derived from a seed, so different prompts give different files and the same prompt the same
file. :func:`iter_mp4` streams a file of any size (the padding is in ``mdat``) without holding it.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Iterator

#: One sample per second; movie and media time in milliseconds.
TIMESCALE = 1000
#: Sizes per Kling mode, scaled down like the simulator's images (the real ones are 720p-4k).
FRAME_SIZE = {"std": (128, 72), "pro": (192, 108), "4k": (384, 216)}
_SAMPLE_BYTES = 24
_CHUNK = 1024 * 1024
_UNITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def box(kind: bytes, *payload: bytes) -> bytes:
    """One box: 32-bit size, 4-character type, payload."""
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _ftyp() -> bytes:
    return box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")


def _samples(seed: str, count: int) -> list[bytes]:
    digest = hashlib.shake_256(seed.encode()).digest(count * (_SAMPLE_BYTES - 4))
    step = _SAMPLE_BYTES - 4
    # Each sample: a 4-byte NAL length, then a NAL unit (type 5, an IDR slice) of seeded bytes.
    return [struct.pack(">I", step) + b"\x65" + digest[i * step + 1 : (i + 1) * step] for i in range(count)]


def _moov(width: int, height: int, seconds: float, samples: list[bytes], mdat_data_offset: int) -> bytes:
    duration = round(seconds * TIMESCALE)
    count = len(samples)
    mvhd = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, TIMESCALE, duration),
        struct.pack(">IH", 0x10000, 0x100),  # rate 1.0, volume 1.0
        bytes(10),
        _UNITY_MATRIX,
        bytes(24),
        struct.pack(">I", 2),  # next track id
    )
    tkhd = full_box(
        b"tkhd",
        0,
        3,  # enabled, in movie
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _UNITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full_box(
        b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, duration), struct.pack(">HH", 0x55C4, 0)
    )
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    avcc = box(
        b"avcC",
        bytes(
            [1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1]
        ),  # version, baseline profile, level 3.0, 4-byte lengths, 1 SPS
        struct.pack(">H", 4),
        b"\x67\x42\xc0\x1e",
        b"\x01",  # 1 PPS
        struct.pack(">H", 4),
        b"\x68\xce\x3c\x80",
    )
    avc1 = box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data reference index
        bytes(16),
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x480000, 0x480000),  # 72 dpi
        bytes(4),
        struct.pack(">H", 1),  # frames per sample
        bytes(32),  # compressor name
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, count, max(1, duration // max(1, count)))),
        full_box(b"stss", 0, 0, struct.pack(">I", count), *(struct.pack(">I", i + 1) for i in range(count))),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, count), *(struct.pack(">I", len(s)) for s in samples)),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, mdat_data_offset)),
    )
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    return box(b"moov", mvhd, trak)


def _layout(seed: str, seconds: float, width: int, height: int) -> tuple[bytes, list[bytes]]:
    """``ftyp`` + ``moov`` (pointing at the samples), and the samples that open ``mdat``."""
    samples = _samples(seed, max(1, round(seconds)))
    ftyp = _ftyp()
    moov_size = len(_moov(width, height, seconds, samples, 0))
    head = ftyp + _moov(width, height, seconds, samples, len(ftyp) + moov_size + 8)
    return head, samples


@functools.lru_cache(maxsize=64)
def make_mp4(seed: str, seconds: float = 5.0, width: int = 128, height: int = 72) -> bytes:
    """A small MP4 of ``seconds`` (one sample a second) whose samples depend on ``seed``."""
    head, samples = _layout(seed, seconds, width, height)
    data = b"".join(samples)
    return head + box(b"mdat", data)


def iter_mp4(
    seed: str, size: int, seconds: float = 5.0, width: int = 128, height: int = 72
) -> Iterator[bytes]:
    """An MP4 of exactly ``size`` bytes (at least :func:`make_mp4`'s), streamed: ``mdat`` is padded."""
    head, samples = _layout(seed, seconds, width, height)
    data = b"".join(samples)
    padding = size - len(head) - 8 - len(data)
    if padding < 0:
        raise ValueError(f"an MP4 of these samples needs at least {size - padding} bytes (got size={size})")
    yield head + struct.pack(">I", 8 + len(data) + padding) + b"mdat" + data
    block = bytes(_CHUNK)
    while padding > 0:
        step = min(padding, _CHUNK)
        yield block[:step]
        padding -= step


def read_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """The boxes from ``start`` to ``end``: ``(type, payload offset, payload end)``; ValueError when
    a box's size runs past its parent (what a parser checks first)."""
    end = len(data) if end is None else end
    boxes, position = [], start
    while position < end:
        if position + 8 > end:
            raise ValueError(f"a box header at {position} runs past the end ({end})")
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        if size < 8 or position + size > end:
            raise ValueError(f"box {kind!r} at {position} has size {size}, past the end ({end})")
        boxes.append((kind, position + 8, position + size))
        position += size
    return boxes
