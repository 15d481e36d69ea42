"""What every Kling request kind shares: its declaration (:class:`KlingTaskRequest`'s class
attributes), the common fields, and the body layout of each API style (a field's :class:`Wire`).
No Airflow and no HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.reference_image import check_model_path_image, checked_image
from airflow_provider_kling.unit_prices import Prices, UnitRule, image_rule

#: Where a field goes in a model-path body: the top level, ``settings``, ``options``.
TOP, SETTINGS, OPTIONS = "top", "settings", "options"


@dataclass(frozen=True)
class Contents:
    """A field sent as ``contents[]`` entries of the model-path style: ``{"type": type, key: value}``,
    one per item of a list, numbered ``"id": "<cite>_N"`` when the prompt cites it."""

    type: str
    key: str = "url"
    cite: str | None = None


@dataclass(frozen=True)
class Wire:
    """Where a field goes in each API style's body (in a field's ``Annotated`` metadata).

    ``v1``: its key in the ``/v1`` body (``""``: the field's own name; ``None``: ``/v1`` models
    refuse it); ``to_v1`` turns its JSON value into ``/v1``'s form (values of one key that are lists
    are joined). ``model_path``: :data:`TOP`, :data:`SETTINGS`, :data:`OPTIONS` or a :class:`Contents`
    (``None``: model-path models refuse it). A field without one is a ``/v1`` field of that name.
    """

    v1: str | None = ""
    to_v1: Callable[[Any], Any] | None = None
    model_path: str | Contents | None = None


#: Fields only the ``/v1`` style takes.
V1_ONLY = Wire()
#: Fields both styles take: same name in the ``/v1`` body, in ``settings`` / ``options`` otherwise.
SETTING = Wire(model_path=SETTINGS)
OPTION = Wire(model_path=OPTIONS)


class WatermarkInfo(BaseModel):
    """``{"enabled": true}`` asks Kling for a watermarked copy of each image as well (``watermark_url``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: StrictBool


#: An element's 64-bit id: an int, or a string of digits (as XCom carries it), read exactly; a float is
#: refused (it may have lost digits already).
ElementId = Annotated[
    StrictInt,
    Field(gt=0),
    BeforeValidator(
        lambda value: int(value) if isinstance(value, str) and value.strip().isdigit() else value
    ),
]


class ElementReference(BaseModel):
    """One ``element_list`` item: an element of Kling's element library, by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    element_id: ElementId


class ImageItem(BaseModel):
    """One ``image_list`` item: ``{"image": <URL or base64>}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str

    _image = field_validator("image")(classmethod(lambda cls, value: check_image(value)))


def plain_items(key: str) -> Any:
    """A before-validator for a list of ``{key: value}`` objects that also takes bare values:
    ``["<url>", ...]`` reads better in a DAG than ``[{"image": "<url>"}, ...]``."""

    def wrap(cls: type, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{key: item} if isinstance(item, str) else item for item in value]
        return value

    return classmethod(wrap)


def first_output(value: Any, plural: str) -> Any:
    """A task's whole XCom result (``{"task_id", plural: [...]}``) stands for its first output, so
    ``video_id=upstream.output`` chains two Kling tasks; anything else is returned as is."""
    if isinstance(value, Mapping) and isinstance(value.get(plural), list | tuple):
        if not value[plural]:
            raise ValueError(f"Kling task {value.get('task_id', '?')}'s result lists no {plural[:-1]}")
        return value[plural][0]
    return value


def seconds_of(value: Any) -> float | None:
    """An output's (or a field's) ``duration`` in seconds; None when absent or unreadable."""
    duration = value.get("duration") if isinstance(value, Mapping) else value
    try:
        return None if duration is None else float(duration)
    except (TypeError, ValueError):
        return None


def first_of(
    value: Any, results: str, key: str, limits: tuple[float, float], takes: str = "Kling takes"
) -> tuple[Any, float | None]:
    """``(value to send, seconds if known)`` from an id/URL, an output (``{"id", "url", "duration"}``)
    or a task's whole result (its first of ``results``); a known length outside ``limits`` is refused."""
    value = first_output(value, results)
    if not isinstance(value, Mapping):
        return value, None
    seconds = seconds_of(value)
    if seconds is not None and not limits[0] <= seconds <= limits[1]:
        raise ValueError(f"the {results[:-1]} runs {seconds:g} s; {takes} {limits[0]:g} to {limits[1]:g} s")
    return value.get(key), seconds


def audio_inputs(
    values: dict[str, Any], limits: tuple[float, float], takes: str = "Kling takes"
) -> tuple[dict[str, Any], float | None]:
    """``values`` with an audio (or an audio task's result) given for ``audio_id``/``sound_file`` read
    as its id/URL (:func:`first_of`, an error naming the field), and the first known audio length."""
    values, known = dict(values), None
    for name, key in (("audio_id", "id"), ("sound_file", "url")):
        if values.get(name) is not None:
            try:
                values[name], seconds = first_of(values[name], "audios", key, limits, takes)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
            known = seconds if known is None else known
    return values, known


def check_http_url(value: str | None) -> str | None:
    """A URL Kling fetches or calls (``callback_url``, a video, which Kling takes by URL only)."""
    if value is not None and (not value.startswith(("http://", "https://")) or not urlsplit(value).hostname):
        raise ValueError("must be an http:// or https:// URL with a host name")
    return value


def check_external_task_id(value: str | None) -> str | None:
    if value is not None and (any(ch.isspace() or not ch.isprintable() for ch in value) or "/" in value):
        raise ValueError("must not contain whitespace, control characters or '/'")
    return value


def check_image(value: str | None, style: ApiStyle = ApiStyle.V1) -> str | None:
    """An image: ``/v1``'s limits (a URL, or bare base64 of a JPEG/PNG of at most 10 MB, at least
    300 px a side), or the model-path style's (a URL, or bare base64 of at most 50 MB)."""
    if value is None:
        return None
    return checked_image(value) if style is ApiStyle.V1 else check_model_path_image(value)


class KlingTaskRequest(BaseModel):
    """The body of one Kling endpoint's create call: a subclass declares its kind in the class
    attributes below and its fields with Kling's rules (and, for the model-path style, a :class:`Wire`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Short name of the endpoint (:class:`~airflow_provider_kling.kinds.RequestKind`).
    kind: ClassVar[str] = ""
    #: The endpoint's path per API style: ``/v1`` creates are POSTed there and queried at
    #: ``GET {path}/{task_id}``; a model-path create goes to ``{path}/{model_name}``.
    paths: ClassVar[Mapping[ApiStyle, str]] = {}
    #: The ``/v1`` path (the kind's endpoint in listings, the sensor and the price learning).
    path: ClassVar[str] = ""
    #: What a task makes (``image`` or ``video``): storage and the operators read it.
    output: ClassVar[str] = "image"
    #: Slots a task holds from ``submitted`` to its end (None: one per image made).
    task_slots: ClassVar[int | None] = None
    #: What a request buys (:mod:`airflow_provider_kling.unit_prices`).
    unit_rule: ClassVar[UnitRule] = image_rule()
    #: STAND-IN prices ``{model: {tier: units}}`` (labelled so in every estimate made from them).
    stand_in_prices: ClassVar[Prices] = {}
    #: Fields that carry an image (``"field"`` or ``"list_field.key"``): a ``"field"`` (an image, or
    #: a list of them) is checked by the request's style; a ``"list_field.key"`` by its item model.
    image_fields: ClassVar[tuple[str, ...]] = ()
    #: The models ``model_name`` may name (empty: the kind has no ``model_name``).
    known_models: ClassVar[Collection[str]] = ()
    #: The models of the model-path style (every other model is ``/v1``'s).
    model_path_models: ClassVar[Collection[str]] = ()
    #: Known models Kling answers "has been discontinued" for: refused, naming the live ones.
    discontinued: ClassVar[Collection[str]] = ()
    #: ``/v1`` fields whose shape Kling's pages do not confirm, with why (sent, with a warning).
    unconfirmed: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def read_result(cls, result: dict[str, Any]) -> dict[str, Any]:
        """A ``task_result`` of this kind's own shape in the common one (``images``, ``videos``,
        ``audios``). Task bodies do not name their kind, so every kind's reader sees every result:
        one that overrides this returns any other shape unchanged."""
        return result

    external_task_id: Annotated[str | None, OPTION] = Field(
        default=None, max_length=256, description="Your id for the task, unique per account."
    )
    callback_url: Annotated[str | None, OPTION] = Field(
        default=None, description="Kling POSTs the task there on each status change."
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.kind = str(cls.kind)  # a plain string in XCom, manifests and price keys
        if "paths" in cls.__dict__:
            cls.path = cls.paths.get(ApiStyle.V1, "")

    @classmethod
    def style_of(cls, model_name: Any) -> ApiStyle:
        """The API style ``model_name`` takes for this kind."""
        return ApiStyle.MODEL_PATH if model_name in cls.model_path_models else ApiStyle.V1

    @property
    def api_style(self) -> ApiStyle:
        """The API style this request is sent in: its model's."""
        return self.style_of(getattr(self, "model_name", None))

    @property
    def endpoint(self) -> str:
        """The kind's path in this request's style (``/v1``: where it is queried and listed)."""
        return self.paths[self.api_style]

    @classmethod
    def wire(cls, name: str) -> Wire:
        """Where field ``name`` goes in each style (:class:`Wire`; a plain ``/v1`` field by default)."""
        info = cls.model_fields[name]
        return next((item for item in info.metadata if isinstance(item, Wire)), V1_ONLY)

    @classmethod
    def takes(cls, name: str, style: ApiStyle) -> bool:
        """Whether a model of ``style`` takes field ``name`` (``model_name``: every model does)."""
        wire = cls.wire(name)
        return name == "model_name" or (wire.v1 if style is ApiStyle.V1 else wire.model_path) is not None

    @model_validator(mode="after")
    def _fields_of_the_style(self) -> KlingTaskRequest:
        style = self.api_style
        refused = [
            name
            for name in type(self).model_fields
            if getattr(self, name) is not None and not self.takes(name, style)
        ]
        if refused:
            model = getattr(self, "model_name", None)
            raise ValueError(
                "; ".join(
                    f"{name}: {model} ({style.value} API) takes no {name}; models that do: "
                    f"{', '.join(self.models_taking(name)) or 'none'}"
                    for name in refused
                )
            )
        return self

    @classmethod
    def models_taking(cls, name: str) -> list[str]:
        """The models whose API style takes field ``name`` (for error messages)."""
        return [model for model in cls.known_models if cls.takes(name, cls.style_of(model))]

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, values: Any) -> Any:
        # Templated fields often render to "" (the reseller's own example sends "" for unused
        # fields): a blank optional field, or an empty list, is left unset.
        if not isinstance(values, dict):
            return values
        fields = cls.model_fields
        return {
            key: None
            if key in fields
            and not fields[key].is_required()
            and fields[key].default is None
            and (value == [] or (isinstance(value, str) and not value.strip()))
            else value
            for key, value in values.items()
        }

    @field_validator("model_name", check_fields=False)
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value in cls.discontinued:
            live = ", ".join(name for name in cls.known_models if name not in cls.discontinued)
            raise ValueError(
                f"Kling discontinued {value} (it answers 'has been discontinued'); use one of {live}"
            )
        if cls.known_models and value not in cls.known_models:
            raise ValueError(f"must be one of {', '.join(cls.known_models)}")
        return value

    @field_validator("*")
    @classmethod
    def _images(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in cls.image_fields or value is None:
            return value
        style = cls.style_of(info.data.get("model_name"))
        if isinstance(value, list):
            return [check_image(item, style) for item in value]
        return check_image(value, style)

    @field_validator("prompt", check_fields=False)
    @classmethod
    def _prompt_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("callback_url")
    @classmethod
    def _callback_is_http(cls, value: str | None) -> str | None:
        return check_http_url(value)

    @field_validator("external_task_id")
    @classmethod
    def _external_id_is_printable(cls, value: str | None) -> str | None:
        return check_external_task_id(value)

    @classmethod
    def build(cls, **fields: Any) -> Any:
        """Validate ``fields``; raise :class:`KlingRequestValidationError` naming each bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            what = "image" if cls.kind == RequestKind.GENERATIONS else cls.kind
            raise KlingRequestValidationError(describe_validation_error(exc, what)) from None

    def to_json(self) -> dict[str, Any]:
        """The JSON body Kling expects in this request's style: unset optional fields are left out."""
        values = self.model_dump(mode="json", exclude_none=True)
        if self.api_style is ApiStyle.V1:
            return v1_body(type(self), values)
        return model_path_body(type(self), values)

    def unconfirmed_fields(self) -> dict[str, str]:
        """The :attr:`unconfirmed` fields this request sets (none in the model-path style)."""
        if self.api_style is not ApiStyle.V1:
            return {}
        return {name: why for name, why in self.unconfirmed.items() if getattr(self, name, None) is not None}

    def summary(self) -> dict[str, Any]:
        """What the operator's XCom result says about the request (no image data)."""
        return {
            "request_kind": self.kind,
            "model_name": getattr(self, "model_name", None),
            "prompt": getattr(self, "prompt", None),
        }


def v1_body(cls: type[KlingTaskRequest], values: Mapping[str, Any]) -> dict[str, Any]:
    """A ``/v1`` body: each field under its ``/v1`` key, in ``/v1``'s form (lists of one key joined)."""
    body: dict[str, Any] = {}
    for name, value in values.items():
        wire = cls.wire(name)
        key, sent = wire.v1 or name, wire.to_v1(value) if wire.to_v1 else value
        body[key] = [*body[key], *sent] if isinstance(body.get(key), list) else sent
    return body


def model_path_body(cls: type[KlingTaskRequest], values: Mapping[str, Any]) -> dict[str, Any]:
    """A model-path body: ``{<top-level fields>, contents[], settings{}, options{}}`` (the model is
    in the path)."""
    body: dict[str, Any] = {}
    contents: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {SETTINGS: {}, OPTIONS: {}}
    for name, value in values.items():
        where = cls.wire(name).model_path
        if name == "model_name" or where is None:
            continue
        if isinstance(where, Contents):
            items = value if isinstance(value, list) else [value]
            for number, item in enumerate(items, start=1):
                entry = {"type": where.type, where.key: item}
                contents.append({**entry, "id": f"{where.cite}_{number}"} if where.cite else entry)
        elif where == TOP:
            body[name] = value
        else:
            groups[where][name] = value
    if contents:
        body["contents"] = contents
    body.update({group: fields for group, fields in groups.items() if fields})
    return body


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """One line per problem: the field, the rule, and (shortened) the value that broke it."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        if not field:
            # A rule across fields: its message already starts with the field it is about.
            problems.append(message)
            continue
        if isinstance(value, dict | list):
            problems.append(f"{field}: {message}")
            continue
        shown = repr(value)
        if len(shown) > 60:
            shown = f"{shown[:40]}... ({len(value) if isinstance(value, str) else len(shown)} characters)"
        problems.append(f"{field}: {message} (got {shown})")
    return f"Invalid Kling {what} request: " + "; ".join(problems)
