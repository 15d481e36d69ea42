"""The Kling view's FastAPI app on Airflow's api-server: a run's images and videos, and the "Kling"
page (spend per day and DAG, tasks in flight, resource packs left).

Airflow's auth applies to every route: the user comes from Airflow's session cookie or bearer
token (no credential: Airflow's 401), and sees only the DAGs it may read. Files are streamed from
the user's storage through the output connection the task stored them with, and only files a run's
results list; never from Kling's URLs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.models.connection import Connection
from airflow.models.taskinstance import TaskInstance
from airflow.models.trigger import Trigger
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import or_, select

from airflow_provider_kling.hooks.connection import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_VIDEO_BYTES
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.storage import read_manifest, to_storage_path
from airflow_provider_kling.ui import URL_PREFIX
from airflow_provider_kling.ui.render import (
    Item,
    esc,
    file_kind,
    items_of,
    page,
    run_link,
    run_page,
    spend_of,
    spend_svg,
    table,
)

#: How long a run's items are kept for its thumbnails' requests (one read of XCom and manifests).
RUN_TTL = 30.0
#: Kling allows one account query a second: each connection's packs are read at most that often.
PACKS_TTL = 1.0
PACKS_WAIT = 3.0
#: How far back the spend plot reaches, and how many task results it reads at most.
SPEND_DAYS, SPEND_ROWS = 30, 20_000
_CONTENT_TYPES = {
    **{ext: f"image/{ext[1:]}" for ext in (".png", ".webp", ".gif")},
    **{".jpg": "image/jpeg", ".mp4": "video/mp4", ".mov": "video/quicktime"},
    **{".mp3": "audio/mpeg", ".wav": "audio/wav"},
}
_lock = threading.Lock()
_runs: dict[tuple[str, str], tuple[float, list[Item]]] = {}
_packs: dict[str, tuple[float, str]] = {}
_reading: dict[str, Future[str]] = {}
_pool = ThreadPoolExecutor(2, thread_name_prefix="kling-packs")


def _readable(user: Any, dag_id: str) -> None:
    if not get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user):
        raise HTTPException(403, f"Not allowed to read the DAG {dag_id!r}")


def _read_manifest(uri: str, conn_id: str | None) -> Any:
    return read_manifest({"manifest": uri, "output_conn_id": conn_id})


def _return_values(session: Any, *filters: Any) -> list[Any]:
    x = XComModel
    query = select(x.dag_id, x.run_id, x.task_id, x.map_index, x.timestamp, x.value)
    query = query.where(XComModel.key == "return_value", *filters)
    return list(session.execute(query.order_by(XComModel.task_id, XComModel.map_index)))


def _label(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def run_items(dag_id: str, run_id: str) -> list[Item]:
    """Every Kling task a run's results list, with its stored files (kept :data:`RUN_TTL` seconds)."""
    now = time.monotonic()
    with _lock:
        cached = _runs.get((dag_id, run_id))
    if cached and now - cached[0] < RUN_TTL:
        return cached[1]
    with create_session() as session:
        rows = _return_values(session, XComModel.dag_id == dag_id, XComModel.run_id == run_id)
    items: list[Item] = []
    for row in rows:
        try:
            items += items_of(
                _label(row.task_id, row.map_index), XComModel.deserialize_value(row), _read_manifest
            )
        except (OSError, ValueError) as exc:  # a manifest gone or unreadable: said, the rest shown
            items.append(
                Item(_label(row.task_id, row.map_index), "manifest", None, None, "unreadable", None, str(exc))
            )
    with _lock:
        _runs[(dag_id, run_id)] = (now, items)
    return items


def _stream(path: Any, size: int, start: int = 0) -> Iterator[bytes]:
    with path.open("rb") as handle:
        if start:
            handle.seek(start)
        while size > 0 and (chunk := handle.read(min(size, 256 * 1024))):
            size -= len(chunk)
            yield chunk


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first ``bytes=a-b`` / ``a-`` / ``-n`` range of a ``Range`` header as (start, end
    inclusive); None without one (the whole file). Unsatisfiable or malformed: 416."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = spec.split(",")[0].strip().partition("-")
    try:
        if unit.strip() != "bytes" or not dash or not (first or last):
            raise ValueError(header)
        start, end = (int(first), int(last or size - 1)) if first else (max(size - int(last), 0), size - 1)
    except ValueError:
        start, end = size, -1
    if start > end or start >= size or min(start, end) < 0:
        raise HTTPException(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, min(end, size - 1)


def _in_flight(session: Any, dag_ids: set[str]) -> list[tuple[Any, ...]]:
    ti = TaskInstance
    query = select(
        ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state, ti.start_date, ti.trigger_id
    ).where(
        ti.state.in_(("running", "deferred", "up_for_reschedule")),
        ti.dag_id.in_(dag_ids),
        or_(ti.operator.contains("Kling"), ti.custom_operator_name.contains("kling")),
    )
    rows = list(session.execute(query.order_by(ti.start_date)))
    trigger_ids = {row.trigger_id for row in rows if row.trigger_id}
    triggers = {t.id: t for t in session.scalars(select(Trigger).where(Trigger.id.in_(trigger_ids)))}
    now, found = datetime.now(UTC), []
    for row in rows:
        kwargs = triggers[row.trigger_id].kwargs if row.trigger_id in triggers else {}
        age = now - row.start_date if row.start_date else timedelta(0)
        label, kling_task_id = _label(row.task_id, row.map_index), kwargs.get("kling_task_id") or "-"
        age_text = str(timedelta(seconds=int(age.total_seconds())))
        found.append((row.dag_id, row.run_id, label, kling_task_id, row.state, age_text))
    return found


def _kling_conn_ids(session: Any) -> list[str]:
    ids = {
        "kling_default",
        *session.scalars(select(Connection.conn_id).where(Connection.conn_type == "kling")),
    }
    for name, value in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and ('"kling"' in value or value.startswith("kling://")):
            ids.add(name[len("AIRFLOW_CONN_") :].lower())
    return sorted(ids)


def _read_packs(conn_id: str) -> str:
    try:
        costs = KlingHook(conn_id).get_account_costs()
        rows = [
            (
                p.resource_pack_name,
                p.status,
                f"{p.remaining_quantity or 0:g} / {p.total_quantity or 0:g}",
                p.invalid_time or "-",
            )
            for p in costs.packs
        ]
        text = table(("pack", "status", "left / total", "valid until"), rows, "No resource packs.")
    except Exception as exc:  # a connection missing or Kling unreachable: said on the page
        text = table(("error",), [(f"{type(exc).__name__}: {exc}",)], "")
    with _lock:
        _packs[conn_id] = (time.monotonic(), text)
    return text


def _packs_of(conn_id: str) -> str:
    """A connection's resource packs as an HTML table: read at most once a :data:`PACKS_TTL`, one
    read at a time, waited for at most :data:`PACKS_WAIT` (a slow Kling never holds the page)."""
    with _lock:
        cached = _packs.get(conn_id)
        if cached and time.monotonic() - cached[0] < PACKS_TTL:
            return cached[1]
        reading = _reading.get(conn_id)
        if reading is None or reading.done():
            reading = _reading[conn_id] = _pool.submit(_read_packs, conn_id)
    try:
        return reading.result(timeout=PACKS_WAIT)
    except FutureTimeout:
        late = f"<p>Kling has not answered within {PACKS_WAIT:g} s; still asking.</p>"
        return late + (cached[1] if cached else "")


def create_ui_app() -> FastAPI:
    """The app the plugin mounts at :data:`~airflow_provider_kling.ui.URL_PREFIX`."""
    app = FastAPI(title="Kling", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
    def run_view(
        dag_id: str, run_id: str, user: GetUserDep, task_id: str | None = None, map_index: int = -1
    ) -> str:
        _readable(user, dag_id)
        items = run_items(dag_id, run_id)
        if task_id:
            items = [item for item in items if item.task == _label(task_id, map_index)]
        base = run_link(URL_PREFIX, dag_id, run_id)
        return run_page(
            f"Kling: {dag_id} / {run_id}", items, lambda path: f"{base}/file?{urlencode({'path': path})}"
        )

    @app.get("/runs/{dag_id}/{run_id}/file")
    def run_file(
        dag_id: str,
        run_id: str,
        path: str,
        user: GetUserDep,
        byte_range: Annotated[str | None, Header(alias="range")] = None,
    ) -> StreamingResponse:
        _readable(user, dag_id)
        item = next((i for i in run_items(dag_id, run_id) if path in i.files), None)
        if item is None:  # only what the run's results list: never an arbitrary path
            raise HTTPException(404, "No such file in this run's Kling results")
        stored = to_storage_path(path, item.conn_id)
        try:
            size = stored.stat().get("size") or 0
        except FileNotFoundError:
            raise HTTPException(404, "The stored file is gone") from None
        cap = DEFAULT_MAX_IMAGE_BYTES if file_kind(path) == "image" else DEFAULT_MAX_VIDEO_BYTES
        if size > cap:
            raise HTTPException(413, f"{size} bytes: over the view's cap of {cap}")
        media_type = _CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
        part = _byte_range(byte_range, size)  # players seek with ranges (Chromium needs a 206 to seek)
        start, end = part or (0, size - 1)
        if part:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        return StreamingResponse(
            _stream(stored, end - start + 1, start), 206 if part else 200, headers, media_type
        )

    @app.get("/", response_class=HTMLResponse)
    def overview(user: GetUserDep) -> str:
        manager = get_auth_manager()
        since = datetime.now(UTC) - timedelta(days=SPEND_DAYS)
        with create_session() as session:
            dag_ids = manager.get_authorized_dag_ids(user=user, method="GET", session=session)
            rows = _return_values(session, XComModel.dag_id.in_(dag_ids), XComModel.timestamp >= since)[
                :SPEND_ROWS
            ]
            in_flight = _in_flight(session, dag_ids)
            conn_ids = [
                conn_id
                for conn_id in _kling_conn_ids(session)
                if manager.is_authorized_connection(
                    method="GET", details=ConnectionDetails(conn_id=conn_id), user=user
                )
            ]
        spend: dict[tuple[str, str], dict[str, float]] = {}
        runs: dict[tuple[str, str], float] = {}
        for row in rows:
            found = spend_of(XComModel.deserialize_value(row))
            cell = spend.setdefault((row.timestamp.date().isoformat(), row.dag_id), {})
            for kind, units in found.items():
                cell[kind] = cell.get(kind, 0.0) + units
            if "spent" in found:
                runs[(row.dag_id, row.run_id)] = runs.get((row.dag_id, row.run_id), 0.0) + found["spent"]
        spend = {key: cell for key, cell in spend.items() if cell}
        run_rows = [
            f'<li><a href="{run_link(URL_PREFIX, dag, run)}">{esc(dag)} / {esc(run)}</a>: '
            f"{units:g} units</li>"
            for (dag, run), units in sorted(runs.items(), key=lambda kv: kv[0][1], reverse=True)[:50]
        ]
        packs = "".join(f"<h4>{conn_id}</h4>{_packs_of(conn_id)}" for conn_id in conn_ids)
        body = (
            f"<h3>Units spent per day and DAG (last {SPEND_DAYS} days)</h3>{spend_svg(spend)}"
            f"<h3>Runs with Kling results</h3><ul>{''.join(run_rows) or '<li>none yet</li>'}</ul>"
            "<h3>Kling tasks in flight</h3>"
            + table(
                ("DAG", "run", "task", "Kling task", "state", "age"), in_flight, "No Kling task in flight."
            )
            + '<h3>Resource packs left</h3><p class="note">Kling\'s figures lag by up to 12 hours: an upper '
            f"bound of what is left. Read at most once a second.</p>{packs}"
        )
        return page("Kling", body)

    return app
