"""A batch's results in storage: each item's images or videos (the lifecycle's store path), a
JSON manifest and an HTML contact sheet beside them (see docs/operators/batch.rst).
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_kling.batch.admission import SUCCEEDED, ItemProgress, QuietLog
from airflow_provider_kling.estimates import priced_as
from airflow_provider_kling.idempotency import generation_external_task_id
from airflow_provider_kling.lifecycle.results import (
    OutputNames,
    manifest_of,
    result_of,
    store_each,
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
    task_prefix,
    to_storage_path,
    write_whole,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.batch.items import BatchItem


#: Cards on the contact sheet: the first this many items; the manifest lists every one.
CONTACT_SHEET_CARDS = 1000
#: Items stored at once (their downloads wait on the network).
STORE_THREADS = 8
#: Results kept for the asset event and OpenLineage (the first this many; the manifest has all).
RESULTS_KEPT = 1000


def store_batch(
    base: ObjectStoragePath,
    pairs: Iterable[tuple[BatchItem, ItemProgress]],
    *,
    hook: Any,
    names: OutputNames,
    log: Any,
    results_out: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store each succeeded item's images or videos (the lifecycle's store path, as the single
    operator's) and write its manifest row, item by item (``pairs``: each item with its progress,
    read as they come: a batch of any size holds one at a time); then the contact sheet.

    ``results_out``, when given, receives the result (the single operator's) of the first
    :data:`RESULTS_KEPT` items that stored files: what asset events and OpenLineage facets describe.

    Returns the small summary for XCom; ``storage_errors`` lists items whose files could not all
    be stored (a retry stores the missing ones). A storage set-up error is raised at once.
    """
    listing = sorted(list_names(base, names.folder))
    storage_errors: list[str] = []
    counts: dict[str, int] = {}
    stored_files = dict.fromkeys(MEDIA, 0)
    units: list[Any] = []
    cards: list[str] = []

    def stored(item: BatchItem, state: ItemProgress) -> dict[str, Any]:
        return _stored_row(item, state, base, hook, names, log, listing, storage_errors, results_out)

    def rows() -> Iterator[dict[str, Any]]:
        # STORE_THREADS items stored at once (downloads wait on the network), rows kept in order
        with ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="kling-batch-store") as pool:
            window: deque[Future[dict[str, Any]]] = deque()
            for pair in itertools.chain(pairs, [None]):  # None: the end, take the rest
                if pair is not None:
                    window.append(pool.submit(stored, *pair))
                while window and (pair is None or len(window) >= 4 * STORE_THREADS):
                    row = window.popleft().result()
                    counts[row["status"]] = counts.get(row["status"], 0) + 1
                    stored_files[row["media"]] += len(row["files"])
                    if row["kling_task_id"]:
                        units.append(row["units"])
                    if len(cards) < CONTACT_SHEET_CARDS:
                        cards.append(_card(row))
                    yield row

    header = manifest_of(names, [])
    del header["counts"], header["items"]
    manifest_uri = write_manifest_rows(base, names, header, rows(), counts, log)
    sheet_path = write_text(
        base,
        f"{names.folder}/{safe_name(names.stem)}_contact_sheet.html",
        contact_sheet(header, counts, cards, manifest_uri),
    )
    log.info("Wrote the batch contact sheet %s", plain_uri(sheet_path))
    return {
        "total": sum(counts.values()),
        "counts": counts,
        **{f"{MEDIA[noun].plural}_stored": count for noun, count in stored_files.items()},
        # Items never created on Kling have nothing to sum; a task still without its deduction
        # makes the total unknown (spend.sum_units' one rule).
        "units": sum_units(units),
        "manifest": manifest_uri,
        "contact_sheet": plain_uri(sheet_path),
        "output_conn_id": path_conn_id(base),
        # the first few only: the manifest names every item that failed
        "storage_errors": sorted(storage_errors)[:20],
        **({"storage_errors_total": len(storage_errors)} if len(storage_errors) > 20 else {}),
    }


def _stored_row(
    item: BatchItem,
    state: ItemProgress,
    base: ObjectStoragePath,
    hook: Any,
    names: OutputNames,
    log: Any,
    listing: list[str],
    storage_errors: list[str],
    results_out: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """One item's manifest row, its files stored first when it succeeded."""
    media = media_of(item.request.kind)
    result: dict[str, Any] = {}
    message = state.message
    if state.status == SUCCEEDED and state.task is not None:
        result = result_of(KlingTask.model_validate(state.task))
        prefix = task_prefix(names.dag_id, names.run_id, f"{names.stem}_{item.key}", None)[1]
        start = bisect.bisect_left(listing, prefix)
        following = (listing[i] for i in range(start, len(listing)))
        own = itertools.takewhile(lambda name: name.startswith(prefix), following)
        quiet = QuietLog(log)  # its "Stored" line per item at debug: the manifest lists them
        errors = store_each([(item.key, result, media)], base, hook=hook, names=names, log=quiet, listing=own)
        storage_errors.extend(errors)
        if results_out is not None and len(results_out) < RESULTS_KEPT:
            if any(i.get("path") for i in result[media.plural]):
                results_out.append(result)
    made = result.get(media.plural, [])
    task = state.task or {}
    return {
        "key": item.key,
        "media": media.noun,
        "number": item.number,
        "prompt": getattr(item.request, "prompt", None),
        "model_name": getattr(item.request, "model_name", None),
        "n": item.n,
        "external_task_id": generation_external_task_id(state.external_task_id, state.generation),
        "kling_task_id": state.kling_task_id,
        "status": state.status,
        "message": message,
        "units": result.get("final_unit_deduction", task.get("final_unit_deduction")),
        "priced_as": priced_as(item.request),
        "balance": result.get("final_balance_deduction", task.get("final_balance_deduction")),
        # An image's path is its row's file; a video keeps its paths (and its duration) itself.
        "files": [i[key] for i in made for key in _PATH_KEYS if i.get(key)],
        media.plural: [_without(i, "path") for i in made] if media is IMAGE else made,
    }


def write_manifest_rows(
    base: ObjectStoragePath,
    names: OutputNames,
    header: dict[str, Any],
    rows: Iterable[dict[str, Any]],
    counts: dict[str, int],
    log: Any,
) -> str:
    """The manifest (``<stem>_manifest.json``) written row by row: the header's fields, ``items``,
    then ``counts`` (filled while the rows were written); its plain URI."""

    def write(handle: IO[bytes]) -> str:
        handle.write(json.dumps(header, ensure_ascii=False)[:-1].encode() + b', "items": [\n')
        for number, row in enumerate(rows):
            handle.write((",\n" if number else "").encode() + json.dumps(row, ensure_ascii=False).encode())
        handle.write(b'\n], "counts": ' + json.dumps(counts).encode() + b"}\n")
        return ".json"

    path = write_whole(base, f"{names.folder}/{safe_name(names.stem)}_manifest", write)
    log.info("Wrote the manifest of %d results to %s", sum(counts.values()), plain_uri(path))
    return plain_uri(path)


def write_lines(path: ObjectStoragePath, rows: Iterable[dict[str, Any]]) -> str:
    """``rows`` as JSON lines in ``path`` (a ``.jsonl`` name), written whole as they come (the
    items a batch stages for its trigger, the trigger's outcomes); its plain URI."""

    def write(handle: IO[bytes]) -> str:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        return ".jsonl"

    return plain_uri(write_whole(path.parent, path.name.removesuffix(".jsonl"), write))


def read_lines(uri: str, conn_id: str | None) -> Iterator[dict[str, Any]]:
    """The rows :func:`write_lines` wrote, one at a time."""
    with to_storage_path(uri, conn_id).open("r") as handle:
        yield from (json.loads(line) for line in handle if line.strip())


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


def _card(row: dict[str, Any]) -> str:
    """One item on the contact sheet: its files (by relative name; videos play), key, status,
    Kling task id, prompt and message."""
    esc = html.escape
    pictures = "".join(
        _preview(name, row["key"]) for name in (path.rsplit("/", 1)[-1] for path in row["files"])
    )
    note = f'<p class="msg">{esc(row["message"])}</p>' if row["message"] else ""
    return (
        f'<figure class="{esc(row["status"])}">{pictures}<figcaption><b>{esc(row["key"])}</b> '
        f"&middot; {esc(row['status'])} &middot; Kling task {esc(str(row['kling_task_id'] or '-'))}"
        f"<p>{esc(row['prompt'] or '')}</p>{note}</figcaption></figure>"
    )


def contact_sheet(header: dict[str, Any], counts: dict[str, int], cards: list[str], manifest_uri: str) -> str:
    """One HTML page of the first :data:`CONTACT_SHEET_CARDS` items' cards, with a link to the
    manifest when it lists more."""
    esc = html.escape
    title = esc(f"{header['dag_id']} / {header['run_id']} / {header['task_id']}")
    total = sum(counts.values())
    summary = esc(", ".join(f"{count} {status}" for status, count in sorted(counts.items())))
    more = ""
    if total > len(cards):
        link = esc(manifest_uri.rsplit("/", 1)[-1])
        more = f'<p>The first {len(cards)} of {total} items: <a href="{link}">the manifest</a> lists all.</p>'
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;margin:1em}main{display:flex;flex-wrap:wrap;gap:1em}"
        "figure{width:260px;margin:0;border:1px solid #ccc;padding:.5em}img,video{max-width:100%}"
        "figure.refused,figure.failed,figure.error,figure.unfinished{background:#fee}"
        ".msg{color:#900}figcaption p{font-size:.85em}"
        f"</style></head><body><h1>{title}</h1><p>{summary}</p>{more}<main>\n"
        + "\n".join(cards)
        + "\n</main></body></html>\n"
    )
