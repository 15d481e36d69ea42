"""Lip sync, Kling's two steps: ``POST /v1/videos/identify-face`` answers at once with the faces of
a video and a session id (:class:`FaceScanRequest`, :class:`FaceScan`; not a task, 0.05 units a
call), then ``POST /v1/videos/advanced-lip-sync`` makes one face speak an audio (:class:`LipSyncRequest`,
a task).

Rules from Kling's face-recog and lip-sync pages (2026-09). The scan takes exactly one of
``video_id`` (a Kling video under 30 days old, at most 60 s) or ``video_url`` (MP4/MOV, 2-60 s).
The sync takes ``session_id`` and **one** face (``face_choose`` holds one entry, written here as
flat fields): ``face_id``; exactly one of ``audio_id`` (a text-to-speech result under 30 days old)
or ``sound_file`` (URL or base64 of an MP3/WAV/M4A/AAC, 5 MB); the crop ``sound_start_time`` to
``sound_end_time`` (ms) runs 2 to 60 s, and is inserted at ``sound_insert_time`` (ms);
``sound_volume`` and ``original_audio_volume`` 0 to 2. An audio (``{"id", "url", "duration"}``) or
an audio task's result is taken for either audio field; its known length is the default crop.
Billed 0.5 units per 5 s: an estimate prices the crop's length, rounded up to 5 s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.answers import AnsweredRequest
from airflow_provider_kling.models.requests.avatar import AvatarRequest
from airflow_provider_kling.models.requests.base import (
    KlingTaskRequest,
    WatermarkInfo,
    audio_inputs,
    check_http_url,
    first_of,
)
from airflow_provider_kling.unit_prices import ANY, Prices, Purchase, UnitRule

#: How long the audio crop may run (seconds).
CROP_SECONDS = (2.0, 60.0)
#: Kling's price: 0.5 units per started 5 s.
LIP_SYNC_PRICES: Prices = {ANY: {ANY: 0.5}}


def lip_sync_rule(kind: str, fields: Mapping[str, Any]) -> Purchase:
    """Started 5-second blocks of the crop (the longest, 60 s, when it is not known)."""
    start, end = fields.get("sound_start_time"), fields.get("sound_end_time")
    seconds = (end - start) / 1000 if start is not None and end is not None else CROP_SECONDS[1]
    return Purchase(kind, ANY, ANY, math.ceil(seconds / 5), "5 s")


class LipSyncRequest(KlingTaskRequest):
    """The body of ``POST /v1/videos/advanced-lip-sync`` (one face, sent as ``face_choose[0]``)."""

    kind: ClassVar[str] = RequestKind.LIP_SYNC
    paths: ClassVar[Mapping[ApiStyle, str]] = {ApiStyle.V1: "/v1/videos/advanced-lip-sync"}
    output: ClassVar[str] = "video"
    task_slots: ClassVar[int | None] = 1
    unit_rule: ClassVar[UnitRule] = lip_sync_rule
    stand_in_prices: ClassVar[Prices] = LIP_SYNC_PRICES
    #: Fields of the body itself; every other one is the face's (``face_choose[0]``).
    _body_fields: ClassVar[tuple[str, ...]] = (
        "session_id",
        "watermark_info",
        "callback_url",
        "external_task_id",
    )

    session_id: str = Field(min_length=1, description="The face scan's session (identify-face).")
    face_id: str = Field(min_length=1, description="The face that speaks (one of the scan's faces).")
    audio_id: str | None = Field(default=None, min_length=1, description="A text-to-speech audio id.")
    sound_file: str | None = Field(default=None, description="Or a URL or base64 of an MP3/WAV/M4A/AAC.")
    sound_start_time: int = Field(ge=0, description="Where the audio crop starts (ms; default 0).")
    sound_end_time: int = Field(ge=0, description="Where it ends (ms; default the audio's length).")
    sound_insert_time: int = Field(ge=0, description="Where in the video it goes (ms).")
    sound_volume: float | None = Field(default=None, ge=0, le=2, description="0 to 2 (Kling's default 1).")
    original_audio_volume: float | None = Field(default=None, ge=0, le=2, description="0 to 2 (default 1).")
    watermark_info: WatermarkInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _audio_results(cls, values: Any) -> Any:
        # An audio (or an audio task's result): its id or URL is sent, its length the default crop.
        if not isinstance(values, dict):
            return values
        values, seconds = audio_inputs(values, CROP_SECONDS)
        if seconds is not None:
            values.setdefault("sound_end_time", round(seconds * 1000))
        values.setdefault("sound_start_time", 0)
        return values

    _sound_file = field_validator("sound_file")(
        classmethod(lambda cls, value: AvatarRequest._sound_file(value))
    )

    @model_validator(mode="after")
    def _one_audio_and_its_crop(self) -> LipSyncRequest:
        if (self.audio_id is None) == (self.sound_file is None):
            raise ValueError("audio_id: give exactly one of audio_id or sound_file")
        crop = (self.sound_end_time - self.sound_start_time) / 1000
        if not CROP_SECONDS[0] <= crop <= CROP_SECONDS[1]:
            raise ValueError(
                f"sound_end_time: the crop sound_start_time to sound_end_time runs {crop:g} s; "
                f"Kling syncs {CROP_SECONDS[0]:g} to {CROP_SECONDS[1]:g} s"
            )
        return self

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        face = {name: body.pop(name) for name in list(body) if name not in self._body_fields}
        return {**body, "face_choose": [face]}


class Face(BaseModel):
    """One face the scan found: ``face_id``, a picture of it, and when it shows (ms)."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    face_id: str
    face_image: str | None = None
    start_time: int = 0
    end_time: int = 0


class FaceScan(BaseModel):
    """The answer of ``identify-face``: the session the sync names, and the faces found."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    session_id: str
    face_data: list[Face] = Field(default_factory=list)

    def face(self, choice: int | str = 0) -> Face:
        """The face of ``choice``: its ``face_id``, or its position in ``face_data``."""
        found = [face for i, face in enumerate(self.face_data) if choice in (face.face_id, i)]
        if not found:
            ids = ", ".join(face.face_id for face in self.face_data) or "none"
            raise KlingRequestValidationError(f"face {choice!r}: not in the scan's faces ({ids})")
        return found[0]


class FaceScanRequest(AnsweredRequest):
    """The body of ``POST /v1/videos/identify-face``: the video to scan (answered at once)."""

    path: ClassVar[str] = "/v1/videos/identify-face"
    what: ClassVar[str] = "face scan"
    answer_model: ClassVar[type[BaseModel]] = FaceScan

    video_id: str | None = Field(default=None, min_length=1, description="A video Kling made.")
    video_url: str | None = Field(default=None, description="An http(s) URL of an MP4/MOV, 2-60 s.")

    @model_validator(mode="before")
    @classmethod
    def _video(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("video_id") is not None:
            try:
                video_id, _ = first_of(values["video_id"], "videos", "id", (2.0, 60.0))
            except ValueError as exc:
                raise ValueError(f"video_id: {exc}") from None
            values = {**values, "video_id": str(video_id) if isinstance(video_id, int) else video_id}
        return values

    _url = field_validator("video_url")(classmethod(lambda cls, value: check_http_url(value)))

    @model_validator(mode="after")
    def _one_video(self) -> FaceScanRequest:
        if (self.video_id is None) == (self.video_url is None):
            raise ValueError("video_id: give exactly one of video_id or video_url")
        return self
