"""A batch's results in storage: each item's images or videos, a JSON manifest and an HTML contact sheet.

Files follow the single operators' rules (:func:`~airflow_provider_kling.storage.store_task_outputs`:
verified, streamed, never half-written, kept when an earlier try stored them; images or videos as
the request kind makes, :func:`~airflow_provider_kling.models.requests.media_of`), named
``<dag_id>/<run_id>/<task_id>[_<map_index>]_<key>_<index>.<ext>`` (a video's watermarked copy
``..._<index>_watermarked.mp4``). The folder is listed once for the whole batch. The manifest and
the contact sheet sit beside them: ``<task_id>[_<map_index>]_manifest.json`` and
``<task_id>[_<map_index>]_contact_sheet.html``.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_kling.batch.admission import SUCCEEDED, ItemProgress
from airflow_provider_kling.errors import KlingError, KlingStorageConfigError
from airflow_provider_kling.idempotency import generation_external_task_id
from airflow_provider_kling.models.requests import media_of
from airflow_provider_kling.storage import (
    IMAGE,
    VIDEO,
    VIDEO_EXTENSIONS,
    list_names,
    path_conn_id,
    plain_uri,
    safe_name,
    store_task_outputs,
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
    hook: Any,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    log: Any,
    results_out: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store every succeeded item's images or videos (opened with ``hook``'s opener of their
    kind), then write the manifest and the contact sheet.

    ``results_out``, when given, receives one result per item that stored files, in the shape of
    the single operator's result (``task_id``, ``model_name``, ``final_unit_deduction``, ``images``
    or ``videos`` with their stored ``path``): what asset events and OpenLineage facets describe.

    Returns the small summary for XCom; ``storage_errors`` lists items whose files could not all
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
        media = media_of(item.request.kind)
        row: dict[str, Any] = {
            "key": item.key,
            "media": media.noun,
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
            media.plural: [],
        }
        if state.status == SUCCEEDED and state.task is not None:
            result = ImageTask.model_validate(state.task).to_xcom()
            result.setdefault(media.plural, [])
            try:
                store_task_outputs(
                    result,
                    base,
                    media=media,
                    hook=hook,
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id=f"{name}_{item.key}",
                    map_index=None,
                    log=log,
                    names=names,
                )
            except KlingStorageConfigError:
                raise
            except KlingError as exc:
                storage_errors[item.key] = str(exc)
                log.warning("Batch item %r: %s", item.key, exc)
            made = result[media.plural]
            # An image's path is its row's file; a video keeps its paths (and its duration) itself.
            row[media.plural] = made if media is VIDEO else [_without(i, "path") for i in made]
            row["files"] = [i[key] for i in made for key in _PATH_KEYS if i.get(key)]
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
                **(
                    {"videos": [made for made in row["videos"] if made.get("path")]}
                    if row["media"] == VIDEO.noun
                    else {"images": [{"path": path} for path in row["files"]]}
                ),
            }
            for row in rows
            if row["kling_task_id"] and row["files"]
        )
    return {
        "total": len(rows),
        "counts": counts,
        **{
            f"{media.plural}_stored": sum(len(row["files"]) for row in rows if row["media"] == media.noun)
            for media in (IMAGE, VIDEO)
        },
        # Items never created on Kling have nothing to sum; a task still without its deduction
        # makes the total unknown (spend.sum_units' one rule).
        "units": sum_units(row["units"] for row in rows if row["kling_task_id"]),
        "manifest": plain_uri(manifest_path),
        "contact_sheet": plain_uri(sheet_path),
        "output_conn_id": path_conn_id(base),
        "storage_errors": sorted(storage_errors),
    }


#: The keys of a result item's stored files: the file, and a video's watermarked copy.
_PATH_KEYS = ("path", "watermark_path")


def _without(made: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in made.items() if k != key}


def _preview(name: str, alt: str) -> str:
    """An item's file on the contact sheet: a video plays in place, an image links to itself."""
    esc = html.escape
    if name.lower().endswith(VIDEO_EXTENSIONS):
        return f'<video controls preload="metadata" src="{esc(name)}" title="{esc(alt)}"></video>'
    return f'<a href="{esc(name)}"><img src="{esc(name)}" alt="{esc(alt)}" loading="lazy"></a>'


def contact_sheet(manifest: dict[str, Any]) -> str:
    """One HTML page: every item's images or videos (by relative file name; videos play), prompt,
    status and Kling task id."""
    esc = html.escape
    cards = []
    for row in manifest["items"]:
        pictures = "".join(
            _preview(name, row["key"]) for name in (path.rsplit("/", 1)[-1] for path in row["files"])
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
        "figure{width:260px;margin:0;border:1px solid #ccc;padding:.5em}img,video{max-width:100%}"
        "figure.refused,figure.failed,figure.error,figure.unfinished{background:#fee}"
        ".msg{color:#900}figcaption p{font-size:.85em}"
        f"</style></head><body><h1>{title}</h1><p>{counts}</p><main>\n"
        + "\n".join(cards)
        + "\n</main></body></html>\n"
    )
