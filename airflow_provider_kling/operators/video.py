"""One operator per Kling video kind: text-to-video, image-to-video, omni-video, video-extend and
multi-image-to-video. The model chooses the API style: ``kling-v2-6`` is sent to
``/v1/videos/text2video``, ``kling-3.0`` to ``/text-to-video/kling-3.0``, with the same arguments.
What each argument means and which models take it: the request models (``kind_table``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator

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
    """
    Make a video from a prompt (``/v1/videos/text2video`` or ``/text-to-video/{model}``); store it
    and return the result.

    :param prompt: At most 2500 characters (3072 on kling-3.0, kling-3.0-turbo). (templated)
    :param model_name: ``kling-v2-6`` (default), ``kling-v1-6``, ``kling-v2-master``,
        ``kling-v2-1-master``, ``kling-v2-5-turbo``, ``kling-v3`` (``/v1``), or ``kling-3.0-turbo``,
        ``kling-3.0``, ``kling-2.6``, ``kling-2.5-turbo`` (model-path style). (templated)
    :param resolution: ``720p`` (Kling's default), ``1080p`` or ``4k`` (``std``/``pro`` taken too);
        the masters take none. (templated)
    :param duration: Seconds: 5 (Kling's default) or 10; 3-15 on kling-v3 and kling-3.0. (templated)
    :param aspect_ratio: ``16:9`` (Kling's default), ``9:16`` or ``1:1``. (templated)
    :param audio: ``native``/``off`` (or True/False) on the models that make sound. (templated)
    :param multi_shot: Multi-shot (kling-v3, kling-3.0).
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    :param negative_prompt: What to keep out (``/v1`` models). (templated)
    :param cfg_scale: 0 to 1 (``/v1`` models; kling-v2.x refuse it).
    :param camera_control: ``{"type": "simple", "config": {"zoom": 5}}`` or a preset type (``/v1`` models).
    :param element_ids: Element ids (kling-v3, UNCONFIRMED).
    :param shot_type: / ``multi_prompt``: kling-v3 multi-shot, UNCONFIRMED shape.

    A model refuses an argument its API style does not take, naming the model and the argument.
    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = RequestKind.TEXT2VIDEO
    template_fields: Sequence[str] = (
        "prompt",
        "negative_prompt",
        "model_name",
        "resolution",
        "duration",
        "aspect_ratio",
        "audio",
        "element_ids",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        resolution: str | None = None,
        duration: int | str | None = None,
        aspect_ratio: str | None = None,
        audio: str | bool | None = None,
        multi_shot: bool | None = None,
        watermark_info: dict[str, bool] | None = None,
        cfg_scale: float | None = None,
        camera_control: dict[str, Any] | None = None,
        element_ids: list[int] | None = None,
        shot_type: str | None = None,
        multi_prompt: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingImageToVideoOperator(KlingVideoTaskOperator):
    """
    Make a video from a first frame, and optionally a last frame, elements and voices
    (``/v1/videos/image2video`` or ``/image-to-video/{model}``); store it and return the result.

    :param first_frame: A URL, base64, an image in your storage, or an image task's result (its
        first image; read from storage when it was stored). (templated)
    :param last_frame: The last frame, the same forms. (templated)
    :param prompt: Optional; cite voices as ``<<<voice_1>>>``. (templated)
    :param model_name: ``kling-v2-6`` (default) or another ``/v1`` image-to-video model, or a
        model-path one (``kling-3.0``, ``kling-3.0-turbo``, ``kling-2.6``, ``kling-2.5-turbo``). (templated)
    :param resolution: / ``duration`` / ``audio`` / ``multi_shot`` / ``watermark_info``: as on
        :class:`KlingTextToVideoOperator`. (templated)
    :param voice_ids: Up to 2 voice ids (``/v1``: with ``audio="native"``).
    :param element_ids: Element ids (kling-3.0: at most 3; kling-v3: UNCONFIRMED).
    :param negative_prompt: (``/v1`` models.) (templated)
    :param cfg_scale: 0 to 1 (``/v1`` models).
    :param camera_control: Not with a last frame or masks (``/v1`` models).
    :param static_mask: Motion brush: the area that stays (an image; ``/v1`` models). (templated)
    :param dynamic_masks: Motion brush: up to 6 ``{"mask": image, "trajectories": [{"x", "y"}, ...]}``.
    :param shot_type: / ``multi_prompt``: kling-v3 multi-shot, UNCONFIRMED shape.
    """

    request_kind = RequestKind.IMAGE2VIDEO
    template_fields: Sequence[str] = (
        "first_frame",
        "last_frame",
        "prompt",
        "negative_prompt",
        "model_name",
        "resolution",
        "duration",
        "audio",
        "static_mask",
        "voice_ids",
        "element_ids",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        first_frame: Any = None,
        last_frame: Any = None,
        prompt: str | None = None,
        model_name: str | None = None,
        resolution: str | None = None,
        duration: int | str | None = None,
        audio: str | bool | None = None,
        multi_shot: bool | None = None,
        watermark_info: dict[str, bool] | None = None,
        voice_ids: list[Any] | None = None,
        element_ids: list[int] | None = None,
        negative_prompt: str | None = None,
        cfg_scale: float | None = None,
        camera_control: dict[str, Any] | None = None,
        static_mask: Any = None,
        dynamic_masks: list[dict[str, Any]] | None = None,
        shot_type: str | None = None,
        multi_prompt: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingOmniVideoOperator(KlingVideoTaskOperator):
    """
    Make or edit a video with Kling's omni models from a prompt, reference images, frames, elements
    and a reference video (``/v1/videos/omni-video`` or ``/omni-video/{model}``); store it and
    return the result.

    :param prompt: Required; cite references as ``<<<image_1>>>``, ``<<<element_1>>>``,
        ``<<<video_1>>>``. (templated)
    :param reference_images: Reference images (URL, base64, in your storage, or image task
        results). (templated)
    :param first_frame: / ``last_frame``: frames (not with a base video). (templated)
    :param feature_video: A video to take style and camera from (URL; turns audio off). (templated)
    :param base_video: A video to edit (URL; no native audio, no frames). (templated)
    :param element_ids: Element ids; on ``/v1`` at most 7 with the images (4 with a video).
    :param model_name: ``kling-video-o1`` (default), ``kling-v3-omni`` (``/v1``), ``kling-3.0-omni``
        or ``kling-o1`` (model-path style). (templated)
    :param aspect_ratio: Required on ``/v1`` without a first frame or a base video. (templated)
    :param resolution: / ``duration`` / ``audio`` (``native``, ``original``, ``off``) /
        ``multi_shot`` / ``watermark_info``: as on :class:`KlingTextToVideoOperator`. (templated)
    """

    request_kind = RequestKind.OMNI_VIDEO
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
        "duration",
        "audio",
        "element_ids",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        reference_images: list[Any] | None = None,
        first_frame: Any = None,
        last_frame: Any = None,
        feature_video: str | None = None,
        base_video: str | None = None,
        element_ids: list[int] | None = None,
        model_name: str | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        duration: int | str | None = None,
        audio: str | bool | None = None,
        multi_shot: bool | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingMultiImageToVideoOperator(KlingVideoTaskOperator):
    """
    Make a video from 1 to 4 reference images (``POST /v1/videos/multi-image2video``, kling-v1-6).

    :param image_list: 1 to 4 images (URL, base64, in your storage, or image task results). (templated)
    :param prompt: Required, at most 2500 characters. (templated)
    :param negative_prompt: (templated)
    :param resolution: ``720p`` or ``1080p`` (``std``/``pro``). (templated)
    :param duration: 5 or 10 seconds. (templated)
    :param aspect_ratio: ``16:9``, ``9:16`` or ``1:1``. (templated)
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = RequestKind.MULTI_IMAGE2VIDEO
    template_fields: Sequence[str] = (
        "image_list",
        "prompt",
        "negative_prompt",
        "resolution",
        "aspect_ratio",
        "duration",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        image_list: list[Any],
        prompt: str,
        model_name: str | None = None,
        negative_prompt: str | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        duration: int | str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingVideoExtendOperator(KlingVideoTaskOperator):
    """
    Make a video about 5 s longer (``POST /v1/videos/video-extend``): Kling returns the whole, longer
    video under a new id; store it and return the result (``parent_video`` is the source).

    :param video_id: The video to extend: its id (``videos[0].id`` of a video task's result, not the
        task id), a video (``{"id": ...}``) or a whole video task's result (``upstream.output``):
        then a video over 30 days old, or one whose extension would pass 3 minutes, is refused
        before anything is sent. (templated)
    :param prompt: At most 2500 characters. (templated)
    :param negative_prompt: (templated)
    :param cfg_scale: 0 to 1.
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = RequestKind.VIDEO_EXTEND
    template_fields: Sequence[str] = (
        "video_id",
        "prompt",
        "negative_prompt",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        video_id: Any,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        cfg_scale: float | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)

    def request_fields(self, context: Context) -> dict[str, Any]:
        from datetime import UTC, datetime

        # the request models, ~50 ms: not at DAG parse
        from airflow_provider_kling.models.requests.video_extend import extend_source, extend_source_problems

        fields = super().request_fields(context)
        try:
            source = extend_source(fields.get("video_id"))
        except ValueError as exc:
            raise KlingRequestValidationError(f"Invalid Kling {self.request_kind} request: {exc}") from None
        problems = extend_source_problems(
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
