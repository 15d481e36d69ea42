"""Kling's image recognition (``POST /v1/videos/image-recognize``), as the simulator's own rules.

Written from Kling's img-recog page (2026-09), never imported from the client: ``image`` is required
(URL or bare base64 of a JPG/PNG, 300 px); nothing else. Answered at once with
``task_result.images[{type, is_contain, url}]`` for ``object_seg``, ``head_seg``, ``face_seg`` and
``cloth_seg`` (the simulator finds a head and a face, no cloth); the segmentation PNGs are served at
``/kling/segments/{id}/{type}.png``. Not charged here (Kling charges 0.1 units).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_kling.testing import png
from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.endpoints import _Checker
from airflow_provider_kling.testing.rules import RuleViolation
from airflow_provider_kling.testing.state import SimulatorState

FOUND = {"object_seg": True, "head_seg": True, "face_seg": True, "cloth_seg": False}


async def _recognize(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    try:
        fields = await request.json()
    except ValueError:
        fields = None
    check = _Checker(fields if isinstance(fields, dict) else {}, ("image",))
    if "image" not in check.fields:
        check.problems.append("image: is required")
    else:
        check.image("image", check.fields["image"])
    try:
        check.raise_if_any()
    except RuleViolation as exc:
        raise ApiError.of(1201, str(exc)) from None
    root = f"{request.url.scheme}://{request.url.netloc}/kling/segments/{uuid.uuid4().hex}"
    images = [
        {"type": kind, "is_contain": hit, "url": f"{root}/{kind}.png" if hit else ""}
        for kind, hit in FOUND.items()
    ]
    return {"task_result": {"images": images}}


async def segment(request: Request) -> Response:
    if request.path_params["kind"] not in FOUND:
        return Response(status_code=404)
    return Response(png.make_png(request.url.path, 0, 300, 300), media_type="image/png")


def routes(prefix: str, api_call: Any) -> list[Route]:
    """The recognition route (answered at once, through the API envelope ``api_call``) and its files."""

    async def recognize(request: Request) -> Any:
        return await api_call(request, "recognitions", _recognize)

    return [
        Route(f"{prefix}/v1/videos/image-recognize", recognize, methods=["POST"]),
        Route(f"{prefix}/segments/{{id}}/{{kind}}.png", segment, methods=["GET"]),
    ]
