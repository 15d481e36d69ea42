"""Kling's times are Unix milliseconds: the one place they are read and written. Cheap to import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_provider_kling.errors import KlingRequestValidationError


def from_millis(value: Any) -> Any:
    """A time Kling sent as Unix milliseconds, as an aware datetime (other values as sent)."""
    # Kling's query example sends 0 for times it does not know: that is "unset", not 1970.
    if value in ("", 0, "0"):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return value


def to_millis(name: str, value: datetime | float | None) -> int | None:
    """A time sent to Kling as Unix milliseconds: an aware datetime, or a number already in ms."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise KlingRequestValidationError(f"{name} must be timezone-aware (got {value.isoformat()})")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise KlingRequestValidationError(
            f"{name} must be a timezone-aware datetime or Unix milliseconds >= 0 (got {value!r})"
        )
    return int(value)
