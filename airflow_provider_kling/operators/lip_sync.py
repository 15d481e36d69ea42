"""The lip-sync operator: one face of a video made to speak an audio (``/v1/videos/advanced-lip-sync``),
after Kling's face scan (``/v1/videos/identify-face``, answered at once: ``KlingHook.answer``) when
no ``session_id`` is given. The rules: :mod:`airflow_provider_kling.models.requests.lip_sync`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import FromRequest, own_request_fields
from airflow_provider_kling.operators.lazy import request_models
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

    The other arguments are the sync's request fields: ``session_id``/``face_id`` of a scan made
    already (``KlingHook().answer(FaceScanRequest.build(...))``), the audio and its crop.
    """

    request_kind = RequestKind.LIP_SYNC
    #: The scan's arguments, then the sync's request fields; the scan gives those the sync requires.
    request_arguments = FromRequest(lambda cls: (*_SCAN, *own_request_fields(cls)))
    required_arguments = ()

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
            scan = self.hook.answer(request_models().lip_sync.FaceScanRequest.build(**video))
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
            face = getattr(self, "face", None)
            request = request.model_copy(
                update={"session_id": "", "face_id": str(0 if face is None else face)}
            )
        return super()._default_external_task_id(context, request, item_key)
