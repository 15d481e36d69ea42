"""Everything the simulator remembers: settings, tasks, slots, counters and pending faults.

One lock guards it all: the Python handle changes it from the test thread while uvicorn serves
requests from its own thread. Every method holds the lock briefly and never does I/O.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.models import ImageGenerationRequest
from airflow_provider_kling.testing.tasks import (
    CONTENT_POLICY_MESSAGE,
    GENERATION_ERROR_MESSAGE,
    IMAGE_INDEX_MODES,
    ApiError,
    SimTask,
)

COUNTER_NAMES = ("requests", "creates", "queries", "lists", "images", "callbacks", "faults")
SLOTS_EXHAUSTED = "parallel task over resource pack limit"
_SERVER_ERROR_CODES = {503: 5001, 504: 5002}
LOSE_MODES = ("hold", "reset")
IMAGE_FAULT_MODES = ("html", "redirect", "huge", "short", "not_image")


@dataclass(frozen=True)
class Settings:
    """What can change at run time; :meth:`SimulatorState.reset` restores the start-up values."""

    latency: float = 0.0
    slots: int = 8
    fail_marker: str = "#fail"
    image_ttl: float | None = None
    delay: float = 0.0
    #: Prompts containing it end ``failed`` for a reason that is not content policy.
    error_marker: str = "#error"
    #: Accept ``external_task_id`` but forget it, like a reseller that ignores the field.
    ignore_external_task_id: bool = False
    #: ``normal``; ``missing``: images carry no ``index``; ``repeat``: every image says ``index: 0``.
    image_index_mode: str = "normal"

    def __post_init__(self) -> None:
        if self.image_index_mode not in IMAGE_INDEX_MODES:
            modes = ", ".join(IMAGE_INDEX_MODES)
            raise ValueError(f"image_index_mode must be one of {modes} (got {self.image_index_mode!r})")
        for name in ("latency", "delay", "image_ttl"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 (got {value!r})")
        if self.slots < 0:
            raise ValueError(f"slots must be >= 0 (got {self.slots!r})")


@dataclass(frozen=True)
class SimulatorConfig:
    """Start-up configuration: the keys the simulator accepts, and the initial settings."""

    api_key: str = "test-key"
    extra_keys: tuple[str, ...] = ()
    #: Kling access key -> secret key, for ``Bearer <HS256 JWT>`` authentication.
    jwt_keys: Mapping[str, str] = field(default_factory=dict)
    webhook_secret: str | None = None
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        if self.webhook_secret is not None:
            try:
                base64.b64decode(self.webhook_secret.removeprefix("whsec_"), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("webhook_secret must be base64, optionally prefixed with 'whsec_'") from None

    @classmethod
    def from_kwargs(
        cls,
        *,
        api_key: str = "test-key",
        extra_keys: tuple[str, ...] | list[str] = (),
        jwt_keys: Mapping[str, str] | None = None,
        webhook_secret: str | None = None,
        **settings: Any,
    ) -> SimulatorConfig:
        """Keys and secrets by name; every other keyword is a :class:`Settings` field."""
        return cls(
            api_key=api_key,
            extra_keys=tuple(extra_keys),
            jwt_keys=dict(jwt_keys or {}),
            webhook_secret=webhook_secret,
            settings=Settings(**settings),
        )

    @property
    def api_keys(self) -> frozenset[str]:
        return frozenset((self.api_key, *self.extra_keys)) - {""}


@dataclass
class Faults:
    """Faults waiting for the next API requests, consumed one per request."""

    fail_next: int = 0
    fail_status: int = 500
    rate_limit_next: int = 0
    retry_after: float | None = None
    malformed_next: int = 0
    #: Creates processed (paid) whose answer is then lost: held ``hold_seconds``, or the connection reset.
    lose_create_answers: int = 0
    lose_mode: str = "hold"
    hold_seconds: float = 30.0
    #: Creates processed (paid) and then answered 200 with an HTML page.
    garble_create_answers: int = 0
    image_fault: ImageFault | None = None


@dataclass(frozen=True)
class Fault:
    kind: str  # "server_error", "rate_limit" or "malformed"
    error: ApiError | None = None


@dataclass(frozen=True)
class ImageFault:
    """How image downloads misbehave: ``mode``, for ``remaining`` more downloads (None: until cleared)."""

    mode: str
    remaining: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in IMAGE_FAULT_MODES:
            raise ValueError(
                f"image fault mode must be one of {', '.join(IMAGE_FAULT_MODES)} (got {self.mode!r})"
            )
        if self.remaining is not None and self.remaining < 1:
            raise ValueError(f"k must be >= 1 or None (got {self.remaining!r})")
        if self.mode == "redirect" and not isinstance(self.params.get("location"), str):
            raise ValueError("the redirect image fault needs location='<url>'")
        if self.mode == "huge":
            size = self.params.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ValueError(f"the huge image fault needs size=<bytes> >= 0 (got {size!r})")


class SimulatorState:
    """Tasks per key, slot accounting, counters and faults, behind one lock."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._lock = threading.Lock()
        self._settings = self.config.settings
        self._faults = Faults()
        self._tasks: dict[str, SimTask] = {}
        self._by_external: dict[tuple[str, str], SimTask] = {}
        self._counters: dict[str, Counter[str]] = {}

    # settings and faults
    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    def update_settings(self, **changes: Any) -> Settings:
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **changes)
            return self._settings

    def add_faults(
        self,
        *,
        fail_next: int | None = None,
        status: int = 500,
        rate_limit_next: int | None = None,
        retry_after: float | None = None,
        malformed_next: int | None = None,
    ) -> Faults:
        for name, count in (
            ("fail_next", fail_next),
            ("rate_limit_next", rate_limit_next),
            ("malformed_next", malformed_next),
        ):
            if count is not None and count < 0:
                raise ValueError(f"{name} must be >= 0 (got {count!r})")
        if not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx HTTP status (got {status!r})")
        with self._lock:
            if fail_next is not None:
                self._faults.fail_next, self._faults.fail_status = fail_next, status
            if rate_limit_next is not None:
                self._faults.rate_limit_next, self._faults.retry_after = rate_limit_next, retry_after
            if malformed_next is not None:
                self._faults.malformed_next = malformed_next
            return dataclasses.replace(self._faults)

    def faults(self) -> Faults:
        with self._lock:
            return dataclasses.replace(self._faults)

    def lose_create_answers(self, k: int, mode: str, hold_seconds: float) -> None:
        if k < 0:
            raise ValueError(f"k must be >= 0 (got {k!r})")
        if mode not in LOSE_MODES:
            raise ValueError(f"mode must be one of {', '.join(LOSE_MODES)} (got {mode!r})")
        if hold_seconds < 0:
            raise ValueError(f"hold_seconds must be >= 0 (got {hold_seconds!r})")
        with self._lock:
            self._faults.lose_create_answers = k
            self._faults.lose_mode, self._faults.hold_seconds = mode, hold_seconds

    def garble_create_answers(self, k: int) -> None:
        if k < 0:
            raise ValueError(f"k must be >= 0 (got {k!r})")
        with self._lock:
            self._faults.garble_create_answers = k

    def take_create_answer_fault(self) -> tuple[str, float]:
        """How the answer to a create that was just processed goes wrong: ("hold", s), ("reset", 0),
        ("garble", 0), or ("", 0) for none."""
        with self._lock:
            faults = self._faults
            if faults.lose_create_answers:
                faults.lose_create_answers -= 1
                return faults.lose_mode, faults.hold_seconds
            if faults.garble_create_answers:
                faults.garble_create_answers -= 1
                return "garble", 0.0
            return "", 0.0

    def set_image_fault(self, fault: ImageFault | None) -> None:
        with self._lock:
            self._faults.image_fault = fault

    def take_image_fault(self) -> ImageFault | None:
        """The fault this image download must suffer, if any."""
        with self._lock:
            fault = self._faults.image_fault
            if fault is not None and fault.remaining is not None:
                left = fault.remaining - 1
                self._faults.image_fault = dataclasses.replace(fault, remaining=left) if left else None
            return fault

    def take_fault(self) -> Fault | None:
        """The fault this API request must suffer, if any (server errors first, then 429, then malformed)."""
        with self._lock:
            faults = self._faults
            if faults.fail_next:
                faults.fail_next -= 1
                code = _SERVER_ERROR_CODES.get(faults.fail_status, 5000)
                return Fault("server_error", ApiError(faults.fail_status, code, "internal error (simulated)"))
            if faults.rate_limit_next:
                faults.rate_limit_next -= 1
                headers = {} if faults.retry_after is None else {"Retry-After": f"{faults.retry_after:g}"}
                return Fault(
                    "rate_limit", ApiError(429, 1303, "parallel task over resource pack limit", headers)
                )
            if faults.malformed_next:
                faults.malformed_next -= 1
                return Fault("malformed")
            return None

    # tasks
    def create_task(self, owner: str, request: ImageGenerationRequest, now: float | None = None) -> SimTask:
        """Register a task, or raise :class:`ApiError` for a duplicate external id or no free slots."""
        now = time.time() if now is None else now
        with self._lock:
            external = request.external_task_id
            if (
                external is not None
                and not self._settings.ignore_external_task_id
                and (owner, external) in self._by_external
            ):
                raise ApiError(400, 1201, f"external_task_id {external!r} already exists")
            in_use = sum(
                t.request.n for t in self._tasks.values() if t.owner == owner and t.holds_slots_at(now)
            )
            if in_use + request.n > self._settings.slots:
                raise ApiError(429, 1303, SLOTS_EXHAUSTED)
            settings = self._settings
            if settings.ignore_external_task_id and external is not None:
                request = request.model_copy(update={"external_task_id": None})
                external = None
            failure = None
            if settings.fail_marker and settings.fail_marker in request.prompt:
                failure = CONTENT_POLICY_MESSAGE
            elif settings.error_marker and settings.error_marker in request.prompt:
                failure = GENERATION_ERROR_MESSAGE
            task = SimTask(
                task_id=self._new_task_id(),
                owner=owner,
                request=request,
                created=now,
                latency=settings.latency,
                failure=failure,
                image_index_mode=settings.image_index_mode,
            )
            self._tasks[task.task_id] = task
            if external is not None:
                self._by_external[(owner, external)] = task
            return task

    def _new_task_id(self) -> str:
        while True:
            task_id = str(10**17 + secrets.randbelow(9 * 10**17))  # 18 digits, like Kling's
            if task_id not in self._tasks:
                return task_id

    def find_task(self, owner: str, task_or_external_id: str) -> SimTask | None:
        """The caller's task by Kling task id, else by its external task id."""
        with self._lock:
            task = self._tasks.get(task_or_external_id)
            if task is not None and task.owner == owner:
                return task
            return self._by_external.get((owner, task_or_external_id))

    def get_task(self, task_id: str) -> SimTask | None:
        with self._lock:
            return self._tasks.get(task_id)

    def list_tasks(self, owner: str | None = None) -> list[SimTask]:
        """Tasks newest first, of one key or of all."""
        with self._lock:  # the dict keeps creation order
            return [t for t in reversed(self._tasks.values()) if owner is None or t.owner == owner]

    def image_available(self, task: SimTask, now: float) -> bool:
        """Whether the task's images are served now (succeeded, and not past the image TTL)."""
        with self._lock:
            ttl = self._settings.image_ttl
        if task.failure or now < task.ends_at:
            return False
        return ttl is None or now < task.ends_at + ttl

    # counters
    def count(self, owner: str, name: str) -> None:
        with self._lock:
            self._counters.setdefault(owner, Counter())[name] += 1

    def counters(self, owner: str | None = None) -> dict[str, Any]:
        """``{name: n}`` for one key, or ``{key: {name: n}}`` for every key seen."""
        with self._lock:
            if owner is not None:
                seen = self._counters.get(owner, Counter())
                return {name: seen[name] for name in COUNTER_NAMES}
            return {key: {name: seen[name] for name in COUNTER_NAMES} for key, seen in self._counters.items()}

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.clear()

    def reset(self) -> None:
        """Forget tasks, counters and faults; restore the start-up settings."""
        with self._lock:
            self._tasks.clear()
            self._by_external.clear()
            self._counters.clear()
            self._faults = Faults()
            self._settings = self.config.settings
