"""One operator per Kling video endpoint: text-to-video, image-to-video, omni-video, video-extend and
multi-image-to-video.

Each is a small subclass of :class:`~airflow_provider_kling.operators.base.KlingTaskOperator`, like
the image endpoints' operators: it names its request kind and takes that endpoint's fields as
arguments, and inherits everything else (resume or create, paying once, waiting on the worker or
deferred, the failure policy, XCom, assets). What differs for video is what a task makes and how it
is stored, said once in :class:`KlingVideoTaskOperator`: the task's ``videos`` (each ``id``,
``url``, ``duration``, and ``path`` once stored), copied as MP4 under the connection's
``max_video_bytes`` cap, with the watermarked copy when Kling sends one.

Chaining works with plain XCom: an image argument takes an image task's result (its first image,
read from your storage when it was stored), and ``video_id`` of the extend operator takes a video
task's result (its first video; refused at once when the video is over Kling's 30 days or its
extension would pass 3 minutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.defaults import (
    DEFAULT_MULTI_IMAGE_VIDEO_MODEL,
    DEFAULT_OMNI_VIDEO_MODEL,
    DEFAULT_VIDEO_MODEL,
)
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
    base reads that from the request kind: ``storage.media_of``), and UNCONFIRMED fields are logged.

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


_VIDEO_ARGS = ("mode", "duration", "cfg_scale", "sound", "camera_control", "watermark_info")


class KlingTextToVideoOperator(KlingVideoTaskOperator):
    """
    Make a video from a prompt (``POST /v1/videos/text2video``); store it and return the result.

    :param prompt: At most 2500 characters. (templated)
    :param model_name: ``kling-v2-6`` (default), ``kling-v1-6``, ``kling-v2-master``,
        ``kling-v2-1-master``, ``kling-v2-5-turbo`` or ``kling-v3``. (templated)
    :param negative_prompt: What to keep out, at most 2500 characters. (templated)
    :param mode: ``std`` (Kling's default), ``pro``, or ``4k`` (kling-v3); the masters take none. (templated)
    :param duration: Seconds: 5 (Kling's default) or 10; 3-15 on kling-v3. (templated)
    :param aspect_ratio: ``16:9`` (Kling's default), ``9:16`` or ``1:1``. (templated)
    :param cfg_scale: 0 to 1; kling-v2.x models refuse it.
    :param sound: ``"on"``/``"off"`` (or True/False), kling-v2-6 and kling-v3.
    :param camera_control: ``{"type": "simple", "config": {"zoom": 5}}`` (one movement in [-10, 10]) or a
        preset type (``down_back``, ``forward_up``, ``right_turn_forward``, ``left_turn_forward``).
    :param element_list: kling-v3 only, UNCONFIRMED: ``[{"element_id": 123}]``.
    :param multi_shot: kling-v3 multi-shot, UNCONFIRMED shape; with ``shot_type`` (``customize`` or
        ``intelligence``) and ``multi_prompt`` (``[{"index": 1, "prompt": ..., "duration": 5}]``).
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = "text2video"
    request_arguments = (
        "model_name",
        "prompt",
        "negative_prompt",
        "aspect_ratio",
        *_VIDEO_ARGS,
        "element_list",
        "multi_shot",
        "shot_type",
        "multi_prompt",
    )
    template_fields: Sequence[str] = (
        "prompt",
        "negative_prompt",
        "model_name",
        "mode",
        "duration",
        "aspect_ratio",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        model_name: str = DEFAULT_VIDEO_MODEL,
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: int | str | None = None,
        aspect_ratio: str | None = None,
        cfg_scale: float | None = None,
        sound: str | bool | None = None,
        camera_control: dict[str, Any] | None = None,
        element_list: list[dict[str, int]] | None = None,
        multi_shot: bool | None = None,
        shot_type: str | None = None,
        multi_prompt: list[dict[str, Any]] | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.model_name = model_name
        self.negative_prompt = negative_prompt
        self.mode = mode
        self.duration = duration
        self.aspect_ratio = aspect_ratio
        self.cfg_scale = cfg_scale
        self.sound = sound
        self.camera_control = camera_control
        self.element_list = element_list
        self.multi_shot = multi_shot
        self.shot_type = shot_type
        self.multi_prompt = multi_prompt
        self.watermark_info = watermark_info


class KlingImageToVideoOperator(KlingVideoTaskOperator):
    """
    Make a video from a first frame and optionally a last frame (``POST /v1/videos/image2video``);
    store it and return the result.

    :param image: The first frame: a URL, base64, an image in your storage, or an image task's
        result (its first image; read from storage when it was stored). (templated)
    :param image_tail: The last frame, the same forms (pro mode on most models). (templated)
    :param prompt: At most 2500 characters; cite voices as ``<<<voice_1>>>``. (templated)
    :param model_name: ``kling-v2-6`` (default) or another image-to-video model. (templated)
    :param negative_prompt: (templated)
    :param mode: ``std``, ``pro`` or ``4k`` (kling-v3). (templated)
    :param duration: Seconds: 5 or 10; 3-15 on kling-v3. (templated)
    :param cfg_scale: 0 to 1; kling-v2.x models refuse it.
    :param sound: ``"on"``/``"off"`` (kling-v2-6, kling-v3).
    :param voice_list: Up to 2 voice ids (needs ``sound="on"``).
    :param camera_control: As on the text-to-video operator; not with a last frame or masks.
    :param static_mask: Motion brush: the area that stays (an image). (templated)
    :param dynamic_masks: Motion brush: up to 6 ``{"mask": image, "trajectories": [{"x", "y"}, ...]}``.
    :param element_list: kling-v3 only, UNCONFIRMED.
    :param multi_shot: kling-v3 multi-shot, UNCONFIRMED (with ``shot_type``, ``multi_prompt``).
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = "image2video"
    request_arguments = (
        "model_name",
        "image",
        "image_tail",
        "prompt",
        "negative_prompt",
        *_VIDEO_ARGS,
        "voice_list",
        "static_mask",
        "dynamic_masks",
        "element_list",
        "multi_shot",
        "shot_type",
        "multi_prompt",
    )
    template_fields: Sequence[str] = (
        "image",
        "image_tail",
        "prompt",
        "negative_prompt",
        "model_name",
        "mode",
        "duration",
        "static_mask",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        image: Any = None,
        image_tail: Any = None,
        prompt: str | None = None,
        model_name: str = DEFAULT_VIDEO_MODEL,
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: int | str | None = None,
        cfg_scale: float | None = None,
        sound: str | bool | None = None,
        voice_list: list[Any] | None = None,
        camera_control: dict[str, Any] | None = None,
        static_mask: Any = None,
        dynamic_masks: list[dict[str, Any]] | None = None,
        element_list: list[dict[str, int]] | None = None,
        multi_shot: bool | None = None,
        shot_type: str | None = None,
        multi_prompt: list[dict[str, Any]] | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.image_tail = image_tail
        self.prompt = prompt
        self.model_name = model_name
        self.negative_prompt = negative_prompt
        self.mode = mode
        self.duration = duration
        self.cfg_scale = cfg_scale
        self.sound = sound
        self.voice_list = voice_list
        self.camera_control = camera_control
        self.static_mask = static_mask
        self.dynamic_masks = dynamic_masks
        self.element_list = element_list
        self.multi_shot = multi_shot
        self.shot_type = shot_type
        self.multi_prompt = multi_prompt
        self.watermark_info = watermark_info


class KlingOmniVideoOperator(KlingVideoTaskOperator):
    """
    Make or edit a video with Kling's omni models from a prompt, images, elements and a reference
    video (``POST /v1/videos/omni-video``); store it and return the result.

    :param prompt: Required; cite references as ``<<<image_1>>>``, ``<<<element_1>>>``,
        ``<<<video_1>>>``. (templated)
    :param image_list: Reference images (URL, base64, in your storage, or an image task's result),
        or ``{"image_url": ..., "type": "first_frame"|"end_frame"}``. (templated)
    :param element_list: ``[{"element_id": 123}]``; at most 7 with the images (4 with a video).
    :param video_list: One video by URL: ``{"video_url": ..., "refer_type": "feature"|"base",
        "keep_original_sound": "yes"|"no"}``. (templated)
    :param model_name: ``kling-video-o1`` (default) or ``kling-v3-omni``. (templated)
    :param mode: ``std``, ``pro`` (Kling's default) or ``4k`` (kling-v3-omni). (templated)
    :param aspect_ratio: Required without a first frame or a base video. (templated)
    :param duration: 3-10 s; 5 or 10 from text or a first frame alone; none with a base video. (templated)
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = "omni-video"
    request_arguments = (
        "model_name",
        "prompt",
        "image_list",
        "element_list",
        "video_list",
        "mode",
        "aspect_ratio",
        "duration",
        "watermark_info",
    )
    template_fields: Sequence[str] = (
        "prompt",
        "image_list",
        "video_list",
        "model_name",
        "mode",
        "aspect_ratio",
        "duration",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        image_list: list[Any] | None = None,
        element_list: list[dict[str, int]] | None = None,
        video_list: list[Any] | None = None,
        model_name: str = DEFAULT_OMNI_VIDEO_MODEL,
        mode: str | None = None,
        aspect_ratio: str | None = None,
        duration: int | str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.image_list = image_list
        self.element_list = element_list
        self.video_list = video_list
        self.model_name = model_name
        self.mode = mode
        self.aspect_ratio = aspect_ratio
        self.duration = duration
        self.watermark_info = watermark_info


class KlingMultiImageToVideoOperator(KlingVideoTaskOperator):
    """
    Make a video from 1 to 4 reference images (``POST /v1/videos/multi-image2video``, kling-v1-6).

    :param image_list: 1 to 4 images (URL, base64, in your storage, or image task results). (templated)
    :param prompt: Required, at most 2500 characters. (templated)
    :param negative_prompt: (templated)
    :param mode: ``std`` or ``pro``. (templated)
    :param duration: 5 or 10 seconds. (templated)
    :param aspect_ratio: ``16:9``, ``9:16`` or ``1:1``. (templated)
    :param watermark_info: ``{"enabled": True}`` for a watermarked copy as well.
    """

    request_kind = "multi-image2video"
    request_arguments = (
        "model_name",
        "image_list",
        "prompt",
        "negative_prompt",
        "mode",
        "aspect_ratio",
        "duration",
        "watermark_info",
    )
    template_fields: Sequence[str] = (
        "image_list",
        "prompt",
        "negative_prompt",
        "mode",
        "aspect_ratio",
        "duration",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        image_list: list[Any],
        prompt: str,
        model_name: str = DEFAULT_MULTI_IMAGE_VIDEO_MODEL,
        negative_prompt: str | None = None,
        mode: str | None = None,
        aspect_ratio: str | None = None,
        duration: int | str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_list = image_list
        self.prompt = prompt
        self.model_name = model_name
        self.negative_prompt = negative_prompt
        self.mode = mode
        self.aspect_ratio = aspect_ratio
        self.duration = duration
        self.watermark_info = watermark_info


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

    request_kind = "video-extend"
    request_arguments = ("video_id", "prompt", "negative_prompt", "cfg_scale", "watermark_info")
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
        self.video_id = video_id
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.cfg_scale = cfg_scale
        self.watermark_info = watermark_info

    def request_fields(self, context: Context) -> dict[str, Any]:
        from datetime import UTC, datetime

        from airflow_provider_kling.errors import KlingRequestValidationError
        from airflow_provider_kling.models.requests.video_extend import extend_source, extend_source_problems

        fields = super().request_fields(context)
        try:
            source = extend_source(fields.get("video_id"))
        except ValueError as exc:
            raise KlingRequestValidationError(f"Invalid Kling video-extend request: {exc}") from None
        problems = extend_source_problems(
            video_id=str(source.video_id),
            duration=source.duration,
            created_at=source.made_at,
            now=datetime.now(UTC),
        )
        if problems:
            raise KlingRequestValidationError("Invalid Kling video-extend request: " + "; ".join(problems))
        fields["video_id"] = source.video_id
        return fields
