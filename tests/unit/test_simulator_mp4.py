"""testing/mp4.py: the simulator's MP4 files are ISO media a box parser accepts, of the asked length."""

from __future__ import annotations

import struct

import pytest

from airflow_provider_kling.testing import mp4


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
