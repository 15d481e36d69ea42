"""testing/mp4.py: the simulator's MP4 files are ISO media a box parser accepts, of the asked length,
whose H.264 track decodes (read here field by field) to frames that change and show the prompt."""

from __future__ import annotations

import itertools
import re
import struct

import pytest

from airflow_provider_kling.testing import mp4, png


def _child(data: bytes, parent: tuple[bytes, int, int], kind: bytes, skip: int = 0) -> tuple[bytes, int, int]:
    boxes = mp4.read_boxes(data, parent[1] + skip, parent[2])
    return next(box for box in boxes if box[0] == kind)


def test_a_made_mp4_is_ftyp_moov_mdat_with_its_duration_and_samples_in_mdat():
    data = mp4.make_mp4("a lighthouse", seconds=10, width=128, height=72)

    ftyp, moov, mdat = mp4.read_boxes(data)
    assert [ftyp[0], moov[0], mdat[0]] == [b"ftyp", b"moov", b"mdat"]
    assert data[4:12] == b"ftypisom"
    mvhd = _child(data, moov, b"mvhd")
    timescale, duration = struct.unpack(">II", data[mvhd[1] + 12 : mvhd[1] + 20])
    assert duration / timescale == 10
    trak = _child(data, moov, b"trak")
    stbl = _child(data, _child(data, _child(data, trak, b"mdia"), b"minf"), b"stbl")
    stsz = _child(data, stbl, b"stsz")
    sizes = struct.unpack(">II", data[stsz[1] + 4 : stsz[1] + 12])
    stco = _child(data, stbl, b"stco")
    (offset,) = struct.unpack(">I", data[stco[1] + 8 : stco[1] + 12])
    assert sizes[1] == 10 * mp4.FPS  # one sample a frame
    assert offset == mdat[1]  # the chunk offset points at the first sample in mdat
    stsd = _child(data, stbl, b"stsd")
    avc1 = _child(data, stsd, b"avc1", skip=8)
    assert struct.unpack(">HH", data[avc1[1] + 24 : avc1[1] + 28]) == (128, 72)
    assert _child(data, avc1, b"avcC", skip=78)[0] == b"avcC"


def test_different_prompts_make_different_files_and_the_same_prompt_the_same():
    assert mp4.make_mp4("a", 5) == mp4.make_mp4("a", 5) != mp4.make_mp4("b", 5)


def test_a_streamed_mp4_has_exactly_the_asked_size_and_still_parses():
    size = 3 * 1024 * 1024 + 17
    data = b"".join(mp4.iter_mp4("big", size, seconds=5))

    assert len(data) == size
    assert [kind for kind, _, _ in mp4.read_boxes(data)] == [b"ftyp", b"moov", b"mdat"]
    with pytest.raises(ValueError, match="needs at least"):
        next(mp4.iter_mp4("big", 100))


def test_a_cut_file_fails_the_parser():
    data = mp4.make_mp4("a", 5)
    with pytest.raises(ValueError, match="past the end"):
        mp4.read_boxes(data[:-10])


class _Reader:
    """Reads an H.264 RBSP: fixed-width fields, Exp-Golomb codes, aligned bytes."""

    def __init__(self, nal: bytes) -> None:
        self.data = re.sub(b"\x00\x00\x03", b"\x00\x00", nal[1:])  # drop emulation prevention
        self.bits, self.size, self.pos = int.from_bytes(self.data, "big"), len(self.data) * 8, 0

    def u(self, count: int) -> int:
        self.pos += count
        return self.bits >> (self.size - self.pos) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def raw(self, count: int) -> bytes:
        self.pos += -self.pos % 8  # pcm_alignment_zero_bits
        start = self.pos // 8
        self.pos += 8 * count
        return self.data[start : start + count]

    def end(self) -> None:
        assert self.u(1) == 1 and self.u(self.size - self.pos) == 0  # the stop bit, then zeros


def decode(data: bytes) -> tuple[int, int, list[list[bytes]]]:
    """Width, height and every frame's macroblocks (PCM bytes), decoding the MP4's H.264 track as
    written (I_PCM and skipped macroblocks only): a check of the bitstream's syntax, field by field."""
    _, moov, mdat = mp4.read_boxes(data)
    stbl = _child(data, _child(data, _child(data, _child(data, moov, b"trak"), b"mdia"), b"minf"), b"stbl")
    avc1 = _child(data, _child(data, stbl, b"stsd"), b"avc1", skip=8)
    avcc = _child(data, avc1, b"avcC", skip=78)
    record = data[avcc[1] : avcc[2]]
    assert record[:6] == bytes([1, 66, 0xC0, 30, 0xFF, 0xE1])  # Constrained Baseline 3.0, one SPS
    (sps_size,) = struct.unpack(">H", record[6:8])
    sps = _Reader(record[8 : 8 + sps_size])
    assert record[8] & 0x1F == 7 and record[8 + sps_size : 9 + sps_size] == b"\x01"
    assert (sps.u(8), sps.u(8), sps.u(8), sps.ue(), sps.ue(), sps.ue(), sps.ue(), sps.u(1)) == (
        *(66, 0xC0, 30, 0, 4, 2, 1, 0),  # profile, flags, level, id, frame_num bits - 4, POC type, refs
    )
    columns, rows = sps.ue() + 1, sps.ue() + 1
    assert (sps.u(1), sps.u(1)) == (1, 1)
    crop = [sps.ue() for _ in range(4)] if sps.u(1) else [0, 0, 0, 0]
    assert sps.u(1) == 0  # no VUI
    sps.end()
    stsz = _child(data, stbl, b"stsz")
    sizes = struct.unpack(
        f">{struct.unpack('>I', data[stsz[1] + 8 : stsz[1] + 12])[0]}I", data[stsz[1] + 12 : stsz[2]]
    )
    position, frames = mdat[1], []
    for number, size in enumerate(sizes):
        (length,) = struct.unpack(">I", data[position : position + 4])
        assert length + 4 == size
        nal = data[position + 4 : position + size]
        position += size
        assert nal[0] == (0x65 if number == 0 else 0x41)  # an IDR slice, then reference P slices
        slice_ = _Reader(nal)
        assert (slice_.ue(), slice_.ue(), slice_.ue(), slice_.u(8)) == (0, 7 if number == 0 else 5, 0, number)
        marking = [slice_.ue(), slice_.u(1), slice_.u(1)] if number == 0 else [slice_.u(1) for _ in range(3)]
        assert marking == [0, 0, 0]  # idr_pic_id and marking flags, or no overrides, sliding window
        assert (slice_.ue(), slice_.ue()) == (0, 1)  # QP delta 0, deblocking off
        blocks = list(frames[-1]) if frames else [b""] * (columns * rows)
        block = 0
        while block < len(blocks):
            if number:
                block += slice_.ue()  # skipped: the previous frame's
                if block == len(blocks):
                    break
            assert slice_.ue() == (30 if number else 25)  # I_PCM
            blocks[block] = slice_.raw(384)
            block += 1
        slice_.end()
        frames.append(blocks)
    return columns * 16 - 2 * (crop[0] + crop[1]), rows * 16 - 2 * (crop[2] + crop[3]), frames


def test_the_video_is_h264_whose_frames_change_and_show_the_scene():
    data = mp4.make_mp4("a brass lamp, turning slowly", seconds=5, width=128, height=72)

    width, height, frames = decode(data)

    assert (width, height) == (128, 72) and len(frames) == 5 * mp4.FPS
    assert all(frame != before for before, frame in itertools.pairwise(frames))  # every frame moves
    first = png.scene("a brass lamp, turning slowly", 0, 128, 72, 0.0, mp4._ycbcr)
    luma = bytes(first[0::3])
    top_left = b"".join(frames[0][0][row * 16 : row * 16 + 16] for row in range(16))
    assert top_left == b"".join(luma[row * 128 : row * 128 + 16] for row in range(16))
    card = b"".join(frames[0][3 + 8 * row][:256] for row in (0, 1))  # the subject's card, mid-top
    ink, paper = mp4._ycbcr(png.INK)[0], mp4._ycbcr(png.CARD)[0]
    assert card.count(ink) > 20 and card.count(paper) > 20  # letters on their card
    assert len(data) < 60_000


def test_a_padded_video_decodes_as_the_plain_one():
    plain = mp4.make_mp4("big", 5)
    padded = b"".join(mp4.iter_mp4("big", len(plain) + 4096, seconds=5))

    assert decode(padded)[2] == decode(plain)[2]
