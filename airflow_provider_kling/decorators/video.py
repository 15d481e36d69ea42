"""``@task.kling_video``: the TaskFlow form of the video operators, made by the one decorator factory.

The decorated function returns a prompt (text-to-video), or a dict of request fields: with an
``first_frame`` (or ``last_frame``) it is image-to-video, otherwise text-to-video. Operator arguments
(``output_path``, ``deferrable`` ...) go to the decorator, as with ``@task.kling_image``::

    @task.kling_video(output_path="s3://bucket/videos", output_conn_id="aws_default", duration=5)
    def product_video(image_result: dict) -> dict:
        return {"first_frame": image_result, "prompt": "the product turns slowly"}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.decorators.kling import make_kling_task_decorator
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.video import (
    KlingImageToVideoOperator,
    KlingTextToVideoOperator,
    KlingVideoTaskOperator,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.models.requests import KlingTaskRequest

#: Every argument of the two operators, each once, in the order they are sent.
_ARGUMENTS = tuple(
    dict.fromkeys((*KlingImageToVideoOperator.request_arguments, *KlingTextToVideoOperator.request_arguments))
)


class KlingPromptOrImageToVideoOperator(KlingVideoTaskOperator):
    """
    Text-to-video, or image-to-video when given a first (or last) frame: the operator behind
    ``@task.kling_video``. It takes the arguments of :class:`KlingTextToVideoOperator` and
    :class:`KlingImageToVideoOperator`; the request is that endpoint's, with its rules (an
    ``aspect_ratio`` with an image is refused, as image-to-video has none).
    """

    request_kind = KlingTextToVideoOperator.request_kind
    request_arguments = _ARGUMENTS
    template_fields: Sequence[str] = tuple(
        dict.fromkeys((*KlingImageToVideoOperator.template_fields, *KlingTextToVideoOperator.template_fields))
    )

    def __init__(self, **kwargs: Any) -> None:
        fields = {name: kwargs.pop(name, None) for name in _ARGUMENTS}
        super().__init__(**kwargs)  # an argument neither endpoint has is refused here, named
        for name, value in fields.items():
            setattr(self, name, value)

    def build_request(self, context: Context) -> KlingTaskRequest:
        fields = self.request_fields(context)
        framed = fields.get("first_frame") is not None or fields.get("last_frame") is not None
        self.request_kind = (KlingImageToVideoOperator if framed else KlingTextToVideoOperator).request_kind
        return super().build_request(context)


assert set(KlingTaskOperator.template_fields) <= set(KlingPromptOrImageToVideoOperator.template_fields)

_KlingVideoDecoratedOperator, kling_video_task = make_kling_task_decorator(
    KlingPromptOrImageToVideoOperator, "kling_video"
)
