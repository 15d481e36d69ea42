"""One operator per path of Kling's new-style video API (model in the path): text to video, image to
video and omni video.

Each is a small subclass of :class:`~airflow_provider_kling.operators.base.KlingTaskOperator`: the
same lifecycle as every other Kling task (resume by external task id, create, wait on the worker
or deferred, XCom, the failure policy). The request kinds and their per-model rules are in
:mod:`airflow_provider_kling.models.new_style`; these paths take an API key only (a connection with
an access key and secret key fails before sending). The result's ``videos`` list holds each video's
``id``, ``url``, ``watermark_url`` and ``duration``, stored under ``output_path`` like the
``/v1/videos`` operators' (Kling purges them after 30 days). These sit beside the ``/v1/videos``
operators of :mod:`~airflow_provider_kling.operators.video`: the models differ (``kling-3.0`` here,
``kling-v3`` there), and ``kling-3.0-turbo`` exists only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_kling.defaults import DEFAULT_NEW_STYLE_OMNI_MODEL, DEFAULT_NEW_STYLE_VIDEO_MODEL
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.video import KlingVideoTaskOperator

__all__ = [
    "KlingNewStyleImageToVideoOperator",
    "KlingNewStyleOmniVideoOperator",
    "KlingNewStyleTextToVideoOperator",
]

_SETTINGS = ("resolution", "duration", "audio", "multi_shot", "watermark_info")


class _NewStyleVideoOperator(KlingVideoTaskOperator):
    """What the three share: ``model_name`` and the ``settings`` fields (and, from
    :class:`~airflow_provider_kling.operators.video.KlingVideoTaskOperator`, videos as outputs,
    stored as MP4 under ``output_path``)."""

    def _set_settings(
        self,
        model_name: str,
        resolution: str | None,
        duration: int | None,
        audio: str | None,
        multi_shot: bool | None,
        watermark_info: dict[str, bool] | None,
    ) -> None:
        self.model_name = model_name
        self.resolution = resolution
        self.duration = duration
        self.audio = audio
        self.multi_shot = multi_shot
        self.watermark_info = watermark_info


class KlingNewStyleTextToVideoOperator(_NewStyleVideoOperator):
    """
    Make a video from a prompt (``POST /text-to-video/{model}``) and return the result.

    :param prompt: 2500 characters, or 3072 with kling-3.0 and kling-3.0-turbo. (templated)
    :param model_name: ``kling-3.0-turbo``, ``kling-3.0`` (default), ``kling-2.6`` or
        ``kling-2.5-turbo``. (templated)
    :param resolution: ``720p``, ``1080p``, or ``4k`` (kling-3.0). (templated)
    :param duration: Seconds: 3-15 (kling-3.0, kling-3.0-turbo), or 5 or 10.
    :param aspect_ratio: 16:9, 9:16 or 1:1. (templated)
    :param audio: ``native`` or ``off`` (kling-3.0, kling-2.6; kling-3.0-turbo always has audio). (templated)
    :param multi_shot: Multi-shot (kling-3.0); name the shots in the prompt.
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = "new-text-to-video"
    request_arguments = ("model_name", "prompt", "aspect_ratio", *_SETTINGS)
    template_fields: Sequence[str] = (
        "prompt",
        "model_name",
        "resolution",
        "aspect_ratio",
        "audio",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        model_name: str = DEFAULT_NEW_STYLE_VIDEO_MODEL,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        duration: int | None = None,
        audio: str | None = None,
        multi_shot: bool | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.aspect_ratio = aspect_ratio
        self._set_settings(model_name, resolution, duration, audio, multi_shot, watermark_info)


class KlingNewStyleImageToVideoOperator(_NewStyleVideoOperator):
    """
    Make a video from a first frame, and optionally a last frame, elements and voices
    (``POST /image-to-video/{model}``); return the result.

    :param first_frame: A URL, base64, or an image in your storage. (templated)
    :param last_frame: The last frame (not with kling-3.0-turbo). (templated)
    :param prompt: Optional. (templated)
    :param element_ids: Elements of Kling's library (kling-3.0: at most 3).
    :param voice_ids: Voices (kling-2.6: at most 2).
    :param model_name: ``kling-3.0-turbo``, ``kling-3.0`` (default), ``kling-2.6`` or
        ``kling-2.5-turbo``. (templated)

    ``resolution``, ``duration``, ``audio``, ``multi_shot`` and ``watermark_info`` as for
    :class:`KlingNewStyleTextToVideoOperator`; every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = "new-image-to-video"
    request_arguments = (
        "model_name",
        "prompt",
        "first_frame",
        "last_frame",
        "element_ids",
        "voice_ids",
        *_SETTINGS,
    )
    template_fields: Sequence[str] = (
        "prompt",
        "first_frame",
        "last_frame",
        "model_name",
        "resolution",
        "audio",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        first_frame: Any,
        last_frame: Any = None,
        prompt: str | None = None,
        element_ids: list[int] | None = None,
        voice_ids: list[str] | None = None,
        model_name: str = DEFAULT_NEW_STYLE_VIDEO_MODEL,
        resolution: str | None = None,
        duration: int | None = None,
        audio: str | None = None,
        multi_shot: bool | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.first_frame = first_frame
        self.last_frame = last_frame
        self.prompt = prompt
        self.element_ids = element_ids
        self.voice_ids = voice_ids
        self._set_settings(model_name, resolution, duration, audio, multi_shot, watermark_info)


class KlingNewStyleOmniVideoOperator(_NewStyleVideoOperator):
    """
    Make a video from a prompt with reference images, frames, a reference or base video and
    elements (``POST /omni-video/{model}``); return the result.

    :param prompt: Required; cite references as ``<<<image_1>>>``, ``<<<video_1>>>``. (templated)
    :param reference_images: Reference images (URLs, base64). (templated)
    :param first_frame: / ``last_frame``: frames (not with a base video). (templated)
    :param feature_video: A video to take style and camera from (URL; turns audio off). (templated)
    :param base_video: A video to edit (URL; no native audio, no frames). (templated)
    :param element_ids: Elements of Kling's library.
    :param model_name: ``kling-3.0-omni`` (default) or ``kling-o1``. (templated)
    :param aspect_ratio: 16:9, 9:16 or 1:1. (templated)

    ``resolution``, ``duration``, ``audio`` (``native``, ``original``, ``off``), ``multi_shot`` and
    ``watermark_info`` as for :class:`KlingNewStyleTextToVideoOperator`.
    """

    request_kind = "new-omni-video"
    request_arguments = (
        "model_name",
        "prompt",
        "reference_images",
        "first_frame",
        "last_frame",
        "feature_video",
        "base_video",
        "element_ids",
        "aspect_ratio",
        *_SETTINGS,
    )
    template_fields: Sequence[str] = (
        "prompt",
        "reference_images",
        "first_frame",
        "last_frame",
        "feature_video",
        "base_video",
        "model_name",
        "resolution",
        "aspect_ratio",
        "audio",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        reference_images: list[str] | None = None,
        first_frame: Any = None,
        last_frame: Any = None,
        feature_video: str | None = None,
        base_video: str | None = None,
        element_ids: list[int] | None = None,
        model_name: str = DEFAULT_NEW_STYLE_OMNI_MODEL,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        duration: int | None = None,
        audio: str | None = None,
        multi_shot: bool | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.reference_images = reference_images
        self.first_frame = first_frame
        self.last_frame = last_frame
        self.feature_video = feature_video
        self.base_video = base_video
        self.element_ids = element_ids
        self.aspect_ratio = aspect_ratio
        self._set_settings(model_name, resolution, duration, audio, multi_shot, watermark_info)
