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
    assert sizes[1] == 10  # one sample a second
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


def test_each_second_is_a_real_h264_frame_and_the_frames_change():
    data = mp4.make_mp4("a lighthouse", seconds=5, width=128, height=72)
    (_, moov, mdat) = mp4.read_boxes(data)
    stbl = _child(data, _child(data, _child(data, _child(data, moov, b"trak"), b"mdia"), b"minf"), b"stbl")
    avc1 = _child(data, _child(data, stbl, b"stsd"), b"avc1", skip=8)
    avcc = _child(data, avc1, b"avcC", skip=78)
    record = data[avcc[1] : avcc[2]]
    # The SPS says baseline profile, level 3.0; the PPS follows it.
    (sps_length,) = struct.unpack(">H", record[6:8])
    assert record[8:12] == b"\x67\x42\xc0\x1e" and record[8 + sps_length + 3] == 0x68
    bits = "".join(f"{byte:08b}" for byte in record[12 : 8 + sps_length])

    def ue(at: int) -> tuple[int, int]:  # an Exp-Golomb code at bit ``at``: (value, next bit)
        zeros = bits.index("1", at) - at
        return int(bits[at + zeros : at + 2 * zeros + 1], 2) - 1, at + 2 * zeros + 1

    at = 0
    for _ in range(4):  # sps id, log2 max frame num, picture order count type, reference frames
        _, at = ue(at)
    width_mbs, at = ue(at + 1)
    height_mbs, at = ue(at)
    assert (width_mbs + 1, height_mbs + 1) == (8, 5)  # 128 x 80 macroblocks' pixels, cropped to 72
    frames, position = [], mdat[1]
    while position < mdat[2]:
        (length,) = struct.unpack(">I", data[position : position + 4])
        frames.append(data[position + 4 : position + 4 + length])
        position += 4 + length
    assert len(frames) == 5
    assert all(frame[0] == 0x65 for frame in frames)  # each an IDR picture (a key frame)
    assert all(len(frame) > 40 * 384 for frame in frames)  # 40 macroblocks of uncompressed samples
    assert len(set(frames)) == 5  # the square moves: no two frames alike
    assert len(data) < 100_000  # small: uncompressed 128x80 frames, one a second
