"""A batch's results in storage: each item's images or videos (the lifecycle's store path), a
JSON manifest and an HTML contact sheet beside them (see docs/operators/batch.rst).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.batch.admission import SUCCEEDED, ItemProgress
from airflow_provider_kling.estimates import priced_as
from airflow_provider_kling.idempotency import generation_external_task_id
from airflow_provider_kling.lifecycle.results import (
    OutputNames,
    manifest_of,
    result_of,
    store_each,
    write_manifest,
    write_text,
)
from airflow_provider_kling.models.requests import media_of
from airflow_provider_kling.models.task import KlingTask
from airflow_provider_kling.spend import sum_units
from airflow_provider_kling.storage import (
    AUDIO,
    IMAGE,
    MEDIA,
    VIDEO_EXTENSIONS,
    list_names,
    path_conn_id,
    plain_uri,
    safe_name,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.batch.items import BatchItem


def store_batch(
    base: ObjectStoragePath,
    items: list[BatchItem],
    progress: dict[str, ItemProgress],
    *,
    hook: Any,
    names: OutputNames,
    log: Any,
    results_out: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store every succeeded item's images or videos (the lifecycle's store path, as the single
    operator's), then write the manifest and the contact sheet.

    ``results_out``, when given, receives the result (the single operator's) of each item that
    stored files: what asset events and OpenLineage facets describe.

    Returns the small summary for XCom; ``storage_errors`` lists items whose files could not all
    be stored (a retry stores the missing ones). A storage set-up error is raised at once.
    """
    rows: list[dict[str, Any]] = []
    made: list[tuple[str, dict[str, Any], Any]] = []
    for item in items:
        state = progress[item.key]
        media = media_of(item.request.kind)
        result: dict[str, Any] = {}
        if state.status == SUCCEEDED and state.task is not None:
            result = result_of(KlingTask.model_validate(state.task))
            made.append((item.key, result, media))
        rows.append(
            {
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
                "units": result.get("final_unit_deduction", (state.task or {}).get("final_unit_deduction")),
                "priced_as": priced_as(item.request),
                "balance": result.get(
                    "final_balance_deduction", (state.task or {}).get("final_balance_deduction")
                ),
                "files": [],
                media.plural: result.get(media.plural, []),
            }
        )
    storage_errors = store_each(
        made, base, hook=hook, names=names, log=log, listing=list_names(base, names.folder)
    )
    for row in rows:
        media = MEDIA[row["media"]]
        files = row[media.plural]
        # An image's path is its row's file; a video keeps its paths (and its duration) itself.
        row["files"] = [i[key] for i in files for key in _PATH_KEYS if i.get(key)]
        if media is IMAGE:
            row[media.plural] = [_without(i, "path") for i in files]
    manifest = manifest_of(names, rows)
    manifest_uri = write_manifest(base, names, manifest, log)
    sheet_path = write_text(
        base, f"{names.folder}/{safe_name(names.stem)}_contact_sheet.html", contact_sheet(manifest)
    )
    log.info("Wrote the batch contact sheet %s", plain_uri(sheet_path))
    if results_out is not None:  # the single operator's results, of the items that stored files
        results_out.extend(
            result for _, result, media in made if any(i.get("path") for i in result[media.plural])
        )
    return {
        "total": len(rows),
        "counts": manifest["counts"],
        **{
            f"{media.plural}_stored": sum(len(row["files"]) for row in rows if row["media"] == media.noun)
            for media in MEDIA.values()
        },
        # Items never created on Kling have nothing to sum; a task still without its deduction
        # makes the total unknown (spend.sum_units' one rule).
        "units": sum_units(row["units"] for row in rows if row["kling_task_id"]),
        "manifest": manifest_uri,
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
    if name.lower().endswith(AUDIO.extensions):
        return f'<audio controls preload="metadata" src="{esc(name)}" title="{esc(alt)}"></audio>'
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
