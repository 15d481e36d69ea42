"""Faults waiting for the next requests, each consumed by the request that suffers it.

Not thread-safe: :class:`~airflow_provider_kling.testing.state.SimulatorState`'s lock guards it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.testing.codes import KLING_ERRORS, ApiError

LOSE_MODES = ("hold", "reset")
IMAGE_FAULT_MODES = ("html", "redirect", "huge", "short", "not_image", "expired")
#: What the CDN answers a purged file with (``expired`` fault).
EXPIRED_STATUSES = (403, 404, 410)
_SERVER_ERROR_CODES = {503: 5001, 504: 5002}


@dataclass(frozen=True)
class ImageFault:
    """How image downloads misbehave: ``mode``, for ``remaining`` more downloads (None: until cleared)."""

    mode: str
    remaining: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in IMAGE_FAULT_MODES:
            modes = ", ".join(IMAGE_FAULT_MODES)
            raise ValueError(f"image fault mode must be one of {modes} (got {self.mode!r})")
        if self.remaining is not None and self.remaining < 1:
            raise ValueError(f"k must be >= 1 or None (got {self.remaining!r})")
        if self.mode == "redirect" and not isinstance(self.params.get("location"), str):
            raise ValueError("the redirect image fault needs location='<url>'")
        if self.mode == "expired" and self.params.get("status", 404) not in EXPIRED_STATUSES:
            raise ValueError(
                f"the expired image fault takes status= one of {EXPIRED_STATUSES} "
                f"(got {self.params['status']!r})"
            )
        if self.mode == "huge":
            size = self.params.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ValueError(f"the huge image fault needs size=<bytes> >= 0 (got {size!r})")


@dataclass(frozen=True)
class Fault:
    kind: str  # "server_error", "rate_limit", "error" or "malformed"
    error: ApiError | None = None


def _count(name: str, value: int) -> int:
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0 (got {value!r})")
    return value


@dataclass
class Faults:
    """Faults waiting for the next API requests, consumed one per request."""

    fail_next: int = 0
    fail_status: int = 500
    rate_limit_next: int = 0
    retry_after: float | None = None
    malformed_next: int = 0
    #: Any documented Kling error, for the next ``error_next`` API requests.
    error_next: int = 0
    error_code: int = 5000
    #: Creates processed (paid) whose answer is then lost: held ``hold_seconds``, or the connection reset.
    lose_create_answers: int = 0
    lose_mode: str = "hold"
    hold_seconds: float = 30.0
    #: Creates processed (paid) and then answered 200 with an HTML page.
    garble_create_answers: int = 0
    image_fault: ImageFault | None = None

    def add(
        self,
        *,
        fail_next: int | None = None,
        status: int = 500,
        rate_limit_next: int | None = None,
        retry_after: float | None = None,
        malformed_next: int | None = None,
    ) -> None:
        if not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx HTTP status (got {status!r})")
        if fail_next is not None:
            self.fail_next, self.fail_status = _count("fail_next", fail_next), status
        if rate_limit_next is not None:
            self.rate_limit_next, self.retry_after = _count("rate_limit_next", rate_limit_next), retry_after
        if malformed_next is not None:
            self.malformed_next = _count("malformed_next", malformed_next)

    def add_errors(self, code: int, k: int, retry_after: float | None) -> None:
        if code not in KLING_ERRORS:
            raise ValueError(
                f"code must be one of Kling's documented codes {sorted(KLING_ERRORS)} (got {code!r})"
            )
        self.error_next, self.error_code = _count("k", k), code
        self.retry_after = retry_after if retry_after is not None else self.retry_after

    def lose_creates(self, k: int, mode: str, hold_seconds: float) -> None:
        if mode not in LOSE_MODES:
            raise ValueError(f"mode must be one of {', '.join(LOSE_MODES)} (got {mode!r})")
        if hold_seconds < 0:
            raise ValueError(f"hold_seconds must be >= 0 (got {hold_seconds!r})")
        self.lose_create_answers, self.lose_mode, self.hold_seconds = _count("k", k), mode, hold_seconds

    def garble_creates(self, k: int) -> None:
        self.garble_create_answers = _count("k", k)

    def take(self) -> Fault | None:
        """The fault this API request suffers: server errors, then 429, then chosen codes, then malformed."""
        if self.fail_next:
            self.fail_next -= 1
            code = _SERVER_ERROR_CODES.get(self.fail_status, 5000)
            return Fault("server_error", ApiError(self.fail_status, code, "internal error (simulated)"))
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return Fault("rate_limit", ApiError.of(1303, headers=headers))
        if self.error_next:
            self.error_next -= 1
            return Fault(
                "error", ApiError.of(self.error_code, headers=headers if self.error_code >= 1302 else None)
            )
        if self.malformed_next:
            self.malformed_next -= 1
            return Fault("malformed")
        return None

    def take_create_answer(self) -> tuple[str, float]:
        """How the answer to a create that was just processed goes wrong: ``("hold", seconds)``,
        ``("reset", 0)``, ``("garble", 0)``, or ``("", 0)`` for not at all."""
        if self.lose_create_answers:
            self.lose_create_answers -= 1
            return self.lose_mode, self.hold_seconds
        if self.garble_create_answers:
            self.garble_create_answers -= 1
            return "garble", 0.0
        return "", 0.0

    def take_image(self) -> ImageFault | None:
        fault = self.image_fault
        if fault is not None and fault.remaining is not None:
            left = fault.remaining - 1
            self.image_fault = dataclasses.replace(fault, remaining=left) if left else None
        return fault
