"""What a succeeded Kling task made, into the user's storage: the one store path and manifest
writer of every driver (the single operator, the batch, the callback results), and the one run id
fallback. No Airflow: the caller passes the hook, the run's names (:class:`OutputNames`) and a log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingError, KlingStorageConfigError
from airflow_provider_kling.storage import (
    MediaKind,
    plain_uri,
    safe_name,
    store_task_outputs,
    task_prefix,
    write_whole,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.models.task import KlingTask


def run_id_of(context: Mapping[str, Any]) -> str:
    """The run id of an Airflow task's context: the one fallback (the task instance's, else ``run``)."""
    return str(context.get("run_id") or getattr(context.get("ti"), "run_id", None) or "run")


@dataclass(frozen=True)
class OutputNames:
    """What a task's files are named after: ``<dag_id>/<run_id>/<task_id>[_<map_index>]_<n>.<ext>``."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int | None = None

    @property
    def folder(self) -> str:
        return task_prefix(self.dag_id, self.run_id, self.task_id, self.map_index)[0]

    def of_item(self, key: str) -> OutputNames:
        """The names of one item of many (a batch item, a callback's task): ``<task_id>_<key>``."""
        return OutputNames(self.dag_id, self.run_id, f"{self.stem}_{key}")

    @property
    def stem(self) -> str:
        """``<task_id>[_<map_index>]``: what a task's own files (a manifest) are named after."""
        index = self.map_index
        return f"{self.task_id}_{index}" if index is not None and index >= 0 else self.task_id


def result_of(task: KlingTask, request: Any = None) -> dict[str, Any]:
    """The result of ``task`` (and what its ``request`` asked): XCom, manifest rows, asset events."""
    return {**task.to_xcom(), **(request.summary() if request is not None else {})}


def store_result(
    result: dict[str, Any],
    base: ObjectStoragePath,
    *,
    media: MediaKind,
    hook: Any,
    names: OutputNames,
    log: Any,
    listing: Iterable[str] | None = None,
) -> None:
    """Copy what ``result`` lists of kind ``media`` under ``base`` (each file's ``path`` set), opened
    with ``hook``'s opener of that kind; raises what
    :func:`~airflow_provider_kling.storage.store_task_outputs` raises. ``listing`` (the folder's
    names) spares the listing when the caller listed it once for many."""
    result.setdefault(media.plural, [])
    store_task_outputs(
        result,
        base,
        media=media,
        fetch=media.fetcher(hook),
        dag_id=names.dag_id,
        run_id=names.run_id,
        task_id=names.task_id,
        map_index=names.map_index,
        log=log,
        names=listing,
    )


def store_each(
    results: Iterable[tuple[str, dict[str, Any], MediaKind]],
    base: ObjectStoragePath,
    *,
    hook: Any,
    names: OutputNames,
    log: Any,
    listing: Iterable[str] | None = None,
) -> dict[str, str]:
    """:func:`store_result` for each ``(key, result, media)``, named :meth:`OutputNames.of_item`; a
    result whose files cannot all be stored is recorded (key -> why; a retry stores the missing
    ones) and the rest go on. A storage set-up error is raised at once."""
    errors: dict[str, str] = {}
    listing = list(listing) if listing is not None else None
    for key, result, media in results:
        try:
            store_result(
                result, base, media=media, hook=hook, names=names.of_item(key), log=log, listing=listing
            )
        except KlingStorageConfigError:
            raise
        except KlingError as exc:
            errors[key] = str(exc)
            log.warning("%s: %s", key, exc)
    return errors


def count_statuses(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many rows have each ``status``."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
    return counts


def manifest_of(names: OutputNames, rows: list[dict[str, Any]], *, rows_key: str = "items") -> dict[str, Any]:
    """The manifest of many results: who wrote it, when, the counts by status, and one row each."""
    return {
        "dag_id": names.dag_id,
        "run_id": names.run_id,
        "task_id": names.task_id,
        "map_index": names.map_index,
        "written_at": datetime.now(UTC).isoformat(),
        "counts": count_statuses(rows),
        rows_key: rows,
    }


def write_text(base: ObjectStoragePath, relative: str, text: str) -> ObjectStoragePath:
    """Write a small text file whole (:func:`~airflow_provider_kling.storage.write_whole`)."""

    def write(handle: IO[bytes]) -> str:
        handle.write(text.encode("utf-8"))
        return ""

    return write_whole(base, relative, write)


def write_manifest(base: ObjectStoragePath, names: OutputNames, manifest: dict[str, Any], log: Any) -> str:
    """Write ``manifest`` whole as ``<dag>/<run>/<task_id>[_<map_index>]_manifest.json``; its plain URI."""
    path = write_text(
        base,
        f"{names.folder}/{safe_name(names.stem)}_manifest.json",
        json.dumps(manifest, indent=1, ensure_ascii=False),
    )
    log.info("Wrote the manifest of %d results to %s", sum(manifest["counts"].values()), plain_uri(path))
    return plain_uri(path)
