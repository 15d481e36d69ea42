"""The simulator's ASGI app: Kling's image and video routes, their files, and the control routes.

Image generation, the endpoints in ``testing.endpoints`` (omni-image, multi-image2image,
expand, virtual try-on) and the video endpoints in ``testing.videos`` (text2video, image2video,
omni-video, video-extend, multi-image2video) each answer create, query and list at their own
path; a task is found only at the path it was created at, and listed only there.

Every API route answers under both ``/v1/...`` (Kling's own hosts) and ``/kling/v1/...`` (the
reseller's prefix): create, query (by task id or external task id), list, and
``GET /account/costs?start_time=&end_time=[&resource_pack_name=]`` (the account's resource packs).
Image generation serves the models of the host the prefix stands for (``rules.SERVED_BY``). The
2026 task API (new-style video creates, ``GET``/``POST /tasks``) is in ``testing.task_api``.
Images (and watermarked copies) are served without authentication, like Kling's CDN. Anything
under ``/moved/...`` answers ``308`` to the same URL without ``/moved``: an API that moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_kling.testing import (
    audio,
    avatar,
    billing,
    effects,
    endpoints,
    faulty,
    lip_sync,
    motion,
    png,
    recognition,
    resources,
    rules,
    speech,
    subject,
    videos,
)
from airflow_provider_kling.testing.auth import identify_caller
from airflow_provider_kling.testing.callbacks import CallbackSender
from airflow_provider_kling.testing.codes import ApiError, error_response
from airflow_provider_kling.testing.control import control_routes
from airflow_provider_kling.testing.state import SimulatorConfig, SimulatorState
from airflow_provider_kling.testing.task_api import task_api_routes
from airflow_provider_kling.testing.tasks import IMAGE_PATH, SUBMITTED, render_task

API_PREFIXES = ("", "/kling")
MOVED_PREFIX = "/moved"
MAX_PAGE_NUM = 1000
MAX_PAGE_SIZE = 500
# What a gateway might send instead of JSON: a body cut short.
MALFORMED_BODY = b'{"code": 0, "message": "SUCC'

Handler = Callable[[Request, SimulatorState, str], Awaitable[Any]]
#: The rule modules of the ``/v1`` kinds beyond image generation and the first video kinds: each has
#: ``ENDPOINTS`` (kind, path, validator), ``BY_KIND``, ``validate(kind, body)`` and maybe
#: ``file_routes(prefix)`` (the files its tasks make). One line a module.
RULE_MODULES: tuple[Any, ...] = (
    endpoints,
    effects,
    audio,
    motion,
    avatar,
    resources,
    lip_sync,
    subject,
)


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.kling
    return state


def _image_root(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{IMAGE_PATH}"


async def _api_call(request: Request, counter: str, handler: Handler) -> Response:
    """What every API route shares: delay, auth, injected faults, the envelope and the counters."""
    state = _state(request)
    request_id = str(uuid.uuid4())
    delay = state.settings.delay
    if delay:
        await asyncio.sleep(delay)
    try:
        settings = state.settings
        if settings.maintenance:
            raise ApiError.of(5001)
        owner = identify_caller(request.headers.get("authorization"), state.config)
        state.count(owner, "requests")
        client_host = request.client.host if request.client else None
        if settings.ip_allowlist is not None and client_host not in settings.ip_allowlist:
            raise ApiError.of(1304)
        fault = state.take_fault()
        if fault is not None:
            state.count(owner, "faults")
            if fault.error is None:
                return Response(MALFORMED_BODY, media_type="application/json")
            return error_response(fault.error, request_id)
        data = await handler(request, state, owner)
    except ApiError as error:
        return error_response(error, request_id)
    state.count(owner, counter)
    body = {"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}
    if counter == "creates":
        # The create is processed (and paid) by now; only its answer can still go wrong.
        answer_fault, hold_seconds = state.take_create_answer_fault()
        if answer_fault:
            state.count(owner, "faults")
        if answer_fault == "hold":
            await asyncio.sleep(hold_seconds)
        elif answer_fault == "reset":
            return faulty.reset_answer(json.dumps(body).encode())
        elif answer_fault == "garble":
            return faulty.garbled_answer()
    return JSONResponse(body)


def _kind(request: Request) -> str:
    """The endpoint a request came in at (set by its route, see :func:`_task_routes`)."""
    kind: str = request.scope.get("kling_endpoint", "generations")
    return kind


async def _create(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    try:
        fields = await request.json()
    except ValueError:
        raise ApiError.of(1201, "Invalid Kling image request: the body must be a JSON object") from None
    kind = _kind(request)
    host = request.scope.get("kling_host", "reseller")
    try:
        if kind == "generations":
            image_request = rules.validate(fields, host)
        elif module := next((m for m in RULE_MODULES if kind in m.BY_KIND), None):
            image_request = module.validate(kind, fields)
        else:
            image_request = videos.validate_create(kind, fields, state, owner)
    except rules.RuleViolation as exc:
        raise ApiError.of(1201, str(exc)) from None
    task = state.create_task(owner, image_request)
    if image_request.callback_url:
        request.app.state.callbacks.schedule(task, _image_root(request))
    # Kling answers a create with the task as submitted, even when it will end at once.
    return render_task(task, image_root=_image_root(request), now=task.created, status=SUBMITTED)


async def _query(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    task = state.find_task(owner, request.path_params["task_id"])
    if task is None or task.request.endpoint != _kind(request):
        raise ApiError(404, 1203, "task not found")
    return render_task(task, image_root=_image_root(request), now=time.time())


def _page_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ApiError(400, 1201, f"{name} must be an integer from 1 to {maximum} (got {raw!r})")
    return value


async def _list(request: Request, state: SimulatorState, owner: str) -> list[dict[str, Any]]:
    page = _page_param(request, "pageNum", 1, MAX_PAGE_NUM)
    size = _page_param(request, "pageSize", 30, MAX_PAGE_SIZE)
    tasks = state.list_account_tasks(owner, limit=size, offset=(page - 1) * size, endpoint=_kind(request))
    now, root = time.time(), _image_root(request)
    return [render_task(task, image_root=root, now=now) for task in tasks]


async def generations(request: Request) -> Response:
    if request.method == "POST":
        return await _api_call(request, "creates", _create)
    return await _api_call(request, "lists", _list)


async def task_detail(request: Request) -> Response:
    return await _api_call(request, "queries", _query)


def _task_routes(prefix: str, kind: str, path: str) -> list[Route]:
    """Create/list and query routes of one endpoint; each marks its requests with ``kind`` and the
    kind of host its prefix stands for (``""``: Kling's own, ``/kling``: the reseller)."""

    async def collection(request: Request) -> Response:
        request.scope["kling_endpoint"] = kind
        request.scope["kling_host"] = "reseller" if prefix else "kling"
        return await generations(request)

    async def detail(request: Request) -> Response:
        request.scope["kling_endpoint"] = kind
        return await task_detail(request)

    return [
        Route(f"{prefix}{path}", collection, methods=["GET", "POST"]),
        Route(f"{prefix}{path}/{{task_id}}", detail, methods=["GET"]),
    ]


def _millis_param(request: Request, name: str) -> float:
    raw = request.query_params.get(name)
    if raw is None or not raw.isdigit():
        raise ApiError.of(1201, f"{name} is required: Unix time in milliseconds (got {raw!r})")
    return int(raw) / 1000


async def _costs(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    start, end = _millis_param(request, "start_time"), _millis_param(request, "end_time")
    if start > end:
        raise ApiError.of(1201, "start_time must not be after end_time")
    packs = state.costs(owner, start, end, request.query_params.get("resource_pack_name"))
    return {"code": 0, "msg": "success", "resource_pack_subscribe_infos": packs}


async def account_costs(request: Request) -> Response:
    return await _api_call(request, "costs", _costs)


async def image(request: Request) -> Response:
    state = _state(request)
    task = state.get_task(request.path_params["task_id"])
    index = request.path_params["index"]
    if task is None or index >= task.request.n or not state.image_available(task, time.time()):
        return error_response(ApiError(404, 1203, "image not found or expired"))
    if request.url.path.rsplit("/", 2)[-2] == "watermarked" and not task.request.watermark:
        return error_response(ApiError(404, 1203, "no watermarked image for this task"))
    width, height = png.image_size(task.request.resolution, task.request.aspect_ratio)
    watermark = "\x00watermark" if "/watermarked/" in request.url.path else ""
    body = png.make_png(task.request.prompt + watermark, index, width, height)
    state.count(task.owner, "images")
    fault = state.take_image_fault()
    if fault is not None:
        return faulty.image_fault_answer(fault.mode, dict(fault.params), body)
    return Response(body, media_type="image/png")


async def moved(request: Request) -> Response:
    """``308`` to the same URL without the ``/moved`` prefix."""
    target = request.url.replace(path=request.url.path.removeprefix(MOVED_PREFIX) or "/")
    return Response(b"", status_code=308, headers={"location": str(target)})


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return error_response(ApiError(404, 1202, f"method {request.method} is not allowed here"))
    if status == 404:
        return error_response(ApiError(404, 1203, f"no such resource: {request.url.path}"))
    return error_response(ApiError(status, 5000, "internal error"))


def create_app(state: SimulatorState | None = None, **settings: Any) -> Starlette:
    """The simulator as an ASGI app, for serving it your own way.

    Pass a :class:`SimulatorState`, or keyword settings for a fresh one: ``api_key``,
    ``extra_keys``, ``jwt_keys``, ``webhook_secret``, ``accounts`` and the run-time
    :class:`~airflow_provider_kling.testing.state.Settings` (``latency``, ``slots`` ...).
    """
    if state is None:
        state = SimulatorState(SimulatorConfig.from_kwargs(**settings))
    elif settings:
        raise TypeError("pass either a SimulatorState or keyword settings, not both")
    callbacks = CallbackSender(state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await callbacks.aclose()

    task_paths = [("generations", "/v1/images/generations")]
    task_paths += [(endpoint.kind, endpoint.path) for module in RULE_MODULES for endpoint in module.ENDPOINTS]
    task_paths += videos.task_paths()
    routes = []
    for prefix in API_PREFIXES:
        for kind, path in task_paths:
            routes += _task_routes(prefix, kind, path)
        routes += [
            Route(f"{prefix}/images/{{task_id}}/{{index:int}}.png", image, methods=["GET"]),
            Route(f"{prefix}/images/{{task_id}}/watermarked/{{index:int}}.png", image, methods=["GET"]),
            Route(f"{prefix}/account/costs", account_costs, methods=["GET"]),
            *task_api_routes(prefix, _api_call),
            *billing.routes(prefix, _api_call),
            *resources.routes(prefix, _api_call),
            *lip_sync.routes(prefix, _api_call),
            *speech.routes(prefix, _api_call),
            *recognition.routes(prefix, _api_call),
            *videos.file_routes(prefix),
            *(
                route
                for module in RULE_MODULES
                if hasattr(module, "file_routes")
                for route in module.file_routes(prefix)
            ),
        ]
    routes.append(Route(f"{MOVED_PREFIX}/{{rest:path}}", moved, methods=["GET", "POST", "PUT", "DELETE"]))
    app = Starlette(
        routes=[*routes, *control_routes()],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.kling = state
    app.state.callbacks = callbacks
    return app
