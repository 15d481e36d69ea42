"""One operator per Kling image endpoint beyond image generation: omni-image, multi-image2image,
expand and virtual try-on; each names its request kind and takes that kind's fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.reference_image import image_size
from airflow_provider_kling.operators.arguments import keep_request_arguments, request_arguments_of
from airflow_provider_kling.operators.base import KlingTaskOperator, image_inputs, request_models

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "KlingExpandImageOperator",
    "KlingMultiImageOperator",
    "KlingOmniImageOperator",
    "KlingVirtualTryOnOperator",
]


class KlingOmniImageOperator(KlingTaskOperator):
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

    Every other argument is :class:`KlingTaskOperator`'s (waiting, deferral, storage, failure
    policy, callback URL, external task id).
    """

    request_kind = RequestKind.OMNI_IMAGE
    template_fields: Sequence[str] = (
        "prompt",
        "image_list",
        "element_list",
        "model_name",
        "resolution",
        "result_type",
        "aspect_ratio",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        prompt: str,
        image_list: Any = None,
        element_list: list[dict[str, int]] | None = None,
        model_name: str | None = None,
        resolution: str | None = None,
        result_type: str | None = None,
        n: int | None = None,
        series_amount: int | str | None = None,
        aspect_ratio: str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingMultiImageOperator(KlingTaskOperator):
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

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = RequestKind.MULTI_IMAGE2IMAGE
    template_fields: Sequence[str] = (
        "prompt",
        "subject_image_list",
        "scene_image",
        "style_image",
        "model_name",
        "aspect_ratio",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        subject_image_list: Any,
        prompt: str | None = None,
        scene_image: Any = None,
        style_image: Any = None,
        model_name: str | None = None,
        n: int | None = None,
        aspect_ratio: str | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)


class KlingExpandImageOperator(KlingTaskOperator):
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

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = RequestKind.EXPAND
    template_fields: Sequence[str] = (
        "image",
        "prompt",
        "to_aspect_ratio",
        *KlingTaskOperator.template_fields,
    )

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
        n: int | None = None,
        watermark_info: dict[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        ratios = (up_expansion_ratio, down_expansion_ratio, left_expansion_ratio, right_expansion_ratio)
        if to_aspect_ratio is not None and any(ratio is not None for ratio in ratios):
            raise ValueError("give either to_aspect_ratio or the four *_expansion_ratio arguments, not both")
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())
        self.to_aspect_ratio = to_aspect_ratio

    # to_aspect_ratio is no request field: request_fields turns it into the four ratios.
    request_arguments = tuple(name for name in request_arguments_of(__init__) if name != "to_aspect_ratio")

    def request_fields(self, context: Context) -> dict[str, Any]:
        fields = super().request_fields(context)
        if self.to_aspect_ratio:
            fields.update(self._ratios_for(fields.get("image")))
        return fields

    def _ratios_for(self, image: Any) -> dict[str, float]:
        """The four ratios that grow ``image`` to ``to_aspect_ratio`` (the image read for its size)."""
        import base64
        import binascii

        reader = image_inputs()
        if reader.is_storage_reference(image):
            image = reader.read_image(image, "image", self.output_conn_id or None)
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
            return request_models().expansion_for_aspect_ratio(*size, str(self.to_aspect_ratio))
        except ValueError:
            raise KlingRequestValidationError(
                f"to_aspect_ratio: must be 'W:H' with positive numbers (got {self.to_aspect_ratio!r})"
            ) from None


class KlingVirtualTryOnOperator(KlingTaskOperator):
    """
    Dress the person of ``human_image`` in the garment of ``cloth_image`` with Kolors virtual
    try-on (``POST /v1/images/kolors-virtual-try-on``); store the image and return the result.

    :param human_image: The person: a URL, base64 or an image in your storage. (templated)
    :param cloth_image: The garment (a product shot or on white; ``-v1-5`` also takes a top and a
        bottom in one image). (templated)
    :param model_name: ``kolors-virtual-try-on-v1`` (Kling's default) or
        ``kolors-virtual-try-on-v1-5``. (templated)

    Every other argument is :class:`KlingTaskOperator`'s.
    """

    request_kind = RequestKind.VIRTUAL_TRY_ON
    template_fields: Sequence[str] = (
        "human_image",
        "cloth_image",
        "model_name",
        *KlingTaskOperator.template_fields,
    )

    def __init__(
        self,
        *,
        human_image: Any,
        cloth_image: Any,
        model_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        keep_request_arguments(self, locals())

    request_arguments = request_arguments_of(__init__)
