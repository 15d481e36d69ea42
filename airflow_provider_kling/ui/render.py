"""The Kling view's pages: what a run made (from its task results and manifests) and what was spent,
as HTML with an inline SVG plot. No Airflow and no I/O: :mod:`.app` reads and passes them in.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_provider_kling.spend import sum_units, units_of
from airflow_provider_kling.storage import AUDIO, MEDIA, VIDEO_EXTENSIONS

#: Reads a manifest: (its URI, the output connection) -> its JSON.
ReadManifest = Callable[[str, "str | None"], Mapping[str, Any]]
_PATH_KEYS = ("path", "watermark_path")
esc = html.escape


@dataclass
class Item:
    """One Kling task of a run: what it was asked, what it cost, where its files are."""

    task: str
    key: str
    prompt: str | None
    kling_task_id: str | None
    status: str
    units: float | None
    message: str | None
    files: list[str] = field(default_factory=list)
    conn_id: str | None = None


def is_summary(value: Any) -> bool:
    """A batch's or the callback results' summary (written beside a manifest of many tasks)."""
    return isinstance(value, dict) and bool(value.get("manifest")) and "counts" in value


def is_result(value: Any) -> bool:
    """A single operator's result (``KlingTask.to_xcom()`` and the stored paths)."""
    return isinstance(value, dict) and "task_status" in value and "task_id" in value


def items_of(task: str, value: Any, read_manifest: ReadManifest) -> list[Item]:
    """The Kling tasks an Airflow task's return value describes (none when it is not one of ours)."""
    if is_summary(value):
        conn = value.get("output_conn_id")
        manifest = read_manifest(str(value["manifest"]), conn)
        return [
            Item(
                task,
                str(row.get("key") or row.get("kling_task_id")),
                row.get("prompt"),
                row.get("kling_task_id"),
                str(row.get("status")),
                units_of(row.get("units")),
                row.get("message") or row.get("status_message"),
                [str(path) for path in row.get("files") or ()],
                conn,
            )
            for row in manifest.get("items") or manifest.get("tasks") or ()
        ]
    if is_result(value):
        files = [
            str(made[key])
            for media in MEDIA.values()
            for made in value.get(media.plural) or ()
            for key in _PATH_KEYS
            if made.get(key)
        ]
        status, message = str(value["task_status"]), value.get("task_status_msg")
        units, conn = units_of(value.get("final_unit_deduction")), value.get("output_conn_id")
        return [Item(task, task, value.get("prompt"), value["task_id"], status, units, message, files, conn)]
    return []


def spend_of(value: Any) -> dict[str, float]:
    """What an Airflow task's return value says about spend: units ``spent``, an ``approved``
    estimate, a ``budget`` (a batch's ``max_units``)."""
    if not isinstance(value, dict):
        return {}
    found: dict[str, float | None] = {}
    if is_result(value):
        found["spent"] = units_of(value.get("final_unit_deduction"))
    elif is_summary(value):
        found["spent"] = units_of(value.get("units"))
    elif value.get("approved") is True and isinstance(value.get("estimate"), dict):
        found["approved"] = units_of(value["estimate"].get("units"))
    found["budget"] = units_of(value.get("max_units"))
    return {kind: units for kind, units in found.items() if units is not None}


def file_kind(path: str) -> str:
    """``image``, ``video`` or ``audio``: by the stored file's extension (the store path names it)."""
    lower = path.lower()
    return (
        "video"
        if lower.endswith(VIDEO_EXTENSIONS)
        else "audio"
        if lower.endswith(AUDIO.extensions)
        else "image"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1rem;color:#1a202c}"
    "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.8rem}"
    "figure{margin:0;border:1px solid #cbd5e0;border-radius:6px;padding:.5rem;overflow-wrap:anywhere}"
    "figure img,figure video{width:100%;height:200px;object-fit:contain;background:#edf2f7}"
    "figure.failed,figure.refused,figure.error{background:#fff5f5}.msg{color:#c53030}"
    "figcaption{font-size:.85rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;"
    "border-bottom:1px solid #e2e8f0;text-align:left}.note{color:#718096;font-size:.85rem}"
)


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h2>{esc(title)}</h2>{body}</body></html>"
    )


def _units(units: float | None) -> str:
    return "?" if units is None else f"{units:g}"


def run_page(title: str, items: list[Item], file_url: Callable[[str], str]) -> str:
    """Every item of a run with its files (lazy thumbnails and players, each at ``file_url(path)``),
    prompt or key, Kling task id, status, units and failure reason."""
    cards, number = [], 0
    for item in items:
        previews = []
        for path in item.files:
            url, alt = esc(file_url(path)), esc(item.prompt or item.key)
            number += 1
            kind = file_kind(path)
            previews.append(
                f'<video controls preload="none" src="{url}" title="{alt}"></video>'
                if kind == "video"
                else f'<audio controls preload="none" src="{url}"></audio>'
                if kind == "audio"
                else f'<a href="{url}" target="_blank"><img loading="lazy" src="{url}" alt="{alt}"></a>'
            )
        message = f'<p class="msg">{esc(item.message)}</p>' if item.message else ""
        cards.append(
            f'<figure class="{esc(item.status)}">{"".join(previews)}<figcaption><b>{esc(item.key)}</b>'
            f"<br>{esc(item.prompt or '')}<br>{esc(item.status)} &middot; {_units(item.units)} units"
            f" &middot; Kling task {esc(item.kling_task_id or '-')} &middot; {esc(item.task)}"
            f"{message}</figcaption></figure>"
        )
    total = sum_units(item.units for item in items if item.kling_task_id)
    head = (
        f'<p id="summary" data-files="{number}" data-units="{_units(total)}">{len(items)} Kling tasks, '
        f"{number} files, {_units(total)} units</p>"
    )
    return page(
        title, head + ("<main>" + "\n".join(cards) + "</main>" if cards else "<p>Nothing stored.</p>")
    )


def spend_svg(
    spend: Mapping[tuple[str, str], Mapping[str, float]], width: int = 720, height: int = 260
) -> str:
    """Units spent per day, one stacked bar per DAG, with each day's approved estimates and budgets
    as marks; ``spend`` is ``{(day, dag_id): {"spent"|"approved"|"budget": units}}``."""
    days = sorted({day for day, _ in spend})
    dags = sorted({dag for _, dag in spend})
    if not days:
        return "<p>No Kling spend recorded yet.</p>"
    totals = {
        day: {k: sum(v.get(k, 0.0) for (d, _), v in spend.items() if d == day) for k in _MARKS}
        for day in days
    }
    top = max(max(t.values()) for t in totals.values()) or 1.0
    pad, bar = 40, min((width - 50) / len(days), 90)
    scale = (height - 2 * pad) / top
    parts = [f'<line x1="{pad}" y1="{height - pad}" x2="{width}" y2="{height - pad}" stroke="#718096"/>']
    for i, day in enumerate(days):
        x, y = pad + i * bar + 4, float(height - pad)
        for j, dag in enumerate(dags):
            units = spend.get((day, dag), {}).get("spent", 0.0)
            if units:
                y -= units * scale
                parts.append(
                    f'<rect class="spent" data-units="{units:g}" data-dag="{esc(dag)}" x="{x:.1f}" '
                    f'y="{y:.1f}" width="{bar - 8:.1f}" height="{units * scale:.1f}" '
                    f'fill="{_COLOURS[j % len(_COLOURS)]}">'
                    f"<title>{esc(day)} {esc(dag)}: {units:g} units</title></rect>"
                )
        for kind, colour in _MARKS.items():
            if kind != "spent" and totals[day][kind]:
                ym = height - pad - totals[day][kind] * scale
                parts.append(
                    f'<line class="{kind}" x1="{x:.1f}" x2="{x + bar - 8:.1f}" y1="{ym:.1f}" y2="{ym:.1f}" '
                    f'stroke="{colour}" stroke-width="3" stroke-dasharray="6 3"><title>{kind}: '
                    f"{totals[day][kind]:g} units</title></line>"
                )
        parts.append(f'<text x="{x:.1f}" y="{height - pad + 16}" font-size="11">{esc(day)}</text>')
    parts.append(f'<text x="2" y="{pad - 8}" font-size="11">{top:g} units</text>')
    legend = " ".join(
        f'<span style="color:{_COLOURS[j % len(_COLOURS)]}">&#9632; {esc(dag)}</span>'
        for j, dag in enumerate(dags)
    )
    spent = sum(t["spent"] for t in totals.values())
    return (
        f'<svg id="spend" data-total="{spent:g}" width="{width}" height="{height}" role="img" '
        f'aria-label="Kling units per day">{"".join(parts)}</svg><p>{legend} &middot; '
        f'<span style="color:{_MARKS["approved"]}">- - approved estimates</span> &middot; '
        f'<span style="color:{_MARKS["budget"]}">- - budgets</span> &middot; total {spent:g} units</p>'
    )


_MARKS = {"spent": "", "approved": "#2f855a", "budget": "#c53030"}
_COLOURS = ("#3182ce", "#805ad5", "#dd6b20", "#319795", "#d53f8c", "#718096")


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{esc(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f"<p>{esc(empty)}</p>"
    return "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + f"</tr>{body}</table>"


def run_link(prefix: str, dag_id: str, run_id: str) -> str:
    return f"{prefix}/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
