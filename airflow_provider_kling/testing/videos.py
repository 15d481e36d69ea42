"""The simulator's video endpoints: create, query and list at ``/v1/videos/<kind>``, and the files.

Rules live in :mod:`.video_rules`; tasks, slots, markers (``#fail``, ``#error``, ``#refuse``),
progress modes, callbacks and API faults are the image endpoints' own. A video file is served
without authentication at ``/kling/videos/{task_id}/0.mp4`` (and ``watermarked/0.mp4``) while the
task's results are available, as a small valid MP4 (:mod:`.mp4`) of the task's duration whose
frames show the prompt's words (after the first frame's subject, when that is a simulator image).
Download faults (``image_fault``: ``html``, ``redirect``, ``huge``, ``short``, ``not_image``,
``expired``) apply to the next video downloads as to images; ``huge`` serves a valid MP4 padded to
``size`` bytes, streamed.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from airflow_provider_kling.testing import faulty, mp4
from airflow_provider_kling.testing.codes import ApiError, error_response
from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.video_rules import (
    PATHS,
    VideoRequest,
    task_of_video,
    validate,
)

MEDIA_TYPE = "video/mp4"


def validate_create(kind: str, fields: Any, state: SimulatorState, owner: str) -> VideoRequest:
    """The accepted video request (RuleViolation otherwise); an extend's source is looked up here."""
    now = time.time()

    def source(video: str) -> tuple[float, float] | None:
        task_id = task_of_video(video)
        task = state.find_task(owner, task_id) if task_id else None
        if task is None or not isinstance(task.request, VideoRequest) or not task.succeeded_by(now):
            return None
        ended = task.ends_at
        return task.request.seconds, ended if ended is not None else now

    return validate(kind, fields, source=source, now=now, retention=state.settings.retention)


def task_paths() -> list[tuple[str, str]]:
    """``(kind, path)`` of every video endpoint, for the app's task routes."""
    return list(PATHS.items())


def _frame_size(request: VideoRequest) -> tuple[int, int]:
    width, height = mp4.FRAME_SIZE.get(request.mode, mp4.FRAME_SIZE["std"])
    if request.aspect_ratio == "9:16":
        return height, width
    if request.aspect_ratio == "1:1":
        return height, height
    return width, height


def _words(state: SimulatorState, request: VideoRequest) -> str:
    """What the frames show: the subject of the first frame when it is one of this simulator's
    images (its prompt's words before the first comma), then the video's prompt."""
    image = request.body.get("image")
    found = re.search(r"/images/([^/]+)/", image) if isinstance(image, str) else None
    source = state.get_task(found.group(1)) if found else None
    subject = source.request.prompt.split(",")[0] if source is not None else ""
    return ", ".join(words for words in (subject, request.prompt) if words)


async def video_file(request: Request) -> Response:
    state: SimulatorState = request.app.state.kling
    task = state.get_task(request.path_params["task_id"])
    watermarked = "/watermarked/" in request.url.path
    if (
        task is None
        or not isinstance(task.request, VideoRequest)
        or request.path_params["index"] != 0
        or not state.image_available(task, time.time())
    ):
        return _not_found("video not found or expired")
    if watermarked and not task.request.watermark:
        return _not_found("no watermarked video for this task")
    seed = _words(state, task.request) + ("\x00watermark" if watermarked else "")
    width, height = _frame_size(task.request)
    body = mp4.make_mp4(seed, task.request.seconds, width, height)
    state.count(task.owner, "videos")
    fault = state.take_image_fault()
    if fault is None:
        return Response(body, media_type=MEDIA_TYPE)
    if fault.mode == "huge":
        size = max(int(fault.params["size"]), len(body))
        headers = {"content-length": str(size)} if fault.params.get("length", True) else None
        chunks = mp4.iter_mp4(seed, size, task.request.seconds, width, height)
        return StreamingResponse(_async(chunks), media_type=MEDIA_TYPE, headers=headers)
    if fault.mode == "short":
        return faulty.BrokenResponse(body, MEDIA_TYPE, sent=len(body) // 2, declared=len(body) * 2)
    if fault.mode == "not_image":
        return Response(faulty.NOT_AN_IMAGE, media_type=MEDIA_TYPE)
    return faulty.image_fault_answer(fault.mode, dict(fault.params), body)


async def _async(chunks: Any) -> Any:
    for chunk in chunks:
        yield chunk


def _not_found(message: str) -> Response:
    return error_response(ApiError(404, 1203, message))


def file_routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/videos/{{task_id}}/{{index:int}}.mp4", video_file, methods=["GET"]),
        Route(f"{prefix}/videos/{{task_id}}/watermarked/{{index:int}}.mp4", video_file, methods=["GET"]),
    ]
