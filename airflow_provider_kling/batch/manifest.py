"""A batch's results in storage: each item's images, a JSON manifest and an HTML contact sheet.

Images follow the single operator's rules (:func:`~airflow_provider_kling.storage.store_task_images`:
verified, never half-written, kept when an earlier try stored them), named
``<dag_id>/<run_id>/<task_id>[_<map_index>]_<key>_<index>.<ext>``. The folder is listed once for
the whole batch. The manifest and the contact sheet sit beside them:
``<task_id>[_<map_index>]_manifest.json`` and ``<task_id>[_<map_index>]_contact_sheet.html``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_kling.batch.admission import SUCCEEDED, ItemProgress
from airflow_provider_kling.errors import KlingError, KlingStorageConfigError
from airflow_provider_kling.idempotency import generation_external_task_id
from airflow_provider_kling.storage import (
    find_stored,
    list_names,
    path_conn_id,
    plain_uri,
    safe_name,
    store_task_images,
    task_prefix,
    write_whole,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.batch.items import BatchItem


def batch_name(task_id: str, map_index: int | None) -> str:
    """``<task_id>[_<map_index>]``: what the batch's files are named after."""
    return f"{task_id}_{map_index}" if map_index is not None and map_index >= 0 else task_id


def write_text(base: ObjectStoragePath, relative: str, text: str) -> ObjectStoragePath:
    """Write a small text file whole (:func:`~airflow_provider_kling.storage.write_whole`)."""

    def write(handle: IO[bytes]) -> str:
        handle.write(text.encode("utf-8"))
        return ""

    return write_whole(base, relative, write)


def store_batch(
    base: ObjectStoragePath,
    items: list[BatchItem],
    progress: dict[str, ItemProgress],
    *,
    fetch: Callable[[str], Iterable[bytes]],
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    log: Any,
    results_out: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store every succeeded item's images, then write the manifest and the contact sheet.

    ``results_out``, when given, receives one result per item that made images, in the shape of
    the single operator's result (``task_id``, ``model_name``, ``final_unit_deduction``, ``images``
    with their stored ``path``): what asset events and OpenLineage facets describe.

    Returns the small summary for XCom; ``storage_errors`` lists items whose images could not all
    be stored (a retry stores the missing ones). A storage set-up error is raised at once.
    """
    from airflow_provider_kling.estimates import priced_as
    from airflow_provider_kling.models import ImageTask
    from airflow_provider_kling.spend import sum_units

    name = batch_name(task_id, map_index)
    folder, _ = task_prefix(dag_id, run_id, name, None)
    names = list_names(base, folder)
    rows: list[dict[str, Any]] = []
    storage_errors: dict[str, str] = {}
    for item in items:
        state = progress[item.key]
        row: dict[str, Any] = {
            "key": item.key,
            "number": item.number,
            "prompt": getattr(item.request, "prompt", None),
            "model_name": getattr(item.request, "model_name", None),
            "n": item.n,
            "external_task_id": generation_external_task_id(state.external_task_id, state.generation),
            "kling_task_id": state.kling_task_id,
            "status": state.status,
            "message": state.message,
            "units": (state.task or {}).get("final_unit_deduction"),
            "priced_as": priced_as(item.request),
            "balance": (state.task or {}).get("final_balance_deduction"),
            "files": [],
            "images": [],
        }
        if state.status == SUCCEEDED and state.task is not None:
            result = ImageTask.model_validate(state.task).to_xcom()
            item_task = f"{name}_{item.key}"
            _, prefix = task_prefix(dag_id, run_id, item_task, None)
            try:
                store_task_images(
                    result,
                    base,
                    fetch=fetch,
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id=item_task,
                    map_index=None,
                    log=log,
                    stored=find_stored(base, folder, prefix, names),
                )
            except KlingStorageConfigError:
                raise
            except KlingError as exc:
                storage_errors[item.key] = str(exc)
                log.warning("Batch item %r: %s", item.key, exc)
            row["images"] = [{k: v for k, v in i.items() if k != "path"} for i in result["images"]]
            row["files"] = [i["path"] for i in result["images"] if i.get("path")]
        rows.append(row)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    created_at = datetime.now(UTC).isoformat()
    manifest = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "written_at": created_at,
        "counts": counts,
        "items": rows,
    }
    manifest_path = write_text(
        base, f"{folder}/{safe_name(name)}_manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False)
    )
    sheet_path = write_text(base, f"{folder}/{safe_name(name)}_contact_sheet.html", contact_sheet(manifest))
    log.info(
        "Wrote the batch manifest %s and contact sheet %s", plain_uri(manifest_path), plain_uri(sheet_path)
    )
    if results_out is not None:
        results_out.extend(
            {
                "task_id": row["kling_task_id"],
                "model_name": row["model_name"],
                "final_unit_deduction": row["units"],
                "images": [{"path": path} for path in row["files"]],
            }
            for row in rows
            if row["kling_task_id"] and row["files"]
        )
    return {
        "total": len(rows),
        "counts": counts,
        "images_stored": sum(len(row["files"]) for row in rows),
        # Items never created on Kling have nothing to sum; a task still without its deduction
        # makes the total unknown (spend.sum_units' one rule).
        "units": sum_units(row["units"] for row in rows if row["kling_task_id"]),
        "manifest": plain_uri(manifest_path),
        "contact_sheet": plain_uri(sheet_path),
        "output_conn_id": path_conn_id(base),
        "storage_errors": sorted(storage_errors),
    }


def contact_sheet(manifest: dict[str, Any]) -> str:
    """One HTML page: every item's images (by relative file name), prompt, status and Kling task id."""
    esc = html.escape
    cards = []
    for row in manifest["items"]:
        pictures = "".join(
            f'<a href="{esc(name)}"><img src="{esc(name)}" alt="{esc(row["key"])}" loading="lazy"></a>'
            for name in (path.rsplit("/", 1)[-1] for path in row["files"])
        )
        note = f'<p class="msg">{esc(row["message"])}</p>' if row["message"] else ""
        cards.append(
            f'<figure class="{esc(row["status"])}">{pictures}<figcaption><b>{esc(row["key"])}</b> '
            f"&middot; {esc(row['status'])} &middot; Kling task {esc(str(row['kling_task_id'] or '-'))}"
            f"<p>{esc(row['prompt'] or '')}</p>{note}</figcaption></figure>"
        )
    title = esc(f"{manifest['dag_id']} / {manifest['run_id']} / {manifest['task_id']}")
    counts = esc(", ".join(f"{count} {status}" for status, count in sorted(manifest["counts"].items())))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;margin:1em}main{display:flex;flex-wrap:wrap;gap:1em}"
        "figure{width:260px;margin:0;border:1px solid #ccc;padding:.5em}img{max-width:100%}"
        "figure.refused,figure.failed,figure.error,figure.unfinished{background:#fee}"
        ".msg{color:#900}figcaption p{font-size:.85em}"
        f"</style></head><body><h1>{title}</h1><p>{counts}</p><main>\n"
        + "\n".join(cards)
        + "\n</main></body></html>\n"
    )
