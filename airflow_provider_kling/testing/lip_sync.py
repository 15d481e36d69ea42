"""Kling's lip sync, as the simulator's own rules: the face scan and the sync.

Written from Kling's face-recog and lip-sync pages (2026-09), never imported from the client.
``POST /v1/videos/identify-face`` answers at once: exactly one of ``video_id`` or ``video_url``
(http(s)); the simulator finds one face (``face_id`` ``"0"``, shown 0-5000 ms) in a new session.
``POST /v1/videos/advanced-lip-sync`` is a task: ``session_id`` (any the simulator issued),
``face_choose`` exactly one face with ``face_id``, exactly one of ``audio_id`` or ``sound_file``,
``sound_start_time``/``sound_end_time``/``sound_insert_time`` (ms, a crop of 2 to 60 s), volumes
0 to 2, ``watermark_info``. A sync is a 5 s :class:`VideoRequest` at 0.5 units per 5 s. The scan
is not charged here (Kling charges 0.05 units).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.endpoints import Endpoint, _Checker, _content_seed, validate_at
from airflow_provider_kling.testing.rules import RuleViolation, _is_number
from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.video_rules import VideoRequest

SECONDS = 5.0
UNITS_PER_5_SECONDS = 0.5
_FACE_FIELDS = ("face_id", "audio_id", "sound_file", "sound_start_time", "sound_end_time",
                "sound_insert_time", "sound_volume", "original_audio_volume")  # fmt: skip
#: Every session a scan opened (the sync names one).
SESSIONS: set[str] = set()


def _face_problems(face: Any) -> list[str]:
    if not isinstance(face, dict):
        return ["face_choose.0: must be an object"]
    check = _Checker(face, _FACE_FIELDS)
    check.text("face_id", required=True)
    check.text("audio_id")
    check.text("sound_file")
    if ("audio_id" in face) == ("sound_file" in face):
        check.problems.append("audio_id: exactly one of audio_id or sound_file is required")
    start, end, insert = (
        face.get(name) for name in ("sound_start_time", "sound_end_time", "sound_insert_time")
    )
    if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in (start, end, insert)):
        check.problems.append("sound_start_time: the three sound times are required, in ms (integers >= 0)")
    elif not 2000 <= end - start <= 60000:  # type: ignore[operator]
        check.problems.append("sound_end_time: the crop must run 2 to 60 s")
    for name in ("sound_volume", "original_audio_volume"):
        if name in face and not (_is_number(face[name]) and 0 <= face[name] <= 2):
            check.bad(name, "must be a number from 0 to 2")
    return [f"face_choose.0.{problem}" for problem in check.problems]


def _lip_sync(fields: dict[str, Any]) -> VideoRequest:
    check = _Checker(
        fields, ("session_id", "face_choose", "watermark_info", "callback_url", "external_task_id")
    )
    check.common()
    check.text("session_id", required=True)
    if isinstance(fields.get("session_id"), str) and fields["session_id"] not in SESSIONS:
        check.bad("session_id", "is not a session of a face scan")
    faces = fields.get("face_choose")
    if not isinstance(faces, list) or len(faces) != 1:
        check.problems.append("face_choose: must list exactly one face")
    else:
        check.problems += _face_problems(faces[0])
    check.raise_if_any()
    return VideoRequest(
        model_name="lip-sync",
        prompt=_content_seed("lip-sync", fields),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        watermark=bool((fields.get("watermark_info") or {}).get("enabled")),
        endpoint="lip-sync",
        units_each=UNITS_PER_5_SECONDS * SECONDS / 5,
        seconds=SECONDS,
    )


ENDPOINTS: tuple[Endpoint, ...] = (Endpoint("lip-sync", "/v1/videos/advanced-lip-sync", _lip_sync),)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> VideoRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    request: VideoRequest = validate_at(BY_KIND, kind, body)
    return request


async def _scan(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    try:
        fields = await request.json()
    except ValueError:
        fields = None
    check = _Checker(fields if isinstance(fields, dict) else {}, ("video_id", "video_url"))
    check.text("video_id")
    check.text("video_url")
    if not isinstance(fields, dict) or ("video_id" in fields) == ("video_url" in fields):
        check.problems.append("video_id: exactly one of video_id or video_url is required")
    url = check.fields.get("video_url")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        check.bad("video_url", "must be an http(s) URL")
    try:
        check.raise_if_any()
    except RuleViolation as exc:
        raise ApiError.of(1201, str(exc)) from None
    session = uuid.uuid4().hex
    SESSIONS.add(session)
    face = {"face_id": "0", "face_image": "", "start_time": 0, "end_time": int(SECONDS * 1000)}
    return {"session_id": session, "face_data": [face]}


def routes(prefix: str, api_call: Any) -> list[Route]:
    """The face scan's route (answered at once, through the API envelope ``api_call``)."""

    async def identify_face(request: Request) -> Any:
        return await api_call(request, "scans", _scan)

    return [Route(f"{prefix}/v1/videos/identify-face", identify_face, methods=["POST"])]
