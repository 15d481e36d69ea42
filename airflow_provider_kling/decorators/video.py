"""``@task.kling_video``: the TaskFlow form of the video operators, made by the one decorator factory.

The decorated function returns a prompt (text-to-video), or a dict of request fields: with a frame
(``first_frame`` or ``last_frame``: an image field of image-to-video) it is image-to-video,
otherwise text-to-video. Operator
arguments (``output_path``, ``deferrable`` ...) go to the decorator, as with ``@task.kling_image``::

    @task.kling_video(output_path="s3://bucket/videos", output_conn_id="aws_default", duration=5)
    def product_video(image_result: dict) -> dict:
        return {"first_frame": image_result, "prompt": "the product turns slowly"}

``kind=`` runs any other video kind's operator instead (``@task.kling_video(kind="omni-video")``),
found by the kind it declares: a new video kind needs no change here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow_provider_kling.decorators.kling import make_kind_task_decorator
from airflow_provider_kling.operators.lazy import request_models
from airflow_provider_kling.operators.video import (
    KlingImageToVideoOperator,
    KlingTextToVideoOperator,
    KlingVideoTaskOperator,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.models.requests import KlingTaskRequest

#: The operator of a prompt alone, and the one of a request with a frame.
_FROM_TEXT, _FROM_FRAMES = KlingTextToVideoOperator, KlingImageToVideoOperator


class KlingPromptOrImageToVideoOperator(KlingVideoTaskOperator):
    """
    Text-to-video, or image-to-video when given a frame: the operator behind ``@task.kling_video``.
    It takes the fields of both request kinds (a field is required when both require it); the
    request is that kind's, with its rules (an ``aspect_ratio`` with an image is refused, as
    image-to-video has none).
    """

    request_kind = _FROM_TEXT.request_kind
    #: The kinds this operator builds, the one chosen per request (its fields and the docs' tables).
    request_kinds: ClassVar[tuple[str, ...]] = (_FROM_TEXT.request_kind, _FROM_FRAMES.request_kind)

    def build_request(self, context: Context) -> KlingTaskRequest:
        fields = self.request_fields(context)
        images = request_models().request_class(_FROM_FRAMES.request_kind).image_fields
        framed = any(fields.get(name) is not None for name in images if "." not in name)
        self.request_kind = (_FROM_FRAMES if framed else _FROM_TEXT).request_kind
        return super().build_request(context)


_KlingVideoDecoratedOperator, kling_video_task = make_kind_task_decorator(
    KlingPromptOrImageToVideoOperator, "kling_video"
)
