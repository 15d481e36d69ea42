"""storage.py: safe distinct names, only whole images stored, one listing, errors that say what to fix."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from airflow_provider_kling.errors import (
    KlingDownloadRejectedError,
    KlingResultUnavailableError,
    KlingStorageConfigError,
    KlingStorageError,
)
from airflow_provider_kling.storage import (
    IMAGE,
    file_numbers,
    find_stored_files,
    image_stem,
    path_conn_id,
    plain_uri,
    read_manifest,
    safe_name,
    store_file,
    store_task_outputs,
    task_prefix,
    to_storage_path,
)
from airflow_provider_kling.testing import png

PNG = png.make_png("a lighthouse", 0, 8, 8)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24
LOG = logging.getLogger("test_storage")


@dataclass
class Download:
    """What the hook's download gives storage: chunks plus the server's Content-Type and -Length."""

    chunks: list[bytes]
    content_type: str | None = "image/png"
    content_length: int | None = None
    closed: bool = field(default=False)

    def __post_init__(self) -> None:
        self._it = iter(self.chunks)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._it)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("scheduled__2026-11-25T00:00:00+00:00", "scheduled__2026-11-25T00_00_00_00_00-"),
        ("../../etc/passwd", "etc_passwd-"),
        ("..", "_-"),
        ("a b/c\\d", "a_b_c_d-"),
    ],
)
def test_safe_name_keeps_only_safe_characters_and_marks_a_change_with_a_hash(raw, cleaned):
    name = safe_name(raw)
    assert name.startswith(cleaned)
    assert len(name) == len(cleaned) + 8
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_safe_name_leaves_a_safe_id_as_it_is():
    assert safe_name("generate_images") == "generate_images"
    assert safe_name("manual_2026-11-25") == "manual_2026-11-25"


def test_run_ids_that_sanitise_alike_never_share_a_file():
    slash = image_stem("dag", "batch/1", "gen", None, 0)
    colon = image_stem("dag", "batch:1", "gen", None, 0)
    assert slash != colon
    assert slash.startswith("dag/batch_1-") and colon.startswith("dag/batch_1-")


def test_a_long_id_is_cut_and_still_distinct():
    one, two = safe_name("x" * 300), safe_name("x" * 299 + "y")
    assert one != two and len(one) < 120


def test_image_stem_layout_with_and_without_map_index():
    assert image_stem("dag", "run", "gen", None, 0) == "dag/run/gen_0"
    assert image_stem("dag", "run", "gen", -1, 3) == "dag/run/gen_3"
    assert image_stem("dag", "run", "gen", 4, 1) == "dag/run/gen_4_1"


@pytest.mark.parametrize(
    ("indices", "numbers"),
    [
        ([0, 1, 2], [0, 1, 2]),
        ([2, 0, 1], [2, 0, 1]),
        ([0, 0, 0], [0, 1, 2]),  # repeated: position in Kling's list
        ([None, 0], [0, 1]),  # missing on one, 0 on another
        ([None, None], [0, 1]),
    ],
)
def test_files_are_numbered_by_position_when_indices_are_missing_or_repeat(indices, numbers):
    assert file_numbers(indices) == numbers


@pytest.mark.parametrize(("body", "ext"), [(PNG, ".png"), (JPEG, ".jpg"), (WEBP, ".webp")])
def test_store_image_names_extension_from_bytes_and_finds_it_again(tmp_path, body, ext):
    base = to_storage_path(str(tmp_path))
    stored = store_file(base, "d/r/t_0", Download([body[:5], body[5:]], content_length=len(body)), IMAGE)

    assert stored.name == f"t_0{ext}" and (tmp_path / f"d/r/t_0{ext}").read_bytes() == body
    assert find_stored_files(base, "d/r", "t_", IMAGE) == {"0": stored}
    assert find_stored_files(base, "d/r", "u_", IMAGE) == {}
    assert find_stored_files(base, "d/nothing-here", "t_", IMAGE) == {}


@pytest.mark.parametrize(
    ("download", "reason"),
    [
        (Download([b"<html><h1>Access denied</h1></html>"], content_type="text/html"), "Content-Type"),
        (Download([b"this is not an image, just bytes" * 3], content_type="image/png"), "not a PNG"),
        (Download([b"\x89PNG"], content_type=None), "not a PNG"),
        (Download([b""]), "empty"),
    ],
    ids=["html-page", "junk-bytes", "too-short-for-a-signature", "empty"],
)
def test_what_is_not_a_whole_image_is_not_stored(tmp_path, download, reason):
    base = to_storage_path(str(tmp_path))

    with pytest.raises(KlingDownloadRejectedError, match=reason):
        store_file(base, "d/r/t_0", download, IMAGE)

    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert download.closed


def test_octet_stream_is_judged_by_its_bytes(tmp_path):
    stored = store_file(
        to_storage_path(str(tmp_path)),
        "d/r/t_0",
        Download([PNG], content_type="application/octet-stream"),
        IMAGE,
    )
    assert stored.read_bytes() == PNG


def test_failed_stream_leaves_no_partial_file(tmp_path):
    def broken() -> Iterator[bytes]:
        yield PNG[:20]
        raise OSError("connection reset")

    with pytest.raises(OSError):
        store_file(to_storage_path(str(tmp_path)), "d/r/t_0", broken(), IMAGE)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_two_tries_storing_the_same_image_at_once_both_end_with_a_whole_file(tmp_path):
    """A zombie try and its retry: each writes a partial file of its own, so neither corrupts the other."""
    base = to_storage_path(str(tmp_path))
    other: list = []

    def zombie() -> Iterator[bytes]:
        yield PNG[:30]
        other.append(store_file(base, "d/r/t_0", Download([PNG]), IMAGE))  # the retry runs in between
        yield PNG[30:]

    first = store_file(base, "d/r/t_0", zombie(), IMAGE)

    assert first == other[0]
    assert (tmp_path / "d/r/t_0.png").read_bytes() == PNG
    assert [p.name for p in (tmp_path / "d/r").iterdir()] == ["t_0.png"]


def test_object_store_gets_the_final_key_in_one_write_and_no_partial(memory_base):
    written: list[str] = []
    fs = memory_base.fs
    original = fs.open

    def recording_open(path, mode="rb", **kwargs):
        if "w" in mode:
            written.append(path)
        return original(path, mode, **kwargs)

    fs.open = recording_open
    try:
        stored = store_file(memory_base, "d/r/t_0", Download([PNG[:10], PNG[10:]]), IMAGE)
    finally:
        del fs.open

    assert [w.rsplit("/", 1)[-1] for w in written] == ["t_0.png"]
    assert stored.read_bytes() == PNG


def test_object_store_rejected_image_writes_nothing(memory_base):
    with pytest.raises(KlingDownloadRejectedError):
        store_file(memory_base, "d/r/t_0", Download([b"<html>no</html>"], content_type="text/html"), IMAGE)
    assert not (memory_base / "d").exists()


@pytest.fixture
def memory_base():
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")
    attach(protocol="memory", fs=fs)
    return ObjectStoragePath("memory://bucket/kling")


def result_with(n: int, indices: list | None = None) -> dict:
    indices = list(range(n)) if indices is None else indices
    return {
        "task_id": "T1",
        "images": [{"index": i, "url": f"http://127.0.0.1:1/{pos}.png"} for pos, i in enumerate(indices)],
    }


def fetch_from(bodies: dict[str, Download]):
    calls: list[str] = []

    def fetch(url: str) -> Download:
        calls.append(url)
        body = bodies[url]
        if isinstance(body, Exception):
            raise body
        return body

    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


def test_every_image_is_stored_with_a_plain_uri_and_a_retry_lists_once(memory_base):
    result = result_with(3)
    fetch = fetch_from({img["url"]: Download([PNG]) for img in result["images"]})
    store_task_outputs(
        result, memory_base, fetch=fetch, dag_id="d", run_id="r", task_id="t", map_index=None, log=LOG
    )
    assert [img["path"] for img in result["images"]] == [
        f"memory://bucket/kling/d/r/t_{i}.png" for i in range(3)
    ]

    listings: list[str] = []
    fs = memory_base.fs
    original_ls = fs.ls

    def counting_ls(path, *args, **kwargs):
        listings.append(path)
        return original_ls(path, *args, **kwargs)

    fs.ls = counting_ls
    try:
        again = result_with(3)
        retry_fetch = fetch_from({})
        store_task_outputs(
            again,
            memory_base,
            fetch=retry_fetch,
            dag_id="d",
            run_id="r",
            task_id="t",
            map_index=None,
            log=LOG,
        )
    finally:
        del fs.ls
    assert retry_fetch.calls == []
    assert len(listings) == 1
    assert [img["path"] for img in again["images"]] == [img["path"] for img in result["images"]]


def test_repeated_indices_store_every_image_by_position(tmp_path):
    result = result_with(3, indices=[0, 0, 0])
    bodies = {
        img["url"]: Download([png.make_png("p", pos, 4, 4)]) for pos, img in enumerate(result["images"])
    }
    store_task_outputs(
        result,
        to_storage_path(str(tmp_path)),
        fetch=fetch_from(bodies),
        dag_id="d",
        run_id="r",
        task_id="t",
        map_index=None,
        log=LOG,
    )
    assert sorted(p.name for p in (tmp_path / "d/r").iterdir()) == ["t_0.png", "t_1.png", "t_2.png"]
    assert len({img["path"] for img in result["images"]}) == 3


def test_one_bad_image_fails_after_the_others_are_stored_and_retry_fetches_only_it(tmp_path):
    base = to_storage_path(str(tmp_path))
    result = result_with(3)
    urls = [img["url"] for img in result["images"]]
    bodies = {
        urls[0]: Download([PNG]),
        urls[1]: Download([b"<html/>"], content_type="text/html"),
        urls[2]: Download([PNG]),
    }
    with pytest.raises(KlingResultUnavailableError, match=r"1 image.*image 1.*Content-Type") as raised:
        store_task_outputs(
            result,
            base,
            fetch=fetch_from(bodies),
            dag_id="d",
            run_id="r",
            task_id="t",
            map_index=None,
            log=LOG,
        )
    assert raised.value.airflow_retryable
    assert sorted(p.name for p in (tmp_path / "d/r").iterdir()) == ["t_0.png", "t_2.png"]

    retry_fetch = fetch_from({urls[1]: Download([PNG])})
    store_task_outputs(
        result_with(3), base, fetch=retry_fetch, dag_id="d", run_id="r", task_id="t", map_index=None, log=LOG
    )
    assert retry_fetch.calls == [urls[1]]


class NoCredentialsError(Exception):
    """Named like botocore's: storage recognises it by name, without importing botocore."""


@pytest.mark.parametrize(
    ("error", "config"),
    [
        (NoCredentialsError("Unable to locate credentials"), True),
        (PermissionError(13, "InvalidAccessKeyId"), True),
        (FileNotFoundError(2, "NoSuchBucket"), True),
        (ConnectionResetError("reset by peer"), False),
        (TimeoutError("slow"), False),
    ],
)
def test_storage_errors_name_connection_and_bucket_and_fail_fast_only_when_no_retry_helps(
    memory_base, error, config
):
    from airflow.sdk import ObjectStoragePath

    base = ObjectStoragePath("memory://bucket/kling")
    base_with_conn = base  # memory has no connection; the message says so
    result = result_with(2)
    fs = memory_base.fs
    original = fs.open
    writes = []

    def failing_open(path, mode="rb", **kwargs):
        if "w" in mode:
            writes.append(path)
            if path.endswith("t_0.png"):
                raise error
        return original(path, mode, **kwargs)

    fs.open = failing_open
    try:
        with pytest.raises(KlingStorageError, match="bucket 'bucket' \\(memory\\)") as raised:
            store_task_outputs(
                result,
                base_with_conn,
                fetch=fetch_from({i["url"]: Download([PNG]) for i in result["images"]}),
                dag_id="d",
                run_id="r",
                task_id="t",
                map_index=None,
                log=LOG,
            )
    finally:
        del fs.open
    assert isinstance(raised.value, KlingStorageConfigError) is config
    assert raised.value.airflow_retryable is not config
    assert "no Airflow connection (set output_conn_id)" in str(raised.value)
    assert result["images"][1]["path"].endswith("t_1.png")  # the other image is stored first
    assert (memory_base / "d/r/t_1.png").exists()


def test_plain_uri_drops_the_connection_id():
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach(protocol="memory", conn_id="my_store", fs=MemoryFileSystem())
    path = ObjectStoragePath("memory://my_store@bucket/kling/x.png")
    assert path_conn_id(path) == "my_store"
    assert plain_uri(path) == "memory://bucket/kling/x.png"


def test_output_conn_id_and_a_different_conn_in_the_uri_are_refused():
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach(protocol="memory", conn_id="one", fs=MemoryFileSystem())
    attach(protocol="memory", conn_id="two", fs=MemoryFileSystem())
    assert path_conn_id(to_storage_path("memory://one@bucket/k", "one")) == "one"
    with pytest.raises(ValueError, match="output_conn_id 'two' conflicts"):
        to_storage_path("memory://one@bucket/k", "two")


def test_relative_local_path_becomes_absolute_file_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = to_storage_path("out")
    assert path.protocol == "file"
    assert str(path) == f"file://{tmp_path}/out"


def test_task_prefix_is_the_folder_and_file_prefix_of_image_stem():
    folder, prefix = task_prefix("dag", "run", "gen", 2)
    assert f"{folder}/{prefix}7" == image_stem("dag", "run", "gen", 2, 7)


def test_a_local_folder_the_worker_cannot_write_fails_fast_saying_so(tmp_path):
    base = to_storage_path(str(tmp_path))
    result = result_with(1)
    fs = base.fs

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    fs.mkdir = refuse
    fs.makedirs = refuse
    try:
        with pytest.raises(KlingStorageConfigError, match=r"local folder .*folder is writable") as raised:
            store_task_outputs(
                result,
                base,
                fetch=fetch_from({result["images"][0]["url"]: Download([PNG])}),
                dag_id="d",
                run_id="r",
                task_id="t",
                map_index=None,
                log=LOG,
            )
    finally:
        del fs.mkdir, fs.makedirs
    assert raised.value.airflow_retryable is False


def test_a_manifest_is_read_from_itself_its_uri_or_a_batch_summary(tmp_path):
    manifest = {"counts": {"succeed": 1}, "items": [{"key": "0"}]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))

    assert read_manifest(manifest) is manifest
    assert read_manifest(str(path)) == manifest
    assert read_manifest({"manifest": f"file://{path}", "output_conn_id": None}) == manifest
