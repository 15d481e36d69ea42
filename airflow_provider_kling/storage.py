"""Copy result images to storage the user owns, through Airflow's object storage.

Kling purges generated images after 30 days, so a pipeline keeps its own copy. Names are
deterministic and built only from Airflow identifiers (made safe) and the image index:
nothing the server sends becomes part of a path. An image is streamed to ``<name>.part`` and
renamed once complete, so a file with the final name is always whole and a retry skips it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Extensions by the file's first bytes; anything else is stored as ``.img``.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"RIFF", ".webp"),
    (b"GIF8", ".gif"),
)
EXTENSIONS: tuple[str, ...] = (*(ext for _, ext in _SIGNATURES), ".img")


def to_storage_path(output_path: Any) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` from a path, a URI (``s3://``, ``file://`` ...) or a path object."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(output_path, ObjectStoragePath):
        return output_path
    text = os.fspath(output_path)
    if "://" not in text:
        text = "file://" + os.path.abspath(os.path.expanduser(text))
    return ObjectStoragePath(text)


def safe_name(part: str) -> str:
    """A path component from an Airflow id: only ``A-Za-z0-9._-``, never ``.`` or ``..``."""
    cleaned = _UNSAFE.sub("_", part).strip("._") or "_"
    return cleaned[:120]


def image_stem(dag_id: str, run_id: str, task_id: str, map_index: int | None, index: int) -> str:
    """``<dag>/<run>/<task>[_<map index>]_<image index>``: documented in the README."""
    suffix = f"_{map_index}" if map_index is not None and map_index >= 0 else ""
    return f"{safe_name(dag_id)}/{safe_name(run_id)}/{safe_name(task_id)}{suffix}_{int(index)}"


def _extension(head: bytes) -> str:
    return next((ext for magic, ext in _SIGNATURES if head.startswith(magic)), ".img")


def find_stored(base: ObjectStoragePath, stem: str) -> ObjectStoragePath | None:
    """The complete copy of an image stored by an earlier try, if there is one."""
    for ext in EXTENSIONS:
        candidate = base / f"{stem}{ext}"
        if candidate.exists():
            return candidate
    return None


def store_image(base: ObjectStoragePath, stem: str, chunks: Iterable[bytes]) -> ObjectStoragePath:
    """Stream ``chunks`` to ``base/stem.<ext>`` (extension from the image's own bytes)."""
    partial = base / f"{stem}.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    head = b""
    try:
        with partial.open("wb") as handle:
            for chunk in _non_empty(chunks):
                if len(head) < 16:
                    head += chunk[:16]
                handle.write(chunk)
        if not head:
            raise ValueError(f"the image for {stem} was empty")
    except BaseException:
        # Leave nothing half-written behind: a retry starts this image afresh.
        partial.unlink(missing_ok=True)
        raise
    final = base / f"{stem}{_extension(head)}"
    partial.rename(final)
    return final


def _non_empty(chunks: Iterable[bytes]) -> Iterator[bytes]:
    return (chunk for chunk in chunks if chunk)


def store_task_images(
    result: dict[str, Any],
    base: ObjectStoragePath,
    *,
    fetch: Callable[[str], Iterable[bytes]],
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    log: Any,
) -> None:
    """
    Copy every image of ``result`` (an XCom result dict) under ``base``, adding each one's ``path``.

    An image already stored by an earlier try is kept; one that cannot be copied fails the task
    with :class:`KlingImageUnavailableError`, after the others are stored.
    """
    from airflow_provider_kling.errors import KlingError, KlingImageUnavailableError

    problems = []
    for image in result["images"]:
        stem = image_stem(dag_id, run_id, task_id, map_index, image["index"])
        stored = find_stored(base, stem)
        if stored is not None:
            log.info("Image %s already stored at %s by an earlier try", image["index"], stored)
        else:
            try:
                if not image["url"]:
                    raise KlingImageUnavailableError("Kling gave no URL for this image")
                stored = store_image(base, stem, fetch(image["url"]))
            except (KlingError, OSError, ValueError) as exc:
                problems.append(f"image {image['index']}: {exc}")
                continue
        image["path"] = str(stored)
    if problems:
        raise KlingImageUnavailableError(
            f"Kling task {result['task_id']}: {len(problems)} image(s) could not be stored: "
            + "; ".join(problems),
            task_id=result["task_id"],
        )
    log.info("Stored %d images of Kling task %s under %s", len(result["images"]), result["task_id"], base)
