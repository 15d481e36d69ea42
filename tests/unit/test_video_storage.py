"""storage.py for videos: only a whole MP4/MOV is stored (an ftyp box, the promised length), streamed
and never half-written, with its watermarked copy, under names no other run shares; downloads through
the hook's session are capped by ``max_video_bytes``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from airflow_provider_kling.errors import (
    KlingConnectionError,
    KlingDownloadRejectedError,
    KlingResultUnavailableError,
)
from airflow_provider_kling.hooks.connection import DEFAULT_MAX_VIDEO_BYTES
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.models.requests import TextToVideoRequest
from airflow_provider_kling.storage import (
    IMAGE,
    VIDEO,
    find_stored_files,
    store_file,
    store_task_outputs,
    to_storage_path,
    video_extension,
)
from airflow_provider_kling.testing import mp4
from tests.unit.test_storage import Download, memory_base  # noqa: F401 - the fixture

MP4 = mp4.make_mp4("a lighthouse at dusk", 5)
MOV = MP4[:8] + b"qt  " + MP4[12:]
LOG = logging.getLogger("test_video_storage")
MiB = 1024 * 1024


def test_video_extension_reads_the_ftyp_box():
    assert video_extension(MP4[:12]) == ".mp4"
    assert video_extension(MOV[:12]) == ".mov"
    assert video_extension(b"\x00\x00\x00\x07ftypisom") is None  # a box smaller than its own header
    assert video_extension(b"\x89PNG\r\n\x1a\n\x00\x00\x00\r") is None
    assert video_extension(b"RIFF\x00\x00\x00\x00AVI ") is None


@pytest.mark.parametrize(("body", "ext"), [(MP4, ".mp4"), (MOV, ".mov")])
def test_a_whole_video_is_stored_with_its_extension_and_found_again(tmp_path, body, ext):
    base = to_storage_path(str(tmp_path))
    stored = store_file(
        base,
        "d/r/t_0",
        Download([body[:7], body[7:]], content_type="video/mp4", content_length=len(body)),
        VIDEO,
    )

    assert stored.name == f"t_0{ext}" and (tmp_path / f"d/r/t_0{ext}").read_bytes() == body
    assert find_stored_files(base, "d/r", "t_", VIDEO) == {"0": stored}
    assert (
        find_stored_files(base, "d/r", "t_", IMAGE) == {}
    )  # images and videos never mistaken for one another


@pytest.mark.parametrize(
    ("download", "reason"),
    [
        (Download([b"<html>Access denied</html>"], content_type="text/html"), "Content-Type 'text/html'"),
        (Download([mp4.make_mp4("x", 1)], content_type="image/png"), "not a video"),
        (
            Download([b"\x89PNG\r\n\x1a\n" + b"\x00" * 40], content_type="video/mp4"),
            "not an MP4 or MOV video",
        ),
        (Download([b"just bytes that claim to be a video"], content_type=None), "ftyp"),
        (Download([b""], content_type="video/mp4"), "the video was empty"),
    ],
    ids=["html", "image-type", "png-bytes", "junk", "empty"],
)
def test_what_is_not_a_whole_video_is_refused_and_leaves_nothing(tmp_path, download, reason):
    with pytest.raises(KlingDownloadRejectedError, match=reason):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", download, VIDEO)

    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert download.closed


def test_a_stream_broken_midway_leaves_no_partial_file(tmp_path):
    def broken() -> Iterator[bytes]:
        yield MP4[:64]
        raise OSError("connection reset")

    with pytest.raises(OSError):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", broken(), VIDEO)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_object_store_gets_the_video_in_one_write_to_its_final_key(memory_base):  # noqa: F811
    written: list[str] = []
    fs = memory_base.fs
    original = fs.open

    def recording_open(path, mode="rb", **kwargs):
        if "w" in mode:
            written.append(path)
        return original(path, mode, **kwargs)

    fs.open = recording_open
    try:
        stored = store_file(
            memory_base, "d/r/t_0", Download([MP4[:50], MP4[50:]], content_type="video/mp4"), VIDEO
        )
    finally:
        del fs.open
    assert [w.rsplit("/", 1)[-1] for w in written] == ["t_0.mp4"]
    assert stored.read_bytes() == MP4


def _result() -> dict:
    return {
        "task_id": "T9",
        "videos": [
            {"id": "v9", "url": "http://cdn/v.mp4", "watermark_url": "http://cdn/v-wm.mp4", "duration": "5"}
        ],
    }


def test_task_videos_and_their_watermarked_copies_are_stored_and_a_retry_fetches_nothing(tmp_path):
    base = to_storage_path(str(tmp_path))
    fetched: list[str] = []

    def fetch(url: str) -> Download:
        fetched.append(url)
        return Download([MP4], content_type="video/mp4", content_length=len(MP4))

    names = {"dag_id": "d", "run_id": "manual 1", "task_id": "t", "map_index": 2, "log": LOG}
    first = _result()
    store_task_outputs(first, base, media=VIDEO, fetch=fetch, **names)
    again = _result()
    store_task_outputs(again, base, media=VIDEO, fetch=fetch, **names)

    video = first["videos"][0]
    folder = video["path"].rsplit("/", 1)[0]
    assert folder.split("/")[-1].startswith("manual_1-")  # the run id, made safe, with its hash
    assert video["path"] == f"{folder}/t_2_0.mp4"
    assert video["watermark_path"] == f"{folder}/t_2_0_watermarked.mp4"
    assert fetched == ["http://cdn/v.mp4", "http://cdn/v-wm.mp4"]  # the retry listed, fetched nothing
    assert again["videos"][0]["path"] == video["path"]
    assert again["videos"][0]["watermark_path"] == video["watermark_path"]


def test_a_video_that_cannot_be_stored_fails_retryably_naming_it(tmp_path):
    result = _result()

    def fetch(url: str) -> Download:
        if url.endswith("-wm.mp4"):
            return Download([b"<html>"], content_type="text/html")
        return Download([MP4], content_type="video/mp4")

    with pytest.raises(
        KlingResultUnavailableError, match=r"1 video\(s\) could not be stored.*video 0 watermarked"
    ):
        store_task_outputs(
            result,
            to_storage_path(str(tmp_path)),
            media=VIDEO,
            fetch=fetch,
            dag_id="d",
            run_id="r",
            task_id="t",
            map_index=None,
            log=LOG,
        )
    assert result["videos"][0]["path"].endswith("/d/r/t_0.mp4")  # the rest is stored first


def connect(monkeypatch, simulator, **extra) -> KlingHook:
    conn = {"conn_type": "kling", "host": simulator.base_url, "password": simulator.api_key, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    return KlingHook(max_retries=0)


def video_url(hook: KlingHook, **fields) -> str:
    request = TextToVideoRequest.build(prompt="a lighthouse at dusk", **fields)
    task = hook.create_task(request)
    done = wait_for_task(hook, task.task_id, poll_interval=0.05, timeout=30, endpoint=request.path)
    return str(done.videos[0].url)


def test_a_simulator_video_is_stored_through_the_hooks_session(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator)
    download = hook.iter_video_bytes(video_url(hook))

    stored = store_file(to_storage_path(str(tmp_path)), "d/r/t_0", download, VIDEO)

    assert download.content_type == "video/mp4" and download.content_length == stored.stat()["size"]
    assert [box for box, _, _ in mp4.read_boxes(stored.read_bytes())] == [b"ftyp", b"moov", b"mdat"]


def test_a_non_video_answer_from_the_cdn_is_not_stored(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator)
    url = video_url(hook)
    for mode in ("html", "not_image", "short"):
        kling_simulator.image_fault(mode, k=1)
        with pytest.raises((KlingDownloadRejectedError, KlingConnectionError)):
            store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_video_bytes(url), VIDEO)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_video_over_max_video_bytes_is_refused_before_reading(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator, max_video_bytes=MiB)
    url = video_url(hook)
    kling_simulator.image_fault("huge", k=1, size=2 * MiB)

    with pytest.raises(
        KlingDownloadRejectedError, match=r"Video .* is 2097152 bytes, more than max_video_bytes"
    ):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_video_bytes(url), VIDEO)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_video_stream_without_length_is_cut_at_the_cap(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator, max_video_bytes=MiB)
    url = video_url(hook)
    kling_simulator.image_fault("huge", k=1, size=3 * MiB, length=False)

    with pytest.raises(KlingDownloadRejectedError, match="sent more than max_video_bytes"):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_video_bytes(url), VIDEO)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_large_video_under_the_cap_is_stored_whole(kling_simulator, monkeypatch, tmp_path):
    hook = connect(monkeypatch, kling_simulator, max_video_bytes=8 * MiB)
    url = video_url(hook)
    kling_simulator.image_fault("huge", k=1, size=5 * MiB)

    stored = store_file(to_storage_path(str(tmp_path)), "d/r/t_0", hook.iter_video_bytes(url), VIDEO)
    assert stored.stat()["size"] == 5 * MiB


def test_max_video_bytes_default_and_a_bad_value(monkeypatch, kling_simulator):
    assert (
        connect(monkeypatch, kling_simulator).settings.max_video_bytes == DEFAULT_MAX_VIDEO_BYTES == 512 * MiB
    )
    with pytest.raises(ValueError, match="extra 'max_video_bytes' must be a number"):
        _ = connect(monkeypatch, kling_simulator, max_video_bytes="big").settings


def test_media_of_says_what_each_request_kind_makes():
    from airflow_provider_kling.models.requests import REQUEST_KINDS, media_of
    from airflow_provider_kling.storage import AUDIO, IMAGE, VIDEO

    videos = {kind for kind in REQUEST_KINDS if media_of(kind) is VIDEO}
    audios = {kind for kind in REQUEST_KINDS if media_of(kind) is AUDIO}
    assert videos == {
        "text2video",
        "image2video",
        "omni-video",
        "video-extend",
        "multi-image2video",
        "video-effects",
        "motion-control",
        "avatar",
        "lip-sync",
    }
    assert audios == {"text-to-audio", "video-to-audio", "text-to-speech"}
    assert all(media_of(kind) is IMAGE for kind in set(REQUEST_KINDS) - videos - audios)
    with pytest.raises(ValueError, match="unknown Kling request kind 'storyboard'"):
        media_of("storyboard")
