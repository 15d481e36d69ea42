"""Kling's text-to-speech (``POST /v1/audio/tts``), as the simulator's own rules.

Written from Kling's text-to-speech page (2026-09), never imported from the client: ``text``
(required, at most 1000 characters), ``voice_id`` (required), ``voice_language`` ``zh``/``en``,
``voice_speed`` 0.8 to 2.0 with one decimal; nothing else (no callback, no ``external_task_id``).
The create answers the finished task, ``task_result.audios[{id, url, duration}]``; there is no
query or list path. 0.05 units a call; its MP3 is served like the sound effects'
(``testing.audio``), 2 s of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from airflow_provider_kling.testing.audio import AudioRequest
from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.endpoints import _Checker
from airflow_provider_kling.testing.rules import RuleViolation, _is_number
from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.tasks import IMAGE_PATH, render_task

UNITS_PER_CALL = 0.05
MAX_TEXT = 1000


@dataclass(frozen=True)
class SpeechRequest(AudioRequest):
    """An accepted text-to-speech: one audio, answered as ``{id, url, duration}``."""

    def render_result(self, task_id: str, image_root: str) -> dict[str, Any]:
        root = image_root.rsplit("/images", 1)[0] + "/audios"
        return {"audios": [{"id": f"aud-{task_id}", "url": f"{root}/{task_id}/0.mp3", "duration": "2"}]}


def validate(fields: Any) -> SpeechRequest:
    check = _Checker(
        fields if isinstance(fields, dict) else {}, ("text", "voice_id", "voice_language", "voice_speed")
    )
    check.text("text", required=True)
    check.text("voice_id", required=True)
    check.text("voice_language", choices=("zh", "en"))
    text, speed = check.fields.get("text"), check.fields.get("voice_speed")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        check.problems.append(f"text: must be at most {MAX_TEXT} characters (got {len(text)})")
    if speed is not None and not (_is_number(speed) and 0.8 <= speed <= 2.0 and round(speed, 1) == speed):
        check.bad("voice_speed", "must be a number from 0.8 to 2.0 with one decimal")
    check.raise_if_any()
    return SpeechRequest(
        model_name="tts",
        prompt=str(text),
        n=1,
        body=check.fields,
        endpoint="text-to-speech",
        units_each=UNITS_PER_CALL,
        seconds=2.0,
    )


async def _speak(request: Request, state: SimulatorState, owner: str) -> dict[str, Any]:
    try:
        speech = validate(await request.json())
    except (ValueError, RuleViolation) as exc:
        raise ApiError.of(1201, str(exc)) from None
    task = state.create_task(owner, speech)
    (task,) = state.advance(task.task_id, to=task.final_status)
    root = f"{request.url.scheme}://{request.url.netloc}{IMAGE_PATH}"
    return render_task(task, image_root=root, now=task.phases[-1][1])


def routes(prefix: str, api_call: Any) -> list[Route]:
    """The text-to-speech route: a create answered with the finished task (``api_call``: the envelope)."""

    async def tts(request: Request) -> Any:
        return await api_call(request, "creates", _speak)

    return [Route(f"{prefix}/v1/audio/tts", tts, methods=["POST"])]
