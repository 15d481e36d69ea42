"""The control routes under ``/_sim/``: read and change settings, faults, counters and tasks.

Unauthenticated JSON endpoints, meant for loopback use by tests, demos and other processes
(the Python handle calls :class:`SimulatorState` directly instead).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_kling.testing.state import ImageFault, Settings, SimulatorState
from airflow_provider_kling.testing.tasks import IMAGE_PATH, render_task

CONTROL_PREFIX = "/_sim"
_FAULT_FIELDS = ("fail_next", "status", "rate_limit_next", "retry_after", "malformed_next")
#: Faults named after the handle's methods; the value is their keyword arguments (or ``k``).
_METHOD_FAULTS = ("lose_next_create_answers", "garble_next_create_answers", "image_fault")


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
    """GET: current settings and pending faults. POST ``{latency, slots, fail_marker, image_ttl, delay}``."""
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
    if name == "lose_next_create_answers":
        merged: dict[str, Any] = {"k": 1, "mode": "hold", "hold_seconds": 30.0, **kwargs}
        state.lose_create_answers(**merged)
    else:
        state.garble_create_answers(**{"k": 1, **kwargs})


async def faults(request: Request) -> Response:
    """POST ``{fail_next, status, rate_limit_next, retry_after, malformed_next}`` (all optional), and
    ``lose_next_create_answers: {k, mode, hold_seconds}``, ``garble_next_create_answers: k``,
    ``image_fault: {mode, k, ...params} | null`` (the handle's methods and their arguments)."""
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
    """GET ``?api_key=`` for one key's counters, else every key's."""
    return JSONResponse(_state(request).counters(request.query_params.get("api_key")))


async def reset_counters(request: Request) -> Response:
    _state(request).reset_counters()
    return JSONResponse({"status": "ok"})


async def reset(request: Request) -> Response:
    """Forget tasks, counters and faults; restore the start-up settings."""
    _state(request).reset()
    return JSONResponse({"status": "ok"})


async def tasks(request: Request) -> Response:
    """Every task of every key (``?api_key=`` for one), newest first, with its owner."""
    root = f"{request.url.scheme}://{request.url.netloc}{IMAGE_PATH}"
    now = time.time()
    listed = [
        {**render_task(task, image_root=root, now=now), "api_key": task.owner}
        for task in _state(request).list_tasks(request.query_params.get("api_key"))
    ]
    return JSONResponse(listed)


def control_routes() -> list[Route]:
    return [
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/settings", settings, methods=["GET", "POST"]),
        Route(f"{CONTROL_PREFIX}/faults", faults, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/counters", counters, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/counters/reset", reset_counters, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/tasks", tasks, methods=["GET"]),
    ]
