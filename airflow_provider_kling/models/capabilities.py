"""
What each Kling image model accepts (:data:`IMAGE_MODEL_CAPABILITIES`, :data:`OMNI_MODELS`) and
where it is served (each row's ``served``): tables of data, one row per model, from Kling's
capability map and image pages. The request rules and the docs' tables read them and nothing
else; where the pages say nothing, a row allows rather than refuses and says so in ``notes``.
:func:`model_verdict` decides whether a model is refused before sending or sent with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from airflow_provider_kling.defaults import DEFAULT_IMAGE_MODEL
from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.hosts import HOST_FAMILY_NAMES, HostFamily, host_family

ALL_ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
ALL_RESOLUTIONS: tuple[str, ...] = ("1k", "2k")
REFERENCE_TYPES: tuple[str, ...] = ("subject", "face")
MAX_PROMPT_LENGTH = 2500
#: Kling's limit on elements and reference images together in one request.
MAX_REFERENCES = 10


@dataclass(frozen=True)
class Served:
    """One kind of host serves a model: since (``None``: earlier, or not known) until (``None``: still)."""

    host: HostFamily
    since: date | None = None
    #: the first day it is no longer served there (``None``: served, as far as the sources say)
    until: date | None = None
    source: str = ""
    #: a live answer refused it there after ``until`` ("has been discontinued"); otherwise ``until``
    #: is only the day the pages stopped listing it, and a create is sent with a warning
    confirmed: bool = False


# Sources: Kling's image-generation page as copied on 2026-09-20 lists only kling-v2-1 and kling-v3
# (default kling-v3); a copy from 2026-02 still listed kling-v1, kling-v1-5, kling-v2 and kling-v2-new.
# Kling's changelog retires no image model in so many words, so "until 2026-09-20" is the latest
# day they can have gone (UNCONFIRMED that Kling refuses them: no live answer did, so they are sent
# with a warning naming the date; a row with ``confirmed=True`` is refused unless the connection
# extra ``retired_models="warn"``). Image 3.0 and 3.0 Omni launched on 2026-02-25.
# The reseller's page (undated, read 2026-12) lists all six generation models.
_KLING_PAGE = "Kling's image-generation page, 2026-09-20: kling-v2-1 and kling-v3 only"
_RESELLER = Served("reseller", source="the reseller's image-generation page lists it")
_DROPPED = (Served("kling", until=date(2026, 9, 20), source=_KLING_PAGE), _RESELLER)
_IMAGE_3_LAUNCH = date(2026, 2, 25)


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """Where a model is served (a host family not listed: not known), and what replaces it."""

    served: tuple[Served, ...] = ()
    #: the model to use instead once it is gone
    successor: str | None = None

    def on(self, host: HostFamily | None) -> Served | None:
        """What is known about ``host`` serving this model (``None``: nothing is)."""
        return next((served for served in self.served if served.host == host), None)

    @property
    def retiring(self) -> date | None:
        """The day Kling stops (or stopped) serving it on its own hosts; ``None``: no end is known."""
        own = self.on("kling")
        return own.until if own else None


@dataclass(frozen=True)
class ImageModelCapability(ServedModel):
    """What one model accepts. Empty tuples mean "not supported"."""

    name: str
    #: what an ``image`` does with this model, for the docs; empty: the model takes no image
    image_use: str
    #: a request without ``image`` (text to image) is accepted
    text_to_image: bool = True
    #: ``image_reference`` values the model accepts with an image
    reference_types: tuple[str, ...] = ()
    #: an ``image`` must come with ``image_reference`` (kling-v1-5)
    reference_required: bool = False
    aspect_ratios: tuple[str, ...] = ALL_ASPECT_RATIOS
    #: ``resolution`` values without an image, and with one
    text_resolutions: tuple[str, ...] = ALL_RESOLUTIONS
    image_resolutions: tuple[str, ...] = ALL_RESOLUTIONS
    #: ``element_list`` (references to elements stored in Kling's element library)
    elements: bool = False
    max_images: int = 9
    notes: str = ""

    @property
    def image_to_image(self) -> bool:
        return bool(self.image_use)


IMAGE_MODEL_CAPABILITIES: Mapping[str, ImageModelCapability] = {
    row.name: row
    for row in (
        ImageModelCapability(
            "kling-v1",
            image_use="whole-image reference",
            aspect_ratios=tuple(r for r in ALL_ASPECT_RATIOS if r != "21:9"),
            text_resolutions=("1k",),
            image_resolutions=("1k",),
            notes="Kling's old default when model_name is absent (this client always sends it)",
            served=_DROPPED,
            successor="kling-v3",
        ),
        ImageModelCapability(
            "kling-v1-5",
            image_use="subject or face reference",
            reference_types=REFERENCE_TYPES,
            reference_required=True,
            text_resolutions=("1k",),
            image_resolutions=("1k",),
            served=_DROPPED,
            successor="kling-v3",
        ),
        ImageModelCapability(
            "kling-v2",
            image_use="restyle",
            image_resolutions=("1k",),
            notes="a restyled image keeps the input's resolution",
            served=_DROPPED,
            successor="kling-v3",
        ),
        ImageModelCapability(
            "kling-v2-new",
            image_use="restyle (required)",
            text_to_image=False,
            text_resolutions=(),
            image_resolutions=("1k",),
            notes="restyle only: a request needs an image",
            served=_DROPPED,
            successor="kling-v3",
        ),
        ImageModelCapability(
            "kling-v2-1",
            image_use="reference image",
            notes="Kling's map gives no resolutions for this model: both are allowed",
            served=(Served("kling", source=_KLING_PAGE), _RESELLER),
        ),
        ImageModelCapability(
            "kling-v3",
            image_use="reference image, optionally subject or face",
            reference_types=REFERENCE_TYPES,
            elements=True,
            served=(Served("kling", since=_IMAGE_3_LAUNCH, source=_KLING_PAGE + " (the default)"), _RESELLER),
        ),
    )
}

#: Image models the reseller and Kling document, in the table's order.
IMAGE_MODELS: tuple[str, ...] = tuple(IMAGE_MODEL_CAPABILITIES)
#: Every aspect ratio any model accepts.
ASPECT_RATIOS: tuple[str, ...] = ALL_ASPECT_RATIOS
MAX_IMAGES = max(row.max_images for row in IMAGE_MODEL_CAPABILITIES.values())


@dataclass(frozen=True)
class OmniModel(ServedModel):
    """What one omni-image model accepts."""

    name: str
    resolutions: tuple[str, ...]
    #: ``result_type="series"`` is accepted
    series: bool
    notes: str = ""


_OMNI_PAGE = "Kling's omni-image page, 2026-09-20"
OMNI_MODELS: Mapping[str, OmniModel] = {
    row.name: row
    for row in (
        OmniModel(
            "kling-image-o1",
            ("1k", "2k"),
            series=False,
            notes="Kling's default omni model",
            served=(Served("kling", source=_OMNI_PAGE + " (the default)"),),
        ),
        OmniModel(
            "kling-v3-omni",
            ("1k", "2k", "4k"),
            series=True,
            served=(Served("kling", since=_IMAGE_3_LAUNCH, source=_OMNI_PAGE),),
        ),
    )
}
#: Where each image and omni-image model is served: the rows of both tables.
MODEL_AVAILABILITY: Mapping[str, ServedModel] = {**IMAGE_MODEL_CAPABILITIES, **OMNI_MODELS}


@dataclass(frozen=True)
class ModelVerdict:
    """Whether a model may be sent to a host: ``refusal`` (refuse before any HTTP call) or ``warning``."""

    model_name: str
    host: HostFamily | None
    refusal: str | None = None
    warning: str | None = None


def _today() -> date:
    return datetime.now(UTC).date()


def _instead(row: ServedModel) -> str:
    return f"use {row.successor} instead" if row.successor else "choose another model"


def model_verdict(
    model_name: str, base_url: str, *, today: date | None = None, refuse_retired: bool = True
) -> ModelVerdict:
    """
    Whether ``model_name`` may be sent to the host of ``base_url`` (no I/O).

    Refused when a live answer confirmed that host no longer serves it (naming its successor); a
    warning naming the date when the pages only stopped listing it (UNCONFIRMED: Kling charges
    nothing for a request it refuses, so it is sent), when Kling is retiring it, or has retired it
    on its own hosts while this host still serves it. ``refuse_retired=False`` turns a refusal into
    a warning (for a host known to serve the model after all). Unknown models and unknown hosts
    are neither refused nor warned about here: the request rules and the host decide.
    """
    today = today or _today()
    host = host_family(base_url)
    row = MODEL_AVAILABILITY.get(model_name)
    if row is None:
        return ModelVerdict(model_name, host)
    served = row.on(host)
    where = HOST_FAMILY_NAMES.get(host or "", base_url)
    if served is not None and served.until is not None and served.until <= today:
        if not served.confirmed:
            return ModelVerdict(
                model_name,
                host,
                warning=f"model_name: {model_name} is no longer listed on {where} (not since "
                f"{served.until.isoformat()}; UNCONFIRMED that it is refused, sent anyway); {_instead(row)}",
            )
        message = (
            f"model_name: {model_name} is no longer served on {where} "
            f"(not since {served.until.isoformat()}); {_instead(row)}"
        )
        if refuse_retired:
            return ModelVerdict(model_name, host, refusal=message)
        return ModelVerdict(model_name, host, warning=message + " (sent anyway: retired_models is 'warn')")
    retiring = row.retiring
    if retiring is None:
        return ModelVerdict(model_name, host)
    if retiring > today:
        warning = f"Kling is retiring {model_name} on {retiring.isoformat()}; {_instead(row)}"
    else:
        warning = (
            f"Kling no longer serves {model_name} on its own hosts (not since {retiring.isoformat()}); "
            f"{where} {'still lists it' if served is not None else 'may still take it'}; {_instead(row)}"
        )
    return ModelVerdict(model_name, host, warning=warning)


def check_model_served(
    model_name: str, base_url: str, *, today: date | None = None, refuse_retired: bool = True
) -> str | None:
    """:func:`model_verdict` as a check: raise :class:`KlingRequestValidationError` for a refusal,
    return the warning (``None``: nothing to say) for the caller to log."""
    verdict = model_verdict(model_name, base_url, today=today, refuse_retired=refuse_retired)
    if verdict.refusal is not None:
        raise KlingRequestValidationError(f"Invalid Kling image request: {verdict.refusal}")
    return verdict.warning


def _cell(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "-"


def _ratios(values: tuple[str, ...]) -> str:
    if values == ALL_ASPECT_RATIOS:
        return "all"
    missing = [ratio for ratio in ALL_ASPECT_RATIOS if ratio not in values]
    return "all but " + ", ".join(missing)


def _served_cell(row: ServedModel | None, host: HostFamily) -> str:
    served = row.on(host) if row else None
    if served is None:
        return "not known"
    if served.until is not None:
        return f"until {served.until.isoformat()}"
    return f"since {served.since.isoformat()}" if served.since else "yes"


def _availability_cells(row: ServedModel | None) -> str:
    """The "Kling's own hosts | reseller | successor" cells of a model's line."""
    successor = f"`{row.successor}`" if row and row.successor else "-"
    return f"{_served_cell(row, 'kling')} | {_served_cell(row, 'reseller')} | {successor}"


def render_model_table() -> str:
    """The docs' model tables (Markdown): what each model accepts, and where it is served.

    Generated from :data:`IMAGE_MODEL_CAPABILITIES`, :data:`MODEL_AVAILABILITY` and :data:`OMNI_MODELS`.
    """
    lines = [
        "| `model_name` | text to image | with `image` | `image_reference` | `resolution` (text / with image)"
        " | `aspect_ratio` | `n` | `element_list` | Kling's own hosts | reseller (default host) | successor"
        " | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in IMAGE_MODEL_CAPABILITIES.values():
        reference = _cell(row.reference_types)
        if row.reference_required:
            reference += " (required with an image)"
        where = MODEL_AVAILABILITY.get(row.name)
        default = " (default)" if row.name == DEFAULT_IMAGE_MODEL else ""
        lines.append(
            f"| `{row.name}`{default} | {'yes' if row.text_to_image else 'no'} | {row.image_use or '-'}"
            f" | {reference} | {_cell(row.text_resolutions)} / {_cell(row.image_resolutions)}"
            f" | {_ratios(row.aspect_ratios)}"
            f" | 1-{row.max_images} | {'yes' if row.elements else '-'}"
            f" | {_availability_cells(where)}"
            f" | {row.notes} |"
        )
    lines += [
        "",
        "| omni-image `model_name` | `resolution` | series | Kling's own hosts | reseller (default host)"
        " | successor | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for omni in OMNI_MODELS.values():
        where = MODEL_AVAILABILITY.get(omni.name)
        lines.append(
            f"| `{omni.name}` | {_cell(omni.resolutions)} | {'yes' if omni.series else '-'}"
            f" | {_availability_cells(where)}"
            f" | {omni.notes} |"
        )
    return "\n".join(lines) + "\n"
