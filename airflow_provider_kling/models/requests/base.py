"""What every Kling image endpoint's request shares: its path, the common fields and their rules.

A request kind is one pydantic model per endpoint. Its class says where it is sent
(:attr:`KlingTaskRequest.path`), which fields carry images (:attr:`image_fields`, so the operator
can read them from your storage first) and how to build it with errors that name the field.
No Airflow and no HTTP here.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.models.reference_image import checked_image


class WatermarkInfo(BaseModel):
    """``{"enabled": true}`` asks Kling for a watermarked copy of each image as well (``watermark_url``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: StrictBool


def check_callback_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def check_external_task_id(value: str | None) -> str | None:
    if value is not None and (any(ch.isspace() or not ch.isprintable() for ch in value) or "/" in value):
        raise ValueError("must not contain whitespace, control characters or '/'")
    return value


def check_image(value: str | None) -> str | None:
    """An image field: an http(s) URL or bare base64 of a JPEG/PNG within Kling's limits."""
    return None if value is None else checked_image(value)


def check_prompt_not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


def blank_means_unset(
    values: Any, optional_text: tuple[str, ...], optional_lists: tuple[str, ...] = ()
) -> Any:
    """Templated fields often render to ``""``: blank optional text and empty lists are left unset."""
    if not isinstance(values, dict):
        return values
    return {
        key: (
            None
            if (key in optional_text and isinstance(val, str) and not val.strip())
            or (key in optional_lists and val == [])
            else val
        )
        for key, val in values.items()
    }


class KlingTaskRequest(BaseModel):
    """
    The body of one Kling image endpoint's create call (the base of every request kind).

    Subclasses set :attr:`kind` and :attr:`path`, declare their fields with Kling's rules, and
    list the fields that take an image in :attr:`image_fields` (a list field holds a list of
    ``{<key>: image}`` objects: the key is given as ``"field.key"``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Short name of the endpoint (``generations``, ``omni-image`` ...).
    kind: ClassVar[str] = ""
    #: Where creates are POSTed; queries are ``GET {path}/{task_id}``, lists ``GET {path}``.
    path: ClassVar[str] = ""
    #: Fields that carry an image (``"field"`` or ``"list_field.key"``).
    image_fields: ClassVar[tuple[str, ...]] = ()
    #: The models ``model_name`` may name (empty: the kind has no ``model_name``).
    known_models: ClassVar[Collection[str]] = ()
    #: Optional text fields (besides ``callback_url`` and ``external_task_id``) and list fields
    #: that are left unset when blank or empty: templated fields often render to ``""``.
    blank_text_fields: ClassVar[tuple[str, ...]] = ()
    blank_list_fields: ClassVar[tuple[str, ...]] = ()

    external_task_id: str | None = Field(default=None, max_length=256)
    callback_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, values: Any) -> Any:
        return blank_means_unset(
            values, (*cls.blank_text_fields, "callback_url", "external_task_id"), cls.blank_list_fields
        )

    @field_validator("model_name", check_fields=False)
    @classmethod
    def _known_model(cls, value: str) -> str:
        if cls.known_models and value not in cls.known_models:
            raise ValueError(f"must be one of {', '.join(cls.known_models)}")
        return value

    @field_validator("prompt", check_fields=False)
    @classmethod
    def _prompt_not_blank(cls, value: str | None) -> str | None:
        return check_prompt_not_blank(value)

    @field_validator("callback_url")
    @classmethod
    def _callback_is_http(cls, value: str | None) -> str | None:
        return check_callback_url(value)

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
            message = describe_validation_error(exc)
            if cls.kind and cls.kind != "generations":
                message = message.replace(
                    "Invalid Kling image request", f"Invalid Kling {cls.kind} request", 1
                )
            raise KlingRequestValidationError(message) from None

    def to_json(self) -> dict[str, Any]:
        """The JSON body Kling expects: unset optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)

    def summary(self) -> dict[str, Any]:
        """What the operator's XCom result says about the request (no image data)."""
        return {
            "request_kind": self.kind,
            "model_name": getattr(self, "model_name", None),
            "prompt": getattr(self, "prompt", None),
        }


def describe_validation_error(exc: ValidationError) -> str:
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
    return "Invalid Kling image request: " + "; ".join(problems)
