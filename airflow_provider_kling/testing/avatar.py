"""Kling's rules for ``POST /v1/videos/avatar/image2video``, as data: the simulator's own.

Written from Kling's avatar page (2026-09), never imported from the client: ``image`` required
(URL or bare base64 of a JPG/PNG, 300 px); exactly one of ``audio_id`` or ``sound_file`` (a URL or
base64); ``prompt`` at most 2500 characters; ``mode`` std/pro; ``watermark_info``. The simulator
does not read the audio: an accepted create is a
:class:`~airflow_provider_kling.testing.video_rules.VideoRequest` of :data:`AVATAR_SECONDS`, priced
per second (0.4 std, 0.8 pro).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kling.testing.endpoints import Endpoint, _Checker, _content_seed, validate_at
from airflow_provider_kling.testing.video_rules import VideoRequest

AVATAR_SECONDS = 5.0
UNITS_PER_SECOND = {"std": 0.4, "pro": 0.8}
_FIELDS = ("image", "audio_id", "sound_file", "prompt", "mode", "watermark_info", "callback_url",
           "external_task_id")  # fmt: skip


def _avatar(fields: dict[str, Any]) -> VideoRequest:
    check = _Checker(fields, _FIELDS)
    check.common()
    check.text("prompt")
    check.text("mode", choices=("std", "pro"))
    check.text("audio_id")
    check.text("sound_file")
    if "image" not in fields:
        check.problems.append("image: is required")
    else:
        check.image("image", fields["image"])
    if ("audio_id" in fields) == ("sound_file" in fields):
        check.problems.append("audio_id: exactly one of audio_id or sound_file is required")
    check.raise_if_any()
    mode = fields.get("mode", "std")
    watermark = fields.get("watermark_info") or {}
    return VideoRequest(
        model_name="avatar",
        prompt=fields.get("prompt") or _content_seed("avatar", fields),
        n=1,
        body=fields,
        callback_url=fields.get("callback_url"),
        external_task_id=fields.get("external_task_id"),
        watermark=bool(watermark.get("enabled")),
        endpoint="avatar",
        units_each=round(UNITS_PER_SECOND[mode] * AVATAR_SECONDS, 4),
        seconds=AVATAR_SECONDS,
        mode=mode,
    )


ENDPOINTS: tuple[Endpoint, ...] = (Endpoint("avatar", "/v1/videos/avatar/image2video", _avatar),)
BY_KIND: Mapping[str, Endpoint] = {endpoint.kind: endpoint for endpoint in ENDPOINTS}


def validate(kind: str, body: Any) -> VideoRequest:
    """The accepted request of endpoint ``kind``, or :class:`RuleViolation` naming every broken rule."""
    request: VideoRequest = validate_at(BY_KIND, kind, body)
    return request
