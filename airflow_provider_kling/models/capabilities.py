"""
What each Kling image model accepts on ``POST /v1/images/generations``: one row per model.

Written from Kling's published capability map and image-generation page. A new model is one
more row in :data:`IMAGE_MODEL_CAPABILITIES`; the request validation (``models.request``) and
the README's model table (:func:`render_model_table`) both read this table and nothing else.
Where Kling's pages say nothing about a model, the row allows rather than refuses, and says so
in ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ALL_ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
ALL_RESOLUTIONS: tuple[str, ...] = ("1k", "2k")
REFERENCE_TYPES: tuple[str, ...] = ("subject", "face")
MAX_PROMPT_LENGTH = 2500
#: Kling's limit on elements and reference images together in one request.
MAX_REFERENCES = 10
#: Kling's limits on a reference image (``image``): file size in bytes, shortest side in
#: pixels, and the longer side at most this many times the shorter (1:2.5 to 2.5:1).
MAX_REFERENCE_IMAGE_BYTES = 10 * 1024 * 1024
MIN_REFERENCE_IMAGE_SIDE = 300
MAX_REFERENCE_IMAGE_RATIO = 2.5


@dataclass(frozen=True)
class ImageModelCapability:
    """What one model accepts. Empty tuples mean "not supported"."""

    name: str
    #: a request without ``image`` (text to image) is accepted
    text_to_image: bool
    #: what an ``image`` does with this model, for the docs; empty: the model takes no image
    image_use: str
    #: ``image_reference`` values the model accepts with an image
    reference_types: tuple[str, ...]
    #: an ``image`` must come with ``image_reference`` (kling-v1-5)
    reference_required: bool
    aspect_ratios: tuple[str, ...]
    #: ``resolution`` values without an image, and with one
    text_resolutions: tuple[str, ...]
    image_resolutions: tuple[str, ...]
    #: ``element_list`` (references to elements stored in Kling's element library)
    elements: bool
    max_images: int = 9
    notes: str = ""

    @property
    def image_to_image(self) -> bool:
        return bool(self.image_use)


IMAGE_MODEL_CAPABILITIES: Mapping[str, ImageModelCapability] = {
    row.name: row
    for row in (
        ImageModelCapability(
            name="kling-v1",
            text_to_image=True,
            image_use="whole-image reference",
            reference_types=(),
            reference_required=False,
            aspect_ratios=tuple(r for r in ALL_ASPECT_RATIOS if r != "21:9"),
            text_resolutions=("1k",),
            image_resolutions=("1k",),
            elements=False,
            notes="Kling's default model when model_name is absent (this client always sends it)",
        ),
        ImageModelCapability(
            name="kling-v1-5",
            text_to_image=True,
            image_use="subject or face reference",
            reference_types=REFERENCE_TYPES,
            reference_required=True,
            aspect_ratios=ALL_ASPECT_RATIOS,
            text_resolutions=("1k",),
            image_resolutions=("1k",),
            elements=False,
        ),
        ImageModelCapability(
            name="kling-v2",
            text_to_image=True,
            image_use="restyle",
            reference_types=(),
            reference_required=False,
            aspect_ratios=ALL_ASPECT_RATIOS,
            text_resolutions=ALL_RESOLUTIONS,
            image_resolutions=("1k",),
            elements=False,
            notes="a restyled image keeps the input's resolution",
        ),
        ImageModelCapability(
            name="kling-v2-new",
            text_to_image=False,
            image_use="restyle (required)",
            reference_types=(),
            reference_required=False,
            aspect_ratios=ALL_ASPECT_RATIOS,
            text_resolutions=(),
            image_resolutions=("1k",),
            elements=False,
            notes="restyle only: a request needs an image",
        ),
        ImageModelCapability(
            name="kling-v2-1",
            text_to_image=True,
            image_use="reference image",
            reference_types=(),
            reference_required=False,
            aspect_ratios=ALL_ASPECT_RATIOS,
            text_resolutions=ALL_RESOLUTIONS,
            image_resolutions=ALL_RESOLUTIONS,
            elements=False,
            notes="Kling's map gives no resolutions for this model: both are allowed",
        ),
        ImageModelCapability(
            name="kling-v3",
            text_to_image=True,
            image_use="reference image, optionally subject or face",
            reference_types=REFERENCE_TYPES,
            reference_required=False,
            aspect_ratios=ALL_ASPECT_RATIOS,
            text_resolutions=ALL_RESOLUTIONS,
            image_resolutions=ALL_RESOLUTIONS,
            elements=True,
        ),
    )
}

#: Image models the reseller and Kling document, in the table's order.
IMAGE_MODELS: tuple[str, ...] = tuple(IMAGE_MODEL_CAPABILITIES)
#: Every aspect ratio any model accepts.
ASPECT_RATIOS: tuple[str, ...] = ALL_ASPECT_RATIOS
MAX_IMAGES = max(row.max_images for row in IMAGE_MODEL_CAPABILITIES.values())


def _cell(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "-"


def _ratios(values: tuple[str, ...]) -> str:
    if values == ALL_ASPECT_RATIOS:
        return "all"
    missing = [ratio for ratio in ALL_ASPECT_RATIOS if ratio not in values]
    return "all but " + ", ".join(missing)


def render_model_table() -> str:
    """The README's model table (Markdown), generated from :data:`IMAGE_MODEL_CAPABILITIES`."""
    lines = [
        "| `model_name` | text to image | with `image` | `image_reference` | `resolution` (text / with image)"
        " | `aspect_ratio` | `n` | `element_list` | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in IMAGE_MODEL_CAPABILITIES.values():
        reference = _cell(row.reference_types)
        if row.reference_required:
            reference += " (required with an image)"
        lines.append(
            f"| `{row.name}` | {'yes' if row.text_to_image else 'no'} | {row.image_use or '-'} | {reference}"
            f" | {_cell(row.text_resolutions)} / {_cell(row.image_resolutions)}"
            f" | {_ratios(row.aspect_ratios)}"
            f" | 1-{row.max_images} | {'yes' if row.elements else '-'} | {row.notes} |"
        )
    return "\n".join(lines) + "\n"
