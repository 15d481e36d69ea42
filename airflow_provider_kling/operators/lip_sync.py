"""The lip-sync operator: one face of a video made to speak an audio (``/v1/videos/advanced-lip-sync``),
after Kling's face scan (``/v1/videos/identify-face``, answered at once: ``KlingHook.answer``) when
no ``session_id`` is given. The rules: :mod:`airflow_provider_kling.models.requests.lip_sync`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.requests.lip_sync import FaceScanRequest
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.models.requests import KlingTaskRequest

__all__ = ["KlingLipSyncOperator"]
#: The scan's arguments (not sent with the sync).
_SCAN = ("video_id", "video_url", "face")


class KlingLipSyncOperator(KlingVideoTaskOperator):
    """
    Make one face of a video speak an audio; store the video and return the result. Without a
    ``session_id`` the task first scans ``video_id``/``video_url`` for faces (0.05 units, answered at
    once), picks ``face`` and syncs it, in the one task; a deferral carries the scan, a retry scans again.

    :param video_id: A video Kling made (an id, a video or a video task's result), to scan. (templated)
    :param video_url: Or an http(s) URL of an MP4/MOV of 2 to 60 s, to scan. (templated)
    :param face: The face to sync: its ``face_id`` or its position in the scan (default the first).
    :param session_id: / ``face_id``: a scan made already
        (``KlingHook().answer(FaceScanRequest.build(...))``). (templated)
    :param audio_id: A text-to-speech audio id, an audio or an audio task's result. (templated)
    :param sound_file: Or a URL or base64 of an MP3/WAV/M4A/AAC (5 MB), or an audio task's result. (templated)
    :param sound_start_time: / ``sound_end_time``: the audio's crop (ms, 2 to 60 s; default all of
        an audio whose length is known).
    :param sound_insert_time: Where the crop goes in the video (ms; default where the face shows).
    :param sound_volume: / ``original_audio_volume``: 0 to 2 (Kling's default 1).
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = RequestKind.LIP_SYNC
    template_fields: Sequence[str] = (
        "video_id",
        "video_url",
        "session_id",
        "face_id",
        "audio_id",
        "sound_file",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        video_id: Any = None,
        video_url: str | None = None,
        face: int | str = 0,
        session_id: str | None = None,
        face_id: str | None = None,
        audio_id: Any = None,
        sound_file: Any = None,
        sound_start_time: int | None = None,
        sound_end_time: int | None = None,
        sound_insert_time: int | None = None,
        sound_volume: float | None = None,
        original_audio_volume: float | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)

    def request_fields(self, context: Context) -> dict[str, Any]:
        fields = super().request_fields(context)
        video = {name: fields.pop(name) for name in _SCAN if name in fields}
        if "session_id" not in fields:
            fields = {**self._scan(video), **fields}
        return fields

    def _scan(self, video: dict[str, Any]) -> dict[str, Any]:
        """The scan's session, the chosen face and where it shows (carried across a deferral)."""
        if "face_scan" not in self._carried:
            choice = video.pop("face", 0)
            scan = self.hook.answer(FaceScanRequest.build(**video))
            self.log.info("Kling face scan %s found %d face(s)", scan.session_id, len(scan.face_data))
            face = scan.face(choice)
            self._carried["face_scan"] = {
                "session_id": scan.session_id,
                "face_id": face.face_id,
                "sound_insert_time": face.start_time,
            }
        return dict(self._carried["face_scan"])

    def deferral_kwargs(self) -> dict[str, Any]:
        return {key: value for key, value in self._carried.items() if key == "face_scan"}

    def _default_external_task_id(
        self, context: Context, request: KlingTaskRequest, item_key: str | None = None
    ) -> str:
        # A retry scans again: the new session must not make it a new request (and a second task).
        if getattr(self, "session_id", None) is None:
            request = request.model_copy(update={"session_id": "", "face_id": str(getattr(self, "face", 0))})
        return super()._default_external_task_id(context, request, item_key)
