"""The results of callback asset events, in storage: each task's images and one JSON manifest.

Images and videos follow the operators' rules (the lifecycle's store path,
:mod:`airflow_provider_kling.lifecycle.results`: verified, never half-written, kept when an earlier
try stored them), one file each, named like a batch item's with the Kling task id as the item's
key: ``<dag_id>/<run_id>/<task_id>_<kling task id>_<index>.<ext>``. The manifest (the lifecycle's
one writer) sits beside them, ``<task_id>_manifest.json``.

Each Kling task is stored by one run of the DAG: once its files are all stored, a small record
``<dag_id>/kling_tasks/<kling task id>.json`` (the run and the files) is written, and a later run
that meets the same task again (its event caught up by one run and consumed by the next, a
second event of the task, the sweep's) lists the files stored before instead of storing them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.lifecycle.results import (
    OutputNames,
    manifest_of,
    store_each,
    write_manifest,
    write_text,
)
from airflow_provider_kling.models.task import TaskStatus
from airflow_provider_kling.storage import IMAGE, VIDEO, MediaKind, path_conn_id, safe_name

#: The folder (under ``<dag_id>/``) of the records of the Kling tasks stored, one per task.
STORED_FOLDER = "kling_tasks"

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath


def events_of_pipeline(
    extras: Iterable[Mapping[str, Any]], namespace: str | None
) -> tuple[list[Mapping[str, Any]], int]:
    """The events of one pipeline (``namespace`` as in its external ids; None: every event), each
    Kling task once (the newest event wins), and how many were someone else's."""
    chosen: dict[str, Mapping[str, Any]] = {}
    others = 0
    for extra in extras:
        if not isinstance(extra, Mapping) or "kling_task_id" not in extra:
            continue
        if namespace is not None and extra.get("namespace") != namespace:
            others += 1
            continue
        chosen[str(extra["kling_task_id"])] = extra
    return list(chosen.values()), others


def store_callback_results(
    extras: Iterable[Mapping[str, Any]],
    base: ObjectStoragePath,
    *,
    hook: Any,
    names: OutputNames,
    log: Any,
) -> dict[str, Any]:
    """Store every succeeded event's images and videos (the lifecycle's store path, opened with
    ``hook``'s openers), then write the manifest; return a small summary.

    ``storage_errors`` lists the Kling tasks whose files could not all be stored (a retry stores
    the missing ones); a storage set-up error is raised at once. A task an earlier run stored
    (its record under :data:`STORED_FOLDER`) is listed with those files and that run's id in
    ``stored_by``, and is not stored again (``already_stored`` counts them).
    """
    rows: list[dict[str, Any]] = []
    made: list[tuple[str, dict[str, Any], MediaKind]] = []
    earlier: dict[str, dict[str, Any]] = {}
    for extra in extras:
        kling_task_id = str(extra["kling_task_id"])
        row: dict[str, Any] = {
            key: extra.get(key)
            for key in ("external_task_id", "namespace", "fingerprint", "status", "status_message", "units")
        }
        row = {"kling_task_id": kling_task_id, **row, "video_urls": list(extra.get("video_urls") or [])}
        rows.append(row)
        stored = _stored_record(base, names, kling_task_id)
        if stored is not None:
            earlier[kling_task_id] = stored
            continue
        if extra.get("status") != TaskStatus.SUCCEED.value:
            continue
        for media in (IMAGE, VIDEO):
            urls = extra.get(f"{media.noun}_urls")
            if urls:
                result: dict[str, Any] = {
                    "task_id": kling_task_id,
                    media.plural: [{"index": index, "url": url} for index, url in enumerate(urls)],
                }
                made.append((kling_task_id, result, media))
    storage_errors = store_each(made, base, hook=hook, names=names, log=log)
    files: dict[str, list[str]] = {}
    for kling_task_id, result, media in made:
        files.setdefault(kling_task_id, []).extend(
            item["path"] for item in result[media.plural] if item.get("path")
        )
    for row in rows:
        kling_task_id = row["kling_task_id"]
        if kling_task_id in earlier:
            row["files"] = list(earlier[kling_task_id].get("files") or [])
            row["stored_by"] = earlier[kling_task_id].get("run_id")
            continue
        row["files"] = files.get(kling_task_id, [])
        row["stored_by"] = names.run_id
        if kling_task_id not in storage_errors:
            _write_stored_record(base, names, kling_task_id, row["files"])
    if earlier:
        log.info("%d Kling tasks were stored by an earlier run: not stored again", len(earlier))
    manifest = manifest_of(names, rows, rows_key="tasks")
    return {
        "total": len(rows),
        "already_stored": len(earlier),
        "counts": manifest["counts"],
        "files_stored": sum(len(row["files"]) for row in rows),
        "manifest": write_manifest(base, names, manifest, log),
        "output_conn_id": path_conn_id(base),
        "storage_errors": sorted(storage_errors),
    }


def _stored_path(names: OutputNames, kling_task_id: str) -> str:
    return f"{safe_name(names.dag_id)}/{STORED_FOLDER}/{safe_name(kling_task_id)}.json"


def _stored_record(base: ObjectStoragePath, names: OutputNames, kling_task_id: str) -> dict[str, Any] | None:
    """The record of an earlier run that stored this Kling task, or None."""
    path = base / _stored_path(names, kling_task_id)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError:  # never half-written (written whole), but not ours to trust blindly
        return None
    return record if isinstance(record, dict) else None


def _write_stored_record(
    base: ObjectStoragePath, names: OutputNames, kling_task_id: str, files: list[str]
) -> None:
    record = {"kling_task_id": kling_task_id, "run_id": names.run_id, "files": files}
    write_text(base, _stored_path(names, kling_task_id), json.dumps(record))
