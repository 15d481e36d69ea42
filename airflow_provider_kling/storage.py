"""Copy result images and videos to storage the user owns, through Airflow's object storage.

Names are deterministic, built only from Airflow identifiers and the file's number (nothing the
server sends becomes part of a path). A file is stored only when it is whole and of its kind
(:data:`IMAGE`, :data:`VIDEO`), and never appears half-written: docs/storage.rst says how.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_kling.errors import (
    KlingDownloadRejectedError,
    KlingError,
    KlingResultUnavailableError,
    KlingStorageConfigError,
    KlingStorageError,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_PART = 100
#: Image formats by their first bytes (WebP: ``RIFF....WEBP``).
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, ".png"),
    (b"\xff\xd8\xff", 0, ".jpg"),
    (b"WEBP", 8, ".webp"),
    (b"GIF8", 0, ".gif"),
)
EXTENSIONS: tuple[str, ...] = tuple(ext for _, _, ext in _SIGNATURES)
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov")
#: The watermarked copy of a video is stored beside it: ``<task>_<n>_watermarked.mp4``.
WATERMARKED = "_watermarked"
_HEAD = 12
#: Content types that make no claim: the magic bytes decide.
_UNTYPED = ("application/octet-stream", "binary/octet-stream")
#: Object-store images are spooled here first; larger ones go to a temporary file.
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_LOCAL_PROTOCOLS = ("file", "local")
#: Exception class names (anywhere in the chain) that mean "fix the storage set-up", not "retry".
_CONFIG_ERRORS = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "NoRegionError",
        "DefaultCredentialsError",
        "RefreshError",
        "ClientAuthenticationError",
    }
)


def path_conn_id(path: Any) -> str | None:
    """The Airflow connection of an ``ObjectStoragePath`` (its ``conn_id``; before Airflow 3.2 only
    in its storage options)."""
    conn_id = getattr(path, "conn_id", None)
    if conn_id is None:
        conn_id = (getattr(path, "storage_options", None) or {}).get("conn_id")
    return conn_id or None


def as_uri(location: str | os.PathLike[str]) -> str:
    """A URI as it is; a local path as ``file://`` and its absolute path."""
    text = os.fspath(location)
    return text if "://" in text else "file://" + os.path.abspath(os.path.expanduser(text))


def to_storage_path(output_path: Any, conn_id: str | None = None) -> ObjectStoragePath:
    """
    An ``ObjectStoragePath`` from a path, a URI (``s3://``, ``file://`` ...) or a path object.

    ``conn_id`` (the operator's ``output_conn_id``) is the Airflow connection the store is
    reached with; a ``scheme://conn_id@bucket`` URI or a path object's own ``conn_id`` work too.
    """
    from airflow.sdk import ObjectStoragePath

    if isinstance(output_path, ObjectStoragePath):
        if not conn_id or path_conn_id(output_path) == conn_id:
            return output_path
        if path_conn_id(output_path):
            raise ValueError(
                f"output_conn_id {conn_id!r} conflicts with the connection {path_conn_id(output_path)!r} "
                "of output_path: give one of them"
            )
        return ObjectStoragePath(plain_uri(output_path), conn_id=conn_id)
    text = as_uri(output_path)
    # The ``conn_id@`` of a URI, read here: Airflow 3.1 lets a conn_id argument win over it silently.
    in_uri = urlsplit(text).netloc.rpartition("@")[0] or None
    if conn_id and in_uri and in_uri != conn_id:
        raise ValueError(
            f"output_conn_id {conn_id!r} conflicts with the connection {in_uri!r} "
            f"in output_path {text!r}: give one of them"
        )
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def read_manifest(value: Any) -> Mapping[str, Any]:
    """A batch manifest: ``value`` itself (a dict with ``items``), or the JSON at ``value`` (a URI)
    or at a batch summary's ``manifest`` (through its ``output_conn_id``)."""
    if isinstance(value, Mapping) and "items" in value:
        return value
    uri, conn_id = (
        (value["manifest"], value.get("output_conn_id")) if isinstance(value, Mapping) else (value, None)
    )
    manifest: Mapping[str, Any] = json.loads(to_storage_path(uri, conn_id).read_text())
    return manifest


def plain_uri(path: ObjectStoragePath) -> str:
    """``s3://bucket/key`` without the ``conn_id@`` of ``str(path)``: what boto and the CLIs read."""
    key = path.path if is_local(path) else path.path.lstrip("/")
    return f"{path.protocol}://{key}"


def is_local(path: ObjectStoragePath) -> bool:
    return path.protocol in _LOCAL_PROTOCOLS


def safe_name(part: str) -> str:
    """
    A path component from an Airflow id: only ``A-Za-z0-9._-``, never ``.`` or ``..``; when that
    changes the id, a short hash of the original follows (``batch/1`` and ``batch:1`` differ).
    """
    cleaned = (_UNSAFE.sub("_", part).strip("._") or "_")[:_MAX_PART]
    if cleaned == part:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(part.encode()).hexdigest()[:8]}"


def task_prefix(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> tuple[str, str]:
    """The folder ``<dag>/<run>`` and the file name prefix ``<task>[_<map index>]_`` of a task's images."""
    suffix = f"_{map_index}" if map_index is not None and map_index >= 0 else ""
    return f"{safe_name(dag_id)}/{safe_name(run_id)}", f"{safe_name(task_id)}{suffix}_"


def image_stem(dag_id: str, run_id: str, task_id: str, map_index: int | None, number: int) -> str:
    """``<dag>/<run>/<task>[_<map index>]_<number>``: documented in docs/storage.rst."""
    folder, prefix = task_prefix(dag_id, run_id, task_id, map_index)
    return f"{folder}/{prefix}{int(number)}"


def file_numbers(indices: list[int | None]) -> list[int]:
    """Kling's indices when each image has its own; else each image's position in Kling's list."""
    if all(index is not None for index in indices) and len(set(indices)) == len(indices):
        return [int(index) for index in indices if index is not None]
    return list(range(len(indices)))


def list_names(base: ObjectStoragePath, folder: str) -> list[str]:
    """The file names in ``folder``, freshly listed (none when it does not exist)."""
    directory = base / folder
    directory.fs.invalidate_cache(directory.path)
    try:
        names = directory.fs.ls(directory.path, detail=False)
    except FileNotFoundError:
        return []
    return [str(name).rstrip("/").rsplit("/", 1)[-1] for name in names]


def find_stored_files(
    base: ObjectStoragePath,
    folder: str,
    prefix: str,
    media: MediaKind,
    names: Iterable[str] | None = None,
) -> dict[str, ObjectStoragePath]:
    """The whole files of kind ``media`` an earlier try stored for one task, by the name after
    ``prefix`` without extension (``"0"``, ``"0_watermarked"``), among ``names`` (by default one
    listing of ``folder``)."""
    copies = "|".join(re.escape(suffix) for _, _, suffix in media.files if suffix)
    tail = rf"(\d+(?:{copies})?)" if copies else r"(\d+)"
    pattern = re.compile(re.escape(prefix) + tail + r"(" + "|".join(map(re.escape, media.extensions)) + r")")
    names = list_names(base, folder) if names is None else names
    return {m.group(1): base / folder / name for name in names if (m := pattern.fullmatch(name))}


def _extension(head: bytes) -> str | None:
    return next((ext for magic, at, ext in _SIGNATURES if head[at : at + len(magic)] == magic), None)


def video_extension(head: bytes) -> str | None:
    """``.mp4`` or ``.mov`` when ``head`` starts an ISO media file: an ``ftyp`` box at offset 4 whose
    size fits its layout (brand, version, 4-byte compatible brands); ``.mov`` for the ``qt`` brand."""
    if len(head) < _HEAD or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    if size < 16 or (size - 16) % 4:
        return None
    return ".mov" if head[8:12] == b"qt  " else ".mp4"


def audio_extension(head: bytes) -> str | None:
    """``.mp3`` for an ID3 tag or an MPEG audio frame sync (11 bits set), ``.wav`` for RIFF/WAVE:
    the two formats Kling's audio results come in."""
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    return None


@dataclass(frozen=True)
class MediaKind:
    """What one kind of result file is: its name, its content type, how its first bytes look."""

    #: ``image`` or ``video``; also the key of the XCom result's list (``images``, ``videos``)
    noun: str
    extension: Callable[[bytes], str | None]
    extensions: tuple[str, ...]
    #: what the bytes must be, for the refusal message
    described: str
    #: the hook method that opens a download of this kind
    download: str
    #: the connection setting (and extra) that caps one download of this kind
    cap: str
    #: the files of one result item: (URL key, path key, name suffix); a video adds its watermarked copy
    files: tuple[tuple[str, str, str], ...] = (("url", "path", ""),)

    @property
    def plural(self) -> str:
        return f"{self.noun}s"

    def fetcher(self, hook: Any) -> Callable[[str], Iterable[bytes]]:
        """``hook``'s opener of a download of this kind (``iter_image_bytes``, ``iter_video_bytes``)."""
        opener: Callable[[str], Iterable[bytes]] = getattr(hook, self.download)
        return opener


IMAGE = MediaKind(
    "image", _extension, EXTENSIONS, "a PNG, JPEG, WebP or GIF image", "iter_image_bytes", "max_image_bytes"
)
VIDEO = MediaKind(
    "video",
    video_extension,
    VIDEO_EXTENSIONS,
    "an MP4 or MOV video (an ISO media 'ftyp' box at offset 4)",
    "iter_video_bytes",
    "max_video_bytes",
    (("url", "path", ""), ("watermark_url", "watermark_path", WATERMARKED)),
)

#: Audio files (text-to-audio, video-to-audio), opened with the video opener's size cap.
AUDIO = MediaKind(
    "audio",
    audio_extension,
    (".mp3", ".wav"),
    "an MP3 or WAV audio file",
    "iter_video_bytes",
    "max_video_bytes",
)


#: Each kind of output by its noun (a request class's ``output``).
MEDIA: dict[str, MediaKind] = {IMAGE.noun: IMAGE, VIDEO.noun: VIDEO, AUDIO.noun: AUDIO}


class _Verifier:
    """Checks a download as it streams; :meth:`finish` returns the extension of a file of its kind.

    That the body is whole (as long as its ``Content-Length``) is the download's check
    (:func:`~airflow_provider_kling.hooks.download.open_download`), made for every reader of it."""

    def __init__(self, stem: str, chunks: Iterable[bytes], media: MediaKind = IMAGE) -> None:
        self.stem = stem
        self.media = media
        self.content_type: str | None = getattr(chunks, "content_type", None)
        self.head = b""
        self.received = 0
        kind = (self.content_type or "").split(";", 1)[0].strip().lower()
        if kind and not kind.startswith(f"{media.noun}/") and kind not in _UNTYPED:
            raise KlingDownloadRejectedError(
                f"{stem}: the {media.noun} URL answered Content-Type {kind!r}, not "
                f"{'an' if media.noun[0] in 'aeiou' else 'a'} {media.noun}; nothing stored"
            )

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if len(self.head) < _HEAD:
            self.head += chunk[: _HEAD - len(self.head)]
            if len(self.head) >= _HEAD and self.media.extension(self.head) is None:
                self._not_of_kind()

    def finish(self) -> str:
        if not self.received:
            raise KlingDownloadRejectedError(f"{self.stem}: the {self.media.noun} was empty; nothing stored")
        return self.media.extension(self.head) or self._not_of_kind()

    def _not_of_kind(self) -> str:
        raise KlingDownloadRejectedError(
            f"{self.stem}: the bytes are not {self.media.described} "
            f"(they start {self.head[:_HEAD]!r}); nothing stored"
        )


def _copy_verified(chunks: Iterable[bytes], sink: IO[bytes], verifier: _Verifier) -> str:
    try:
        for chunk in chunks:
            if chunk:
                verifier.feed(chunk)
                sink.write(chunk)
        return verifier.finish()
    finally:
        _close(chunks)


def _close(chunks: Iterable[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def write_whole(base: ObjectStoragePath, stem: str, write: Callable[[IO[bytes]], str]) -> ObjectStoragePath:
    """Write ``base/<stem><suffix>`` whole or not at all: ``write(handle)`` writes the bytes and
    returns the suffix. A remote store gets one upload of the finished bytes, straight to the final
    key; a local folder a partial file renamed at the end."""
    if not is_local(base):
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            suffix = write(spool)
            spool.seek(0)
            final = base / f"{stem}{suffix}"
            with final.open("wb") as handle:
                shutil.copyfileobj(spool, handle)
        return final
    # A partial name of this try's own: a concurrent try (a zombie and its retry) never shares it.
    partial = base / f"{stem}.{uuid.uuid4().hex[:12]}.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as handle:
            suffix = write(handle)
        final = base / f"{stem}{suffix}"
        partial.rename(final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final


def store_file(
    base: ObjectStoragePath, stem: str, chunks: Iterable[bytes], media: MediaKind
) -> ObjectStoragePath:
    """Store one verified file of kind ``media`` at ``base/stem.<ext>``, streamed; else nothing."""
    try:
        verifier = _Verifier(stem, chunks, media)
    except BaseException:
        _close(chunks)
        raise
    return write_whole(base, stem, lambda handle: _copy_verified(chunks, handle, verifier))


def is_configuration_error(exc: BaseException, base: ObjectStoragePath) -> bool:
    """Credentials, permission or a missing bucket: an error no retry fixes."""
    seen: BaseException | None = exc
    while seen is not None:
        if {cls.__name__ for cls in type(seen).__mro__} & _CONFIG_ERRORS:
            return True
        if isinstance(seen, PermissionError):
            return True
        if isinstance(seen, FileNotFoundError) and not is_local(base):
            return True  # writing a key: only a missing bucket answers this
        seen = seen.__cause__ or seen.__context__
    return False


def describe_store(base: ObjectStoragePath, conn_id: str | None) -> str:
    """``bucket 'b' (s3) through connection 'c'``: what a user must look at to fix a storage error."""
    if is_local(base):
        return f"local folder {base.path!r}"
    bucket = base.path.lstrip("/").split("/", 1)[0]
    through = f"connection {conn_id!r}" if conn_id else "no Airflow connection (set output_conn_id)"
    return f"bucket {bucket!r} ({base.protocol}) through {through}"


def store_task_outputs(
    result: dict[str, Any],
    base: ObjectStoragePath,
    *,
    media: MediaKind = IMAGE,
    fetch: Callable[[str], Iterable[bytes]],
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    log: Any,
    names: Iterable[str] | None = None,
) -> None:
    """
    Copy every file of kind ``media`` that ``result`` (an XCom result dict) lists under ``base``,
    adding each one's ``path`` (a plain URI; a video's watermarked copy ``watermark_path``, stored
    as ``<task>_<n>_watermarked.mp4`` when Kling sent a ``watermark_url``) and the result's
    ``output_conn_id``. ``fetch`` opens a download of that kind (the hook's opener, its size cap).

    A file already stored by an earlier try is kept. When files cannot be stored, the others are
    stored first; then a storage set-up error (credentials, permission, missing bucket) fails with
    :class:`KlingStorageConfigError` (no Airflow retry can fix it), anything else with a retryable
    :class:`KlingResultUnavailableError` or :class:`KlingStorageError`. ``names`` (a listing of the
    task's folder) spares the listing when the caller listed the folder already (a batch lists it
    once for all its items).
    """
    conn_id = path_conn_id(base)
    result["output_conn_id"] = conn_id
    where = describe_store(base, conn_id)
    what_to_fix = (
        "Check that the folder is writable by the worker"
        if is_local(base)
        else "Check the connection's credentials, its permission on the bucket, and that the bucket exists"
    )
    folder, prefix = task_prefix(dag_id, run_id, task_id, map_index)
    try:
        stored = find_stored_files(base, folder, prefix, media, names)
    except Exception as exc:
        if is_configuration_error(exc, base):
            raise KlingStorageConfigError(
                f"Cannot list {where}: {type(exc).__name__}: {str(exc).rstrip('.')}. {what_to_fix}.",
                task_id=result["task_id"],
            ) from exc
        log.warning("Could not list %s (%s); storing every %s", where, type(exc).__name__, media.noun)
        stored = {}
    items = result[media.plural]
    numbers = file_numbers([item.get("index") for item in items])
    problems: list[str] = []
    config_problem = storage_problem = False
    for item, number in zip(items, numbers, strict=True):
        for url_key, path_key, suffix in media.files:
            if url_key != "url" and not item.get(url_key):
                continue  # an optional copy Kling did not send
            what = f"{media.noun} {number}{suffix.replace('_', ' ')}"
            path = stored.get(f"{number}{suffix}")
            if path is not None:
                log.info("%s already stored at %s by an earlier try", what.capitalize(), plain_uri(path))
            else:
                try:
                    if not item.get(url_key):
                        raise KlingResultUnavailableError(f"Kling gave no URL for this {media.noun}")
                    stem = image_stem(dag_id, run_id, task_id, map_index, number) + suffix
                    path = store_file(base, stem, fetch(item[url_key]), media)
                except KlingError as exc:
                    problems.append(f"{what}: {exc}")
                    continue
                except Exception as exc:
                    config_problem |= is_configuration_error(exc, base)
                    storage_problem = True
                    problems.append(f"{what}: {type(exc).__name__}: {exc}")
                    continue
            item[path_key] = plain_uri(path)
    if problems:
        message = (
            f"Kling task {result['task_id']}: {len(problems)} {media.noun}(s) could not be stored "
            f"in {where}: " + "; ".join(problems)
        )
        if config_problem:
            raise KlingStorageConfigError(
                f"{message}. {what_to_fix}; a retry cannot fix this.",
                task_id=result["task_id"],
            )
        error_class = KlingStorageError if storage_problem else KlingResultUnavailableError
        raise error_class(message, task_id=result["task_id"])
    log.info("Stored %d %s of Kling task %s in %s", len(items), media.plural, result["task_id"], where)
