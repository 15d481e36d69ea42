"""One operator per Kling image endpoint beyond image generation: omni-image, multi-image2image,
expand and virtual try-on.

Each is a thin subclass of :class:`KlingImageGenerationOperator`: it names its request kind and
takes that endpoint's fields as arguments, and inherits everything else (resume or create,
waiting on the worker or deferred, storage, XCom, the failure policy). A field that takes an
image also accepts an image in your storage (an ``ObjectStoragePath``, a ``file://``/``s3://``...
URI, or an image of an earlier Kling task's result), read and sent as base64.

Why one operator per endpoint rather than one with an ``endpoint`` argument: the endpoints share
no request field but the callback and external id, so a DAG reads best when the operator's name
says what it does and its arguments are that endpoint's own, documented, templated and checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

__all__ = [
    "KlingExpandImageOperator",
    "KlingMultiImageOperator",
    "KlingOmniImageOperator",
    "KlingVirtualTryOnOperator",
]

#: Template fields every endpoint operator has (besides its own request fields).
_COMMON_TEMPLATE_FIELDS: tuple[str, ...] = (
    "callback_url",
    "external_task_id",
    "output_path",
    "output_conn_id",
    "kling_conn_id",
)


class _KlingEndpointOperator(KlingImageGenerationOperator):
    """The image-generation operator's lifecycle with another request kind.

    Subclasses set ``request_kind`` and ``endpoint_fields`` (their own request arguments, in the
    order they are sent). Image generation's own fields are not used.
    """

    endpoint_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, endpoint_values: dict[str, Any], **kwargs: Any) -> None:
        # prompt is image generation's one required argument; this operator sends its own fields.
        super().__init__(prompt="", **kwargs)
        for name, value in endpoint_values.items():
            setattr(self, name, value)

    def request_fields(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in self.endpoint_fields}
        fields.update(callback_url=self.callback_url, external_task_id=self.external_task_id)
        return {name: value for name, value in fields.items() if value is not None}


class KlingOmniImageOperator(_KlingEndpointOperator):
    """
    Generate or edit images with Kling's omni models from a prompt, reference images and
    elements (``POST /v1/images/omni-image``); store them and return the result.

    :param prompt: At most 2500 characters; name reference images as ``<<<image_1>>>``. (templated)
    :param image_list: Up to 10 reference images (with ``element_list``), each a URL, base64 or
        an image in your storage. (templated)
    :param element_list: Elements of Kling's element library: ``[{"element_id": 123}]``.
    :param model_name: ``kling-image-o1`` (Kling's default) or ``kling-v3-omni``. (templated)
    :param resolution: ``1k``, ``2k``, or ``4k`` (kling-v3-omni). (templated)
    :param result_type: ``single`` (default) or ``series`` (kling-v3-omni). (templated)
    :param n: Images for a single result, 1 to 9.
    :param series_amount: Images in a series, 2 to 9 or ``"auto"``.
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9 or ``auto``. (templated)
    :param watermark_info: ``{"enabled": True}`` for watermarked copies as well.

    Every other argument is :class:`KlingImageGenerationOperator`'s (waiting, deferral, storage,
    failure policy, external task id).
    """

    request_kind = "omni-image"
    endpoint_fields = (
        "model_name",
        "prompt",
        "image_list",
        "element_list",
        "resolution",
        "result_type",
        "n",
        "series_amount",
        "aspect_ratio",
        "watermark_info",
    )
    template_fields: Sequence[str] = (
        "prompt",
        "image_list",
        "model_name",
        "resolution",
        "result_type",
        "aspect_ratio",
        *_COMMON_TEMPLATE_FIELDS,
    )

    def __init__(
        self,
        *,
        prompt: str,
        image_list: Any = None,
        element_list: list[dict[str, int]] | None = None,
        model_name: str = "kling-image-o1",
        resolution: str | None = None,
        result_type: str | None = None,
        n: int = 1,
        series_amount: int | str | None = None,
        aspect_ratio: str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(endpoint_values=locals_of(locals()), **kwargs)


class KlingMultiImageOperator(_KlingEndpointOperator):
    """
    Make images from 1 to 4 subject images, optionally set in a scene image and drawn in a style
    image (``POST /v1/images/multi-image2image``); store them and return the result.

    :param subject_image_list: 1 to 4 pre-cropped subject images, each a URL, base64 or an image
        in your storage. (templated)
    :param prompt: At most 2500 characters. (templated)
    :param scene_image: The scene to set the subjects in. (templated)
    :param style_image: The style to draw them in. (templated)
    :param model_name: ``kling-v2`` (Kling's default) or ``kling-v2-1``. (templated)
    :param n: Images, 1 to 9.
    :param aspect_ratio: 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3 or 21:9. (templated)
    :param watermark_info: ``{"enabled": True}`` for watermarked copies as well.

    Every other argument is :class:`KlingImageGenerationOperator`'s.
    """

    request_kind = "multi-image2image"
    endpoint_fields = (
        "model_name",
        "prompt",
        "subject_image_list",
        "scene_image",
        "style_image",
        "n",
        "aspect_ratio",
        "watermark_info",
    )
    template_fields: Sequence[str] = (
        "prompt",
        "subject_image_list",
        "scene_image",
        "style_image",
        "model_name",
        "aspect_ratio",
        *_COMMON_TEMPLATE_FIELDS,
    )

    def __init__(
        self,
        *,
        subject_image_list: Any,
        prompt: str | None = None,
        scene_image: Any = None,
        style_image: Any = None,
        model_name: str = "kling-v2",
        n: int = 1,
        aspect_ratio: str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(endpoint_values=locals_of(locals()), **kwargs)


class KlingExpandImageOperator(_KlingEndpointOperator):
    """
    Outpaint an image: grow its canvas by a ratio of its height (up, down) or width (left,
    right) on each side (``POST /v1/images/editing/expand``); store the results and return them.

    :param image: The image to expand: a URL, base64 or an image in your storage. (templated)
    :param up_expansion_ratio: Growth upwards, a multiple of the height in [0, 2]; likewise
        ``down_expansion_ratio``, ``left_expansion_ratio`` and ``right_expansion_ratio`` (of the
        width). The expanded area is at most 3 times the original's.
    :param to_aspect_ratio: Instead of the four ratios: grow the image evenly to this aspect
        ratio (e.g. ``"21:9"`` for a banner), from the image's own size. The size is read from
        base64 or an image in your storage, not from an http(s) URL: give the ratios for those.
    :param prompt: What to paint in the new area, at most 2500 characters. (templated)
    :param n: Images, 1 to 9.
    :param watermark_info: ``{"enabled": True}`` for watermarked copies as well.

    Every other argument is :class:`KlingImageGenerationOperator`'s.
    """

    request_kind = "expand"
    endpoint_fields = (
        "image",
        "up_expansion_ratio",
        "down_expansion_ratio",
        "left_expansion_ratio",
        "right_expansion_ratio",
        "prompt",
        "n",
        "watermark_info",
    )
    template_fields: Sequence[str] = ("image", "prompt", "to_aspect_ratio", *_COMMON_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        image: Any,
        up_expansion_ratio: float | None = None,
        down_expansion_ratio: float | None = None,
        left_expansion_ratio: float | None = None,
        right_expansion_ratio: float | None = None,
        to_aspect_ratio: str | None = None,
        prompt: str | None = None,
        n: int = 1,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        ratios = (up_expansion_ratio, down_expansion_ratio, left_expansion_ratio, right_expansion_ratio)
        if to_aspect_ratio is not None and any(ratio is not None for ratio in ratios):
            raise ValueError("give either to_aspect_ratio or the four *_expansion_ratio arguments, not both")
        values = locals_of(locals())
        values.pop("to_aspect_ratio")
        super().__init__(endpoint_values=values, **kwargs)
        self.to_aspect_ratio = to_aspect_ratio

    def request_fields(self) -> dict[str, Any]:
        fields = super().request_fields()
        if self.to_aspect_ratio:
            fields.update(self._ratios_for(fields.get("image")))
        return fields

    def _ratios_for(self, image: Any) -> dict[str, float]:
        """The four ratios that grow ``image`` to ``to_aspect_ratio`` (the image read for its size)."""
        import base64
        import binascii

        from airflow_provider_kling.errors import KlingRequestValidationError
        from airflow_provider_kling.image_inputs import is_storage_reference, read_image
        from airflow_provider_kling.models.reference_image import image_size
        from airflow_provider_kling.models.requests import expansion_for_aspect_ratio

        if is_storage_reference(image):
            image = read_image(image, "image", self.output_conn_id or None)
        size = None
        if isinstance(image, str) and not image.startswith(("http://", "https://")):
            try:
                size = image_size(base64.b64decode(image, validate=True))
            except (binascii.Error, ValueError):
                size = None
        if size is None:
            raise KlingRequestValidationError(
                "to_aspect_ratio: needs an image whose size can be read (base64 or an image in your "
                "storage, not a URL); give the four *_expansion_ratio arguments instead"
            )
        try:
            return expansion_for_aspect_ratio(*size, str(self.to_aspect_ratio))
        except ValueError:
            raise KlingRequestValidationError(
                f"to_aspect_ratio: must be 'W:H' with positive numbers (got {self.to_aspect_ratio!r})"
            ) from None


class KlingVirtualTryOnOperator(_KlingEndpointOperator):
    """
    Dress the person of ``human_image`` in the garment of ``cloth_image`` with Kolors virtual
    try-on (``POST /v1/images/kolors-virtual-try-on``); store the image and return the result.

    :param human_image: The person: a URL, base64 or an image in your storage. (templated)
    :param cloth_image: The garment (a product shot or on white; ``-v1-5`` also takes a top and a
        bottom in one image). (templated)
    :param model_name: ``kolors-virtual-try-on-v1`` (Kling's default) or
        ``kolors-virtual-try-on-v1-5``. (templated)

    Every other argument is :class:`KlingImageGenerationOperator`'s.
    """

    request_kind = "virtual-try-on"
    endpoint_fields = ("model_name", "human_image", "cloth_image")
    template_fields: Sequence[str] = ("human_image", "cloth_image", "model_name", *_COMMON_TEMPLATE_FIELDS)

    def __init__(
        self,
        *,
        human_image: Any,
        cloth_image: Any,
        model_name: str = "kolors-virtual-try-on-v1",
        **kwargs: Any,
    ) -> None:
        super().__init__(endpoint_values=locals_of(locals()), **kwargs)


def locals_of(frame_locals: dict[str, Any]) -> dict[str, Any]:
    """An ``__init__``'s own arguments from its ``locals()`` (not ``self``, ``kwargs``, ``__class__``)."""
    return {
        name: value for name, value in frame_locals.items() if name not in ("self", "kwargs", "__class__")
    }
