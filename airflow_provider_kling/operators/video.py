"""One operator per Kling video kind: text-to-video, image-to-video, omni-video, video-extend and
multi-image-to-video. The model chooses the API style: ``kling-v2-6`` is sent to
``/v1/videos/text2video``, ``kling-3.0`` to ``/text-to-video/kling-3.0``, with the same arguments.
What each argument means and which models take it: the request models (``kind_table``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.lazy import request_models

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.models.requests import KlingTaskRequest

__all__ = [
    "KlingImageToVideoOperator",
    "KlingMultiImageToVideoOperator",
    "KlingOmniVideoOperator",
    "KlingTextToVideoOperator",
    "KlingVideoExtendOperator",
    "KlingVideoTaskOperator",
]


class KlingVideoTaskOperator(KlingTaskOperator):
    """What every video operator shares: the task's videos are its outputs, stored as videos (the
    base reads that from the request kind: ``models.requests.media_of``), and UNCONFIRMED fields are logged.

    Files are named ``<dag_id>/<run_id>/<task_id>[_<map_index>]_0.mp4`` under ``output_path``
    (``_0_watermarked.mp4`` for the watermarked copy), like images.
    """

    ui_color = "#e4d6ff"

    def build_request(self, context: Context) -> KlingTaskRequest:
        request = super().build_request(context)
        unconfirmed: dict[str, str] = getattr(request, "unconfirmed_fields", dict)()
        for name, why in unconfirmed.items():
            self.log.warning("%s is UNCONFIRMED: %s; Kling may refuse or ignore it", name, why)
        return request


class KlingTextToVideoOperator(KlingVideoTaskOperator):
    """Make a video from a prompt (``/v1/videos/text2video`` or ``/text-to-video/{model}``); store it
    and return the result."""

    request_kind = RequestKind.TEXT2VIDEO


class KlingImageToVideoOperator(KlingVideoTaskOperator):
    """Make a video from a first frame, and optionally a last frame, elements and voices
    (``/v1/videos/image2video`` or ``/image-to-video/{model}``); store it and return the result. A
    frame may also be an image task's result (its first image; read from storage when stored)."""

    request_kind = RequestKind.IMAGE2VIDEO


class KlingOmniVideoOperator(KlingVideoTaskOperator):
    """Make or edit a video with Kling's omni models from a prompt, reference images, frames, elements
    and a reference video (``/v1/videos/omni-video`` or ``/omni-video/{model}``); store it and return
    the result."""

    request_kind = RequestKind.OMNI_VIDEO


class KlingMultiImageToVideoOperator(KlingVideoTaskOperator):
    """Make a video from 1 to 4 reference images (``POST /v1/videos/multi-image2video``)."""

    request_kind = RequestKind.MULTI_IMAGE2VIDEO


class KlingVideoExtendOperator(KlingVideoTaskOperator):
    """
    Make a video about 5 s longer (``POST /v1/videos/video-extend``): Kling returns the whole, longer
    video under a new id; store it and return the result (``parent_video`` is the source).

    ``video_id`` may be the id (``videos[0].id`` of a video task's result, not the task id), a video
    (``{"id": ...}``) or a whole video task's result (``upstream.output``): then a video over 30 days
    old, or one whose extension would pass 3 minutes, is refused before anything is sent.
    """

    request_kind = RequestKind.VIDEO_EXTEND

    def request_fields(self, context: Context) -> dict[str, Any]:
        from datetime import UTC, datetime

        extend = request_models().video_extend  # the request models, ~50 ms: not at DAG parse
        fields = super().request_fields(context)
        try:
            source = extend.extend_source(fields.get("video_id"))
        except ValueError as exc:
            raise KlingRequestValidationError(f"Invalid Kling {self.request_kind} request: {exc}") from None
        problems = extend.extend_source_problems(
            video_id=str(source.video_id),
            duration=source.duration,
            created_at=source.made_at,
            now=datetime.now(UTC),
        )
        if problems:
            raise KlingRequestValidationError(
                f"Invalid Kling {self.request_kind} request: " + "; ".join(problems)
            )
        fields["video_id"] = source.video_id
        return fields
