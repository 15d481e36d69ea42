"""Small, valid MP4 files for the simulator's video results, written with struct alone.

The layout is ISO base media (ISO/IEC 14496-12): ``ftyp``, then ``moov`` (``mvhd`` and one
video ``trak`` whose sample table points into ``mdat``), then ``mdat``. The track is H.264
(Constrained Baseline, ``avc1``) that browsers play, written by hand in its simplest form: every
macroblock is either ``I_PCM`` (its pixels, uncompressed) or skipped (copied from the previous
frame). The first frame is painted whole; each later one sends only the macroblocks that changed:
:func:`.png.scene` draws the prompt's words while the sun moves and a progress bar grows, so a
5 s video stays a few tens of kilobytes. Frames depend on the prompt, so different prompts give
different files and the same prompt the same file. :func:`iter_mp4` streams a file of any size
(the padding is in ``mdat``) without holding it.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Iterator

from airflow_provider_kling.testing.png import scene

#: Movie and media time in milliseconds; frames a second.
TIMESCALE, FPS = 1000, 4
#: Sizes per Kling mode, scaled down like the simulator's images (the real ones are 720p-4k).
FRAME_SIZE = {"std": (128, 72), "pro": (192, 108), "4k": (384, 216)}
_CHUNK = 1024 * 1024
_UNITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_LEVEL = 30  # H.264 level 3.0: up to 720x576, far above these sizes


def box(kind: bytes, *payload: bytes) -> bytes:
    """One box: 32-bit size, 4-character type, payload."""
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _ftyp() -> bytes:
    return box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")


class _Bits:
    """An H.264 RBSP writer: fixed-width fields, Exp-Golomb codes and raw bytes once aligned."""

    def __init__(self) -> None:
        self.out, self.value, self.count = bytearray(), 0, 0

    def u(self, bits: int, value: int) -> _Bits:
        self.value, self.count = (self.value << bits) | value, self.count + bits
        while self.count >= 8:
            self.count -= 8
            self.out.append(self.value >> self.count & 0xFF)
        self.value &= (1 << self.count) - 1
        return self

    def ue(self, value: int) -> _Bits:
        length = (value + 1).bit_length()
        return self.u(length - 1, 0).u(length, value + 1)

    def align(self) -> _Bits:
        return self.u(-self.count % 8, 0)

    def raw(self, data: bytes) -> _Bits:
        self.out += data  # only when aligned
        return self

    def nal(self, header: int) -> bytes:
        """The NAL unit: ``header``, then the RBSP with its stop bit and emulation prevention."""
        rbsp = bytes(self.u(1, 1).align().out)
        return bytes([header]) + re.sub(b"\x00\x00(?=[\x00-\x03])", b"\x00\x00\x03", rbsp)


def _parameter_sets(width: int, height: int) -> tuple[bytes, bytes]:
    """SPS and PPS: Constrained Baseline, 8-bit frame_num, POC type 2, the frame cropped to size."""
    sps = _Bits().u(8, 66).u(8, 0xC0).u(8, _LEVEL).ue(0).ue(4).ue(2).ue(1).u(1, 0)
    sps.ue(-(-width // 16) - 1).ue(-(-height // 16) - 1).u(1, 1).u(1, 1)
    right, bottom = (-width % 16) // 2, (-height % 16) // 2  # in 2-pixel units (4:2:0)
    if right or bottom:
        sps.u(1, 1).ue(0).ue(right).ue(0).ue(bottom)
    else:
        sps.u(1, 0)
    pps = _Bits().ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0).ue(0).ue(0).ue(0)
    return sps.u(1, 0).nal(0x67), pps.u(1, 1).u(1, 0).u(1, 0).nal(0x68)


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb  # BT.601, video range; never 0 (which old decoders refuse in PCM samples)
    return (
        round(16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256),
        round(128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256),
        round(128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256),
    )


def _macroblocks(prompt: str, phase: float, width: int, height: int) -> list[bytes]:
    """One frame as the PCM bytes of each macroblock (16x16 Y, then 8x8 Cb and 8x8 Cr), in order."""
    columns, rows = -(-width // 16), -(-height // 16)
    pixels = scene(prompt, 0, width, height, phase, _ycbcr)
    padded_width = columns * 16
    lines = [pixels[y * width * 3 : (y + 1) * width * 3] for y in range(height)]
    lines = [line + line[-3:] * (padded_width - width) for line in lines]  # repeat the edges
    lines += [lines[-1]] * (rows * 16 - height)
    luma = [bytes(line[0::3]) for line in lines]
    blue = [bytes(line[1::6]) for line in lines[0::2]]
    red = [bytes(line[2::6]) for line in lines[0::2]]
    return [
        b"".join(luma[y][x * 16 : x * 16 + 16] for y in range(row * 16, row * 16 + 16))
        + b"".join(plane[y][x * 8 : x * 8 + 8] for plane in (blue, red) for y in range(row * 8, row * 8 + 8))
        for row in range(rows)
        for x in range(columns)
    ]


def _frames(prompt: str, count: int, width: int, height: int) -> list[bytes]:
    """``count`` samples (a 4-byte length, then a slice NAL unit): an IDR frame, then P frames."""
    samples, previous = [], None
    for number in range(count):
        blocks = _macroblocks(prompt, number / max(1, count - 1), width, height)
        bits = _Bits().ue(0).ue(7 if previous is None else 5).ue(0).u(8, number % 256)
        if previous is None:
            bits.ue(0).u(1, 0).u(1, 0)  # idr_pic_id, no_output_of_prior_pics, long_term_reference
        else:
            bits.u(1, 0).u(1, 0).u(1, 0)  # no ref count override, no list change, sliding window
        bits.ue(0).ue(1)  # slice_qp_delta 0 (as se), deblocking off
        skipped = 0
        for number_of_block, block in enumerate(blocks):
            if previous is not None and previous[number_of_block] == block:
                skipped += 1
                continue
            if previous is not None:
                bits.ue(skipped)
                skipped = 0
            bits.ue(25 if previous is None else 30).align().raw(block)  # I_PCM (mb_type 25, or 5 + 25)
        if skipped:
            bits.ue(skipped)
        nal = bits.nal(0x65 if previous is None else 0x41)
        samples.append(struct.pack(">I", len(nal)) + nal)
        previous = blocks
    return samples


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
    avcc = box(  # version, profile, compatibility, level, 4-byte lengths, one SPS, one PPS
        b"avcC",
        b"\x01" + sps[1:4],
        b"\xff\xe1",
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
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
        full_box(b"stss", 0, 0, struct.pack(">II", 1, 1)),  # the first frame is the only key frame
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, count), *(struct.pack(">I", len(s)) for s in samples)),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, mdat_data_offset)),
    )
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    return box(b"moov", mvhd, trak)


@functools.lru_cache(maxsize=64)
def _layout(prompt: str, seconds: float, width: int, height: int) -> tuple[bytes, list[bytes]]:
    """``ftyp`` + ``moov`` (pointing at the samples), and the frames that open ``mdat``."""
    width, height = width + width % 2, height + height % 2  # 4:2:0 crops in steps of 2
    samples = _frames(prompt, max(1, round(seconds * FPS)), width, height)
    ftyp = _ftyp()
    moov_size = len(_moov(width, height, seconds, samples, 0))
    head = ftyp + _moov(width, height, seconds, samples, len(ftyp) + moov_size + 8)
    return head, samples


def make_mp4(prompt: str, seconds: float = 5.0, width: int = 128, height: int = 72) -> bytes:
    """A small MP4 of ``seconds`` (:data:`FPS` frames a second) showing ``prompt`` (:func:`.png.scene`)."""
    head, samples = _layout(prompt, seconds, width, height)
    data = b"".join(samples)
    return head + box(b"mdat", data)


def iter_mp4(
    prompt: str, size: int, seconds: float = 5.0, width: int = 128, height: int = 72
) -> Iterator[bytes]:
    """An MP4 of exactly ``size`` bytes (at least :func:`make_mp4`'s), streamed: ``mdat`` is padded."""
    head, samples = _layout(prompt, seconds, width, height)
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
