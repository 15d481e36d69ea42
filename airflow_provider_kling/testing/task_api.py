"""The simulator's routes of Kling's 2026 task API: new-style creates and the many-task queries.

- ``POST /{text-to-video,image-to-video,omni-video}/{model}``: answers
  ``data{id, status, create_time, update_time, external_id}``;
- ``GET /tasks?task_ids=a,b`` (or ``?external_task_ids=``): ``data[]``, the records of the known ids
  (at most 20 ids: more is 400/1201);
- ``POST /tasks`` ``{start_time, end_time, cursor, limit, filters}``:
  ``data{result[], count, next_cursor, has_more}``.

Every task, whichever API created it, is answered here as a new-style record
(:func:`~airflow_provider_kling.testing.new_style.render_record`). The setting ``tasks_query=False``
turns both ``/tasks`` routes into 404/1203, as at a host that lacks them. New-style creates take an
API key only: a JWT answers 401/1002.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_kling.testing import motion, new_style
from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.rules import RuleViolation
from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.tasks import SUBMITTED, SUCCEED, SimTask

MAX_TASK_IDS = 20
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
DEFAULT_WINDOW = 30 * 86_400.0
STATUSES = ("submitted", "processing", "succeeded", "failed")
PRODUCT_TYPES = ("video", "image", "try_on")
#: New-style products beyond ``new_style``'s, each ``{product: validate(model, body)}`` of its rule
#: module. One line a module.
MORE_PRODUCTS: dict[str, Callable[[str, Any], Any]] = {
    **motion.NEW_STYLE_PRODUCTS,
}

Handler = Callable[[Request, SimulatorState, str], Awaitable[Any]]
ApiCall = Callable[[Request, str, Handler], Awaitable[Response]]


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.kling
    return state


def _api_key_only(state: SimulatorState, owner: str) -> None:
    if owner in state.config.jwt_keys and owner not in state.config.api_keys:
        raise ApiError(
            401, 1002, "Authorization is invalid: this API takes an API key, not an access-key JWT"
        )


async def _create(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    _api_key_only(state, owner)
    product, model_name = request.scope["kling_product"], request.path_params["model"]
    try:
        body = await request.json()
    except ValueError:
        raise ApiError.of(1201, "the body must be a JSON object") from None
    try:
        more = MORE_PRODUCTS.get(product)
        accepted = more(model_name, body) if more else new_style.validate(product, model_name, body)
    except RuleViolation as exc:
        raise ApiError.of(1201, str(exc)) from None
    task = state.create_task(owner, accepted)
    record = new_style.render_record(task, origin=_origin(request), now=task.created, status=SUBMITTED)
    return {key: record[key] for key in ("id", "status", "create_time", "update_time", "external_id")}


def _tasks_served(state: SimulatorState, request: Request) -> None:
    if not state.settings.tasks_query:
        raise ApiError(404, 1203, f"no such resource: {request.url.path}")


async def _tasks_by_ids(request: Request, state: SimulatorState, owner: str) -> list[dict[str, Any]]:
    _tasks_served(state, request)
    params = request.query_params
    if ("task_ids" in params) == ("external_task_ids" in params):
        raise ApiError.of(1201, "give task_ids or external_task_ids, not both and not neither")
    external = "external_task_ids" in params
    ids = [part for part in params["external_task_ids" if external else "task_ids"].split(",") if part]
    if not ids:
        raise ApiError.of(1201, "at least one id is needed")
    if len(ids) > MAX_TASK_IDS:
        raise ApiError.of(1201, f"at most {MAX_TASK_IDS} ids in one query (got {len(ids)})")
    now, origin = time.time(), _origin(request)
    return [
        new_style.render_record(task, origin=origin, now=now)
        for task in state.tasks_by_ids(owner, ids, external=external)
    ]


def _int_field(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ApiError.of(1201, f"{name} must be an integer from {low} to {high} (got {value!r})")
    return value


def _matches(task: SimTask, now: float, start: float, end: float, filters: dict[str, Any]) -> bool:
    if not start <= task.created <= end:
        return False
    status = task.status_at(now)
    if "status" in filters and filters["status"] != ("succeeded" if status == SUCCEED else status):
        return False
    return "product_type" not in filters or filters["product_type"] == task.request.product_type


async def _search(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    _tasks_served(state, request)
    try:
        body = await request.json() if await request.body() else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError.of(1201, "the body must be a JSON object")
    unknown = set(body) - {"start_time", "end_time", "cursor", "limit", "filters"}
    if unknown:
        raise ApiError.of(1201, f"{', '.join(sorted(unknown))}: not a field of this endpoint")
    now = time.time()
    end = _int_field(body, "end_time", int(now * 1000), 0, 2**53) / 1000
    start = _int_field(body, "start_time", int((end - DEFAULT_WINDOW) * 1000), 0, 2**53) / 1000
    limit = _int_field(body, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    filters = body.get("filters") or {}
    if not isinstance(filters, dict) or set(filters) - {"status", "product_type"}:
        raise ApiError.of(1201, "filters takes status and product_type")
    if "status" in filters and filters["status"] not in STATUSES:
        raise ApiError.of(1201, f"filters.status must be one of {', '.join(STATUSES)}")
    if "product_type" in filters and filters["product_type"] not in PRODUCT_TYPES:
        raise ApiError.of(1201, f"filters.product_type must be one of {', '.join(PRODUCT_TYPES)}")
    matching = [task for task in state.account_tasks(owner) if _matches(task, now, start, end, filters)]
    cursor = body.get("cursor")
    offset = 0
    if cursor not in (None, ""):
        position = next((i for i, task in enumerate(matching) if f"after-{task.task_id}" == cursor), None)
        if position is None:
            raise ApiError.of(1201, f"cursor {cursor!r} is not one this host gave")
        offset = position + 1
    page = matching[offset : offset + limit]
    has_more = offset + limit < len(matching)
    origin = _origin(request)
    return {
        "result": [new_style.render_record(task, origin=origin, now=now) for task in page],
        "count": len(matching),
        "next_cursor": f"after-{page[-1].task_id}" if has_more and page else "",
        "has_more": has_more,
    }


def task_api_routes(prefix: str, api_call: ApiCall) -> list[Route]:
    """The new-style create routes and ``/tasks`` under ``prefix`` (``""`` or ``/kling``)."""

    def create_route(product: str) -> Route:
        async def create(request: Request) -> Response:
            request.scope["kling_product"] = product
            return await api_call(request, "creates", _create)

        return Route(f"{prefix}/{product}/{{model}}", create, methods=["POST"])

    async def tasks(request: Request) -> Response:
        handler = _search if request.method == "POST" else _tasks_by_ids
        return await api_call(request, "tasks", handler)

    return [
        *(create_route(product) for product in (*new_style.PRODUCTS, *MORE_PRODUCTS)),
        Route(f"{prefix}/tasks", tasks, methods=["GET", "POST"]),
    ]
