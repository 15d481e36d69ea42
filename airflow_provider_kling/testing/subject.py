"""Kling's subject completion (``POST /v1/general/ai-multi-shot``), as the simulator's own rules.

Written from Kling's subject-completion page (2026-09), never imported from the client:
``element_frontal_image`` is required (an image: URL or bare base64 of a JPG/PNG, 300 px);
``callback_url`` and ``external_task_id``; nothing else. A task holds one slot, draws 20 units
(the higher of Kling's two published prices) and answers ``task_result.images[{index 0-2, url_1,
url_2, url_3}]``: three sets of three angles, PNGs served without authentication at
``/kling/subjects/{task_id}/{n}.png`` (``n`` = 3 * set + angle - 1). Download faults apply as to images.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_kling.testing import faulty, png
from airflow_provider_kling.testing.codes import ApiError, error_response
from airflow_provider_kling.testing.endpoints import Endpoint, _Checker, _content_seed, validate_at
from airflow_provider_kling.testing.rules import ImageRequest
from airflow_provider_kling.testing.state import SimulatorState

UNITS_PER_CALL = 20.0
ANGLES = 9


@dataclass(frozen=True)
class SubjectRequest(ImageRequest):
    """An accepted subject completion: nine angles in three sets, one slot."""

    def render_result(self, task_id: str, image_root: str) -> dict[str, Any]:
        root = image_root.rsplit("/images", 1)[0] + "/subjects"
        sets = [
            {"index": s, **{f"url_{k}": f"{root}/{task_id}/{3 * s + k - 1}.png" for k in (1, 2, 3)}}
            for s in range(3)
        ]
        return {"images": sets}


def _subject(fields: dict[str, Any]) -> SubjectRequest:
    check = _Checker(fields, ("element_frontal_image", "callback_url", "external_task_id"))
    check.common()
    if "element_frontal_image" not in fields:
        check.problems.append("element_frontal_image: is required")
    else:
        check.image("element_frontal_image", fields["element_frontal_image"])
    check.raise_if_any()
    return SubjectRequest(
        model_name="subject-completion",
        prompt=_content_seed("subject-completion", fields),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        endpoint="subject-completion",
        units_each=UNITS_PER_CALL,
    )


ENDPOINTS: tuple[Endpoint, ...] = (Endpoint("subject-completion", "/v1/general/ai-multi-shot", _subject),)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> SubjectRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    request: SubjectRequest = validate_at(BY_KIND, kind, body)
    return request


async def angle(request: Request) -> Response:
    state: SimulatorState = request.app.state.kling
    task = state.get_task(request.path_params["task_id"])
    index = request.path_params["index"]
    if task is None or not isinstance(task.request, SubjectRequest) or not 0 <= index < ANGLES:
        return error_response(ApiError(404, 1203, "image not found"))
    if not state.image_available(task, time.time()):
        return error_response(ApiError(404, 1203, "image expired"))
    body = png.make_png(task.request.prompt, index, 400, 400)
    state.count(task.owner, "images")
    fault = state.take_image_fault()
    if fault is not None:
        return faulty.image_fault_answer(fault.mode, dict(fault.params), body)
    return Response(body, media_type="image/png")


def file_routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/subjects/{{task_id}}/{{index:int}}.png", angle, methods=["GET"])]
