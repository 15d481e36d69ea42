"""Kling calls answered at once, not tasks (the face scan, image recognition): a body checked before
it is sent (:class:`AnsweredRequest`) and the answer read into its own model (``KlingHook.answer``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_kling.errors import KlingRequestValidationError, KlingResponseError
from airflow_provider_kling.models.requests.base import describe_validation_error


class AnsweredRequest(BaseModel):
    """The body of a call Kling answers at once: its ``path``, what it is called in errors, and the
    model of its answer's ``data``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: ClassVar[str]
    what: ClassVar[str]
    answer_model: ClassVar[type[BaseModel]]

    @classmethod
    def build(cls, **fields: Any) -> Any:
        """Validate ``fields``; raise :class:`KlingRequestValidationError` naming each bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise KlingRequestValidationError(describe_validation_error(exc, cls.what)) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    @classmethod
    def read(cls, data: Any) -> Any:
        """The answer's ``data`` as :attr:`answer_model`."""
        try:
            return cls.answer_model.model_validate(data)
        except ValidationError as exc:
            raise KlingResponseError(f"Kling's answer to a {cls.what} is not one: {exc}") from None
