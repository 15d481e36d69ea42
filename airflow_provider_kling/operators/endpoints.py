"""One operator per Kling image endpoint beyond image generation: omni-image, multi-image2image,
expand and virtual try-on; each names its request kind and takes that kind's fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.reference_image import image_size
from airflow_provider_kling.operators.base import FromRequest, KlingTaskOperator
from airflow_provider_kling.operators.lazy import image_inputs, request_models

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "KlingExpandImageOperator",
    "KlingMultiImageOperator",
    "KlingOmniImageOperator",
    "KlingVirtualTryOnOperator",
]


class KlingOmniImageOperator(KlingTaskOperator):
    """Generate or edit images with Kling's omni models from a prompt, reference images and elements
    (``POST /v1/images/omni-image``); store them and return the result."""

    request_kind = RequestKind.OMNI_IMAGE


class KlingMultiImageOperator(KlingTaskOperator):
    """Make images from 1 to 4 subject images, optionally set in a scene image and drawn in a style
    image (``POST /v1/images/multi-image2image``); store them and return the result."""

    request_kind = RequestKind.MULTI_IMAGE2IMAGE


class KlingExpandImageOperator(KlingTaskOperator):
    """
    Outpaint an image: grow its canvas by a ratio of its height (up, down) or width (left, right) on
    each side (``POST /v1/images/editing/expand``); store the results and return them.

    :param to_aspect_ratio: Instead of the four ``*_expansion_ratio`` fields: grow the image evenly
        to this aspect ratio (e.g. ``"21:9"`` for a banner), from the image's own size. The size is
        read from base64 or an image in your storage, not from an http(s) URL: give the ratios for
        those. (templated)
    """

    request_kind = RequestKind.EXPAND
    template_fields = FromRequest(
        lambda cls: ("to_aspect_ratio", *cls.request_arguments, *cls.base_template_fields)
    )

    def __init__(self, *, to_aspect_ratio: str | None = None, **kwargs: Any) -> None:
        if to_aspect_ratio is not None and any(
            kwargs.get(f"{side}_expansion_ratio") is not None for side in ("up", "down", "left", "right")
        ):
            raise ValueError("give either to_aspect_ratio or the four *_expansion_ratio arguments, not both")
        super().__init__(**kwargs)
        self.to_aspect_ratio = to_aspect_ratio

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
    """Dress the person of ``human_image`` in the garment of ``cloth_image`` with Kolors virtual try-on
    (``POST /v1/images/kolors-virtual-try-on``); store the image and return the result."""

    request_kind = RequestKind.VIRTUAL_TRY_ON
