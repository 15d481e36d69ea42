"""The results of callback asset events, in storage: each task's images and one JSON manifest.

Images follow the operators' rules (:func:`~airflow_provider_kling.storage.store_task_images`:
verified, never half-written, kept when an earlier try stored them), one file per image, named
like a batch item's with the Kling task id as the item's key:
``<dag_id>/<run_id>/<task_id>_<kling task id>_<index>.<ext>``; videos likewise
(:func:`~airflow_provider_kling.storage.store_task_videos`, when a ``fetch_video`` is given; else
they are listed in the manifest by URL). The manifest sits beside them, ``<task_id>_manifest.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingError, KlingStorageConfigError
from airflow_provider_kling.models.task import TaskStatus
from airflow_provider_kling.storage import (
    path_conn_id,
    plain_uri,
    safe_name,
    store_task_images,
    store_task_videos,
    task_prefix,
)

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
    fetch: Callable[[str], Iterable[bytes]],
    dag_id: str,
    run_id: str,
    task_id: str,
    log: Any,
    fetch_video: Callable[[str], Iterable[bytes]] | None = None,
) -> dict[str, Any]:
    """Store every succeeded event's images, then write the manifest; return a small summary.

    ``storage_errors`` lists the Kling tasks whose images could not all be stored (a retry stores
    the missing ones); a storage set-up error is raised at once.
    """
    folder, _ = task_prefix(dag_id, run_id, task_id, None)
    rows: list[dict[str, Any]] = []
    storage_errors: dict[str, str] = {}
    for extra in extras:
        kling_task_id = str(extra["kling_task_id"])
        row: dict[str, Any] = {
            key: extra.get(key)
            for key in ("external_task_id", "namespace", "fingerprint", "status", "status_message", "units")
        }
        row = {"kling_task_id": kling_task_id, **row, "video_urls": list(extra.get("video_urls") or [])}
        row["files"] = []
        succeeded = extra.get("status") == TaskStatus.SUCCEED.value
        for media, urls, fetcher, store in (
            ("images", extra.get("image_urls"), fetch, store_task_images),
            ("videos", extra.get("video_urls"), fetch_video, store_task_videos),
        ):
            if not (succeeded and urls and fetcher):
                continue
            result: dict[str, Any] = {
                "task_id": kling_task_id,
                media: [{"index": index, "url": url} for index, url in enumerate(urls)],
            }
            try:
                store(
                    result,
                    base,
                    fetch=fetcher,
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id=f"{task_id}_{kling_task_id}",
                    map_index=None,
                    log=log,
                )
            except KlingStorageConfigError:
                raise
            except KlingError as exc:
                storage_errors[kling_task_id] = str(exc)
                log.warning("Kling task %s: %s", kling_task_id, exc)
            row["files"] += [item["path"] for item in result[media] if item.get("path")]
        rows.append(row)
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
    manifest = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "written_at": datetime.now(UTC).isoformat(),
        "counts": counts,
        "tasks": rows,
    }
    from airflow_provider_kling.batch.manifest import write_text

    manifest_path = write_text(
        base,
        f"{folder}/{safe_name(task_id)}_manifest.json",
        json.dumps(manifest, indent=1, ensure_ascii=False),
    )
    log.info("Wrote the manifest of %d Kling tasks to %s", len(rows), plain_uri(manifest_path))
    return {
        "total": len(rows),
        "counts": counts,
        "files_stored": sum(len(row["files"]) for row in rows),
        "manifest": plain_uri(manifest_path),
        "output_conn_id": path_conn_id(base),
        "storage_errors": sorted(storage_errors),
    }
