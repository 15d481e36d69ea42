"""Small, valid MP4 files for the simulator's video results, written with struct alone.

The layout is ISO base media (ISO/IEC 14496-12): ``ftyp``, then ``moov`` (``mvhd`` and one
video ``trak`` whose sample table points into ``mdat``), then ``mdat``. The track holds one frame
a second of real H.264 (baseline profile, ``avc1`` with its ``avcC`` record): each frame an IDR
picture of uncompressed I_PCM macroblocks, so a browser plays it with no encoder here. The
colours come from a hash of the seed, so different prompts give different files and the same
prompt the same file, and a bright square moves across from frame to frame. :func:`iter_mp4`
streams a file of any size (the padding is in ``mdat``) without holding it.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
from collections.abc import Iterator

#: One sample per second; movie and media time in milliseconds.
TIMESCALE = 1000
#: Sizes per Kling mode, scaled down like the simulator's images (the real ones are 720p-4k).
FRAME_SIZE = {"std": (128, 72), "pro": (192, 108), "4k": (384, 216)}
#: Sample values stay in video range (16-235): no PCM byte is 0, so no start code can appear in it.
_LOW, _HIGH = 16, 235
_START_CODE_LIKE = re.compile(b"\x00\x00(?=[\x00-\x03])")
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


class _Bits:
    """An H.264 RBSP: fixed-width and Exp-Golomb fields bit by bit, sample bytes once aligned."""

    def __init__(self) -> None:
        self.out, self.acc, self.count = bytearray(), 0, 0

    def u(self, width: int, value: int) -> _Bits:
        self.acc, self.count = (self.acc << width) | value, self.count + width
        while self.count >= 8:
            self.count -= 8
            self.out.append((self.acc >> self.count) & 0xFF)
        self.acc &= (1 << self.count) - 1
        return self

    def ue(self, *values: int) -> _Bits:
        for value in values:
            self.u(2 * (value + 1).bit_length() - 1, value + 1)
        return self

    def align(self) -> _Bits:
        return self.u(-self.count % 8, 0)

    def nal(self, header: int) -> bytes:
        """The NAL unit: header byte, RBSP with its stop bit, emulation prevention bytes."""
        payload = bytes(self.u(1, 1).align().out)
        return bytes([header]) + _START_CODE_LIKE.sub(b"\x00\x00\x03", payload)


def _parameter_sets(width: int, height: int) -> tuple[bytes, bytes]:
    """The SPS (baseline, level 3.0, cropped to ``width`` x ``height``) and the PPS."""
    mbs_w, mbs_h = -(-width // 16), -(-height // 16)
    sps = _Bits().u(8, 66).u(8, 0xC0).u(8, 30).ue(0, 0, 2, 1).u(1, 0).ue(mbs_w - 1, mbs_h - 1)
    sps.u(3, 0b111)  # frame_mbs_only, direct_8x8_inference, frame_cropping
    sps.ue(0, (mbs_w * 16 - width) // 2, 0, (mbs_h * 16 - height) // 2).u(1, 0)  # crops; no VUI
    pps = _Bits().ue(0, 0).u(2, 0).ue(0, 0, 0).u(3, 0).ue(0, 0, 0).u(3, 0b100)  # se(0) is ue(0)
    return sps.nal(0x67), pps.nal(0x68)


def _frame(seed: bytes, number: int, frames: int, width: int, height: int) -> bytes:
    """One IDR picture: a vertical gradient of the seed's colour, a bright square at ``number``'s place."""
    mbs_w, mbs_h = -(-width // 16), -(-height // 16)
    plane_w, plane_h = mbs_w * 16, mbs_h * 16
    luma = bytearray()
    for y in range(plane_h):
        luma += bytes([_LOW + (seed[0] % 120) + y * 80 // plane_h]) * plane_w
    side = min(plane_h // 2, plane_w // 4) // 2 * 2
    left = (plane_w - side) * number // max(1, frames - 1) // 2 * 2
    top = (plane_h - side) // 2
    for y in range(top, top + side):
        luma[y * plane_w + left : y * plane_w + left + side] = bytes([_HIGH]) * side
    cb, cr = _LOW + seed[1] % 200, _LOW + seed[2] % 200
    chroma_row = [bytes([cb]), bytes([cr])]
    bits = _Bits().ue(0, 7, 0).u(4, 0).ue(number).u(2, 0).ue(0, 1)  # I slice, IDR, no deblocking
    for mb_y in range(mbs_h):
        for mb_x in range(mbs_w):
            bits.ue(25).align()  # I_PCM, then its samples byte-aligned
            start = mb_y * 16 * plane_w + mb_x * 16
            bits.out += b"".join(
                luma[start + row * plane_w : start + row * plane_w + 16] for row in range(16)
            )
            for value in chroma_row:
                square = left <= mb_x * 16 < left + side and top <= mb_y * 16 < top + side
                bits.out += (bytes([128]) if square else value) * 64
    return bits.nal(0x65)


def _samples(seed: str, count: int, width: int, height: int) -> list[bytes]:
    """One length-prefixed IDR frame per sample."""
    digest = hashlib.sha256(seed.encode()).digest()
    frames = [_frame(digest, number, count, width, height) for number in range(count)]
    return [struct.pack(">I", len(frame)) + frame for frame in frames]


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
    sps, pps = _parameter_sets(width, height)
    avcc = box(
        b"avcC",
        bytes([1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1]),  # version, baseline, level 3.0, 4-byte lengths, 1 SPS
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",  # 1 PPS
        struct.pack(">H", len(pps)),
        pps,
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
    samples = _samples(seed, max(1, round(seconds)), width, height)
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
