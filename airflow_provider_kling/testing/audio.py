"""Kling's sound-effect endpoints (``/v1/audio/*``), as the simulator's own rules, and their files.

Written from Kling's text-to-audio and video-to-audio pages (2026-09), never imported from the
client. Text to audio: ``prompt`` (required, at most 200 characters) and ``duration`` (required, a
number from 3.0 to 10.0 with one decimal). Video to audio: exactly one of ``video_id`` or
``video_url`` (http(s)); ``sound_effect_prompt`` and ``bgm_prompt`` at most 200 characters;
``asmr_mode`` a bool; it makes 5 s of sound and lists the video with its sound in ``videos``
(its URL is not served here). A task makes one sound, answered as ``task_result.audios[{id, url_mp3, url_wav,
duration_mp3, duration_wav}]``; it holds one slot and draws 0.25 units from a video pack. The files
are served without authentication at ``/kling/audios/{task_id}/0.mp3`` and ``0.wav``: a tiny MP3
(an ID3 tag and silent MPEG frames) and a WAV of silence, distinct per task. Download faults apply
as to images and videos.
"""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_kling.testing import faulty
from airflow_provider_kling.testing.codes import ApiError, error_response
from airflow_provider_kling.testing.endpoints import Endpoint, _Checker, validate_at
from airflow_provider_kling.testing.rules import ImageRequest, _is_number
from airflow_provider_kling.testing.state import SimulatorState

UNITS_PER_SOUND = 0.25
MAX_PROMPT = 200
SECONDS = (3.0, 10.0)
AUDIO_PATH = "/kling/audios"
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
#: An MPEG-1 Layer III frame header (128 kbit/s, 44.1 kHz) and its frame length.
_MP3_FRAME = b"\xff\xfb\x90\x64"
_MP3_FRAME_BYTES = 417


@dataclass(frozen=True)
class AudioRequest(ImageRequest):
    """An accepted sound-effect create: one sound of ``seconds``."""

    seconds: float = 5.0
    product_type: str = "video"
    #: video-to-audio: the result also lists the video with its new sound
    with_video: bool = False

    def render_result(self, task_id: str, image_root: str) -> dict[str, Any]:
        root = image_root.rsplit("/images", 1)[0] + "/audios"
        seconds = f"{self.seconds:g}"
        videos = [{"id": f"vid-{task_id}", "url": f"{root}/{task_id}/video.mp4", "duration": seconds}]
        return {
            **({"videos": videos} if self.with_video else {}),
            "audios": [
                {
                    "id": f"aud-{task_id}",
                    "url_mp3": f"{root}/{task_id}/0.mp3",
                    "url_wav": f"{root}/{task_id}/0.wav",
                    "duration_mp3": seconds,
                    "duration_wav": seconds,
                }
            ],
        }


def _text_to_audio(fields: dict[str, Any]) -> AudioRequest:
    check = _Checker(fields, ("prompt", "duration", "callback_url", "external_task_id"))
    check.common()
    check.text("prompt", required=True)
    prompt = fields.get("prompt")
    if isinstance(prompt, str) and len(prompt) > MAX_PROMPT:
        check.problems.append(f"prompt: must be at most {MAX_PROMPT} characters (got {len(prompt)})")
    seconds = fields.get("duration")
    if seconds is None:
        check.problems.append("duration: is required")
    elif not (_is_number(seconds) and SECONDS[0] <= seconds <= SECONDS[1] and round(seconds, 1) == seconds):
        check.bad("duration", "must be a number from 3.0 to 10.0 with one decimal")
    check.raise_if_any()
    return AudioRequest(
        model_name="text-to-audio",
        prompt=str(prompt),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        endpoint="text-to-audio",
        units_each=UNITS_PER_SOUND,
        seconds=float(seconds),  # type: ignore[arg-type]
    )


def _video_to_audio(fields: dict[str, Any]) -> AudioRequest:
    allowed = ("video_id", "video_url", "sound_effect_prompt", "bgm_prompt", "asmr_mode")
    check = _Checker(fields, (*allowed, "callback_url", "external_task_id"))
    check.common()
    for name in ("video_id", "video_url", "sound_effect_prompt", "bgm_prompt"):
        check.text(name)
        value = fields.get(name)
        if name.endswith("prompt") and isinstance(value, str) and len(value) > MAX_PROMPT:
            check.problems.append(f"{name}: must be at most {MAX_PROMPT} characters (got {len(value)})")
    if ("video_id" in fields) == ("video_url" in fields):
        check.problems.append("video_id: exactly one of video_id or video_url is required")
    url = fields.get("video_url")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        check.bad("video_url", "must be an http(s) URL")
    if "asmr_mode" in fields and not isinstance(fields["asmr_mode"], bool):
        check.bad("asmr_mode", "must be a boolean")
    check.raise_if_any()
    return AudioRequest(
        model_name="video-to-audio",
        prompt=" ".join(str(fields.get(name, "")) for name in allowed),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        endpoint="video-to-audio",
        units_each=UNITS_PER_SOUND,
        with_video=True,
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("text-to-audio", "/v1/audio/text-to-audio", _text_to_audio),
    Endpoint("video-to-audio", "/v1/audio/video-to-audio", _video_to_audio),
)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> ImageRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    request: ImageRequest = validate_at(BY_KIND, kind, body)
    return request


def make_mp3(seed: str, seconds: float) -> bytes:
    """A small MP3: an ID3v2 tag naming ``seed`` and about ``seconds`` of silent frames (capped)."""
    text = seed.encode()[:64]
    frame = b"TIT2" + (len(text) + 1).to_bytes(4, "big") + b"\x00\x00\x00" + text
    tag = b"ID3\x03\x00\x00" + len(frame).to_bytes(4, "big") + frame
    frames = min(int(seconds * 38), 400)  # 38 frames a second at 44.1 kHz
    return tag + (_MP3_FRAME + b"\x00" * (_MP3_FRAME_BYTES - 4)) * frames


def make_wav(seed: str, seconds: float) -> bytes:
    """A WAV of 8 kHz mono 8-bit silence, with ``seed``'s bytes as the first samples."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(seed.encode()[:64] + b"\x80" * int(seconds * 8000))
    return out.getvalue()


async def audio_file(request: Request) -> Response:
    state: SimulatorState = request.app.state.kling
    task = state.get_task(request.path_params["task_id"])
    if (
        task is None
        or not isinstance(task.request, AudioRequest)
        or request.path_params["index"] != 0
        or request.path_params["form"] not in MEDIA_TYPES
        or not state.image_available(task, time.time())
    ):
        return error_response(ApiError(404, 1203, "audio not found or expired"))
    form = request.path_params["form"]
    seed = f"{task.task_id} {task.request.prompt}"
    body = (make_mp3 if form == "mp3" else make_wav)(seed, task.request.seconds)
    state.count(task.owner, "audios")
    fault = state.take_image_fault()
    if fault is None:
        return Response(body, media_type=MEDIA_TYPES[form])
    if fault.mode == "short":
        return faulty.BrokenResponse(body, MEDIA_TYPES[form], sent=len(body) // 2, declared=len(body) * 2)
    if fault.mode == "not_image":
        return Response(faulty.NOT_AN_IMAGE, media_type=MEDIA_TYPES[form])
    return faulty.image_fault_answer(fault.mode, dict(fault.params), body)


def file_routes(prefix: str) -> list[Route]:
    return [Route(f"{prefix}/audios/{{task_id}}/{{index:int}}.{{form:str}}", audio_file, methods=["GET"])]
