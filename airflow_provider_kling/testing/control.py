"""The control routes under ``/_sim/``: read and change settings, faults, counters, tasks,
task progress and resource packs.

Unauthenticated JSON endpoints, meant for loopback use by tests, demos and other processes
(the Python handle calls :class:`SimulatorState` directly instead). They show keys only as
fingerprints (``sha256(key)[:12]``).

| route | does |
|---|---|
| ``GET /_sim/health`` | ``{"status": "ok"}`` |
| ``GET, POST /_sim/settings`` | read, or change any :class:`Settings` field |
| ``POST /_sim/faults`` | queue faults (see :func:`faults`) |
| ``GET /_sim/counters[?key=]``, ``POST /_sim/counters/reset`` | per-key counters |
| ``GET /_sim/tasks[?key=]`` | every task, newest first, with key fingerprint, account and request |
| ``POST /_sim/tasks/seed`` | ``{"count": n, "api_key": key}``: n finished tasks (an account's history) |
| ``POST /_sim/advance``, ``POST /_sim/tasks/{id}/advance`` | move manual tasks on (``{"to": ...}``) |
| ``POST /_sim/progress`` | ``{"progress": mode, "task_id": optional}`` |
| ``GET, POST /_sim/accounts/{account}/resource_packs`` | read or replace an account's packs |
| ``GET, POST /_sim/callbacks`` | callback delivery: retries, duplicates, order, bad signatures, rotation |
| ``POST /_sim/reset`` | forget everything, restore the start-up settings |
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_kling.testing.faults import ImageFault
from airflow_provider_kling.testing.state import Settings, SimulatorState
from airflow_provider_kling.testing.tasks import IMAGE_PATH, describe_task

CONTROL_PREFIX = "/_sim"
_FAULT_FIELDS = ("fail_next", "status", "rate_limit_next", "retry_after", "malformed_next")
#: Faults named after the handle's methods; the value is their keyword arguments (or ``k``).
_METHOD_FAULTS = ("lose_next_create_answers", "garble_next_create_answers", "image_fault", "error_next")


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.kling
    return state


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json() if await request.body() else {}
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _describe(state: SimulatorState) -> dict[str, Any]:
    return {"settings": dataclasses.asdict(state.settings), "faults": dataclasses.asdict(state.faults())}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def settings(request: Request) -> Response:
    """GET: current settings and pending faults. POST any :class:`Settings` fields (``latency``,
    ``slots``, ``progress``, ``in_arrears``, ``denied_models`` ...)."""
    state = _state(request)
    if request.method == "POST":
        try:
            changes = await _json_object(request)
            unknown = set(changes) - {f.name for f in dataclasses.fields(Settings)}
            if unknown:
                raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
            state.update_settings(**changes)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(_describe(state))


def _method_fault(state: SimulatorState, name: str, value: Any) -> None:
    if name == "image_fault":
        if value is None:
            state.set_image_fault(None)
            return
        if not isinstance(value, dict):
            raise ValueError("image_fault takes null or {mode, k, ...params}")
        params = dict(value)
        mode, k = params.pop("mode", None), params.pop("k", None)
        state.set_image_fault(ImageFault(mode, k, params))
        return
    kwargs = {"k": value} if isinstance(value, int) else value
    if not isinstance(kwargs, dict):
        raise ValueError(f"{name} takes k or an object of keyword arguments")
    if name == "error_next":
        state.error_next(**{"k": 1, **kwargs})
    elif name == "lose_next_create_answers":
        merged: dict[str, Any] = {"k": 1, "mode": "hold", "hold_seconds": 30.0, **kwargs}
        state.lose_create_answers(**merged)
    else:
        state.garble_create_answers(**{"k": 1, **kwargs})


async def faults(request: Request) -> Response:
    """POST ``{fail_next, status, rate_limit_next, retry_after, malformed_next}`` (all optional), and
    ``lose_next_create_answers: {k, mode, hold_seconds}``, ``garble_next_create_answers: k``,
    ``image_fault: {mode, k, ...params} | null``, ``error_next: {code, k, retry_after}`` (the
    handle's methods and their arguments)."""
    state = _state(request)
    try:
        body = await _json_object(request)
        unknown = set(body) - set(_FAULT_FIELDS) - set(_METHOD_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        for name in _METHOD_FAULTS:
            if name in body:
                _method_fault(state, name, body.pop(name))
        if body:
            state.add_faults(**body)
    except (TypeError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(_describe(state))


async def counters(request: Request) -> Response:
    """GET ``?key=<fingerprint>`` (or ``?api_key=``): one key's counters; else every key's, by fingerprint."""
    return JSONResponse(_state(request).counters(_key_param(request)))


def _key_param(request: Request) -> str | None:
    return request.query_params.get("key") or request.query_params.get("api_key")


async def reset_counters(request: Request) -> Response:
    _state(request).reset_counters()
    return JSONResponse({"status": "ok"})


async def reset(request: Request) -> Response:
    """Forget tasks, counters and faults; restore the start-up settings."""
    _state(request).reset()
    return JSONResponse({"status": "ok"})


async def tasks(request: Request) -> Response:
    """Every task (``?key=<fingerprint>`` or ``?api_key=`` for one key's), newest first, with its
    key's fingerprint and its request."""
    root = f"{request.url.scheme}://{request.url.netloc}{IMAGE_PATH}"
    now = time.time()
    tasks = _state(request).list_tasks(_key_param(request))
    return JSONResponse([describe_task(task, image_root=root, now=now) for task in tasks])


async def seed(request: Request) -> Response:
    """POST ``{"count": n, "api_key": key}``: add n finished tasks to the key's account at once."""
    try:
        body = await _json_object(request)
        count, key = body.get("count"), body.get("api_key") or _state(request).config.api_key
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValueError("count must be an integer")
        seeded = _state(request).seed_tasks(key, count)
    except (TypeError, ValueError) as exc:
        return _error(exc)
    return JSONResponse({"seeded": seeded})


def _error(exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc).strip("'\"")}, status_code=404 if isinstance(exc, KeyError) else 400
    )


async def advance(request: Request) -> Response:
    """POST ``{"to": "processing"|"succeed"|"failed"}`` (optional): move one task
    (``/_sim/tasks/{task_id}/advance``) or every running task (``/_sim/advance``) on now."""
    state = _state(request)
    try:
        body = await _json_object(request)
        moved = state.advance(request.path_params.get("task_id"), body.get("to"))
    except (KeyError, TypeError, ValueError) as exc:
        return _error(exc)
    return JSONResponse({"advanced": [task.task_id for task in moved]})


async def progress(request: Request) -> Response:
    """POST ``{"progress": "timed"|"immediate"|"manual", "task_id": optional}``."""
    state = _state(request)
    try:
        body = await _json_object(request)
        state.set_progress(body.get("progress", ""), body.get("task_id"))
    except (KeyError, TypeError, ValueError) as exc:
        return _error(exc)
    return JSONResponse({"status": "ok"})


async def resource_packs(request: Request) -> Response:
    """GET an account's packs; POST ``[pack, ...]`` (Kling's field names) to replace them."""
    state, account = _state(request), request.path_params["account"]
    if request.method == "POST":
        try:
            packs = await request.json()
            if not isinstance(packs, list) or not all(isinstance(p, dict) for p in packs):
                raise ValueError("the body must be a JSON list of resource packs")
            state.set_resource_packs(account, packs)
        except (TypeError, ValueError) as exc:
            return _error(exc)
    return JSONResponse(state.resource_packs(account))


async def callbacks(request: Request) -> Response:
    """GET: delivery controls and counts. POST any ``DeliveryControls`` field (``max_attempts``,
    ``backoff``, ``duplicate_next``, ``out_of_order_next``, ``bad_signature_next``), and
    ``rotate_secret: {"secret": optional, "mode": "standard"|"emergency"|"delete_all"}`` (the answer's
    ``secret`` is the new one) or ``end_overlap: true``."""
    sender = request.app.state.callbacks
    answer: dict[str, Any] = {}
    if request.method == "POST":
        try:
            body = await _json_object(request)
            rotation, end_overlap = body.pop("rotate_secret", None), body.pop("end_overlap", False)
            if body:
                sender.configure(**body)
            if rotation is not None:
                if not isinstance(rotation, dict):
                    raise ValueError("rotate_secret takes {secret, mode}")
                answer["secret"] = sender.rotate_secret(
                    rotation.get("secret"), rotation.get("mode", "standard")
                )
            if end_overlap:
                sender.end_overlap()
        except (TypeError, ValueError) as exc:
            return _error(exc)
    return JSONResponse({**sender.describe(), **answer})


def control_routes() -> list[Route]:
    return [
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/settings", settings, methods=["GET", "POST"]),
        Route(f"{CONTROL_PREFIX}/faults", faults, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/counters", counters, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/counters/reset", reset_counters, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/tasks", tasks, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/tasks/seed", seed, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/advance", advance, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/tasks/{{task_id}}/advance", advance, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/progress", progress, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/callbacks", callbacks, methods=["GET", "POST"]),
        Route(
            f"{CONTROL_PREFIX}/accounts/{{account}}/resource_packs", resource_packs, methods=["GET", "POST"]
        ),
    ]
