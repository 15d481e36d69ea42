"""Everything the simulator remembers: settings, tasks, accounts, counters and pending faults.

One lock guards it all: the Python handle changes it from the test thread while uvicorn serves
requests from its own thread. Every method holds the lock briefly and never does I/O.

A create is checked in this order, each answering Kling's code: the request rules (1201), the
model's permission (``denied_models``, 1103), arrears (``in_arrears``, 1101), content safety at
create (``refuse_marker``, 1301), a duplicate ``external_task_id`` in the account (1201), the
account's slots (1303), its resource packs (1102). Every API call first meets maintenance
(``maintenance``, 5001), authentication (1000-1004), then the IP allowlist (``ip_allowlist``, 1304).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import itertools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.testing.accounts import DEFAULT_PACK_UNITS, Accounts, key_fingerprint
from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.faults import Fault, Faults, ImageFault
from airflow_provider_kling.testing.rules import ImageRequest
from airflow_provider_kling.testing.store import TaskStore
from airflow_provider_kling.testing.tasks import (
    CONTENT_POLICY_MESSAGE,
    FAILED,
    GENERATION_ERROR_MESSAGE,
    IMAGE_INDEX_MODES,
    PROGRESS_MODES,
    SimTask,
)

__all__ = ["Settings", "SimulatorConfig", "SimulatorState", "key_fingerprint"]

#: ``tasks``: ``GET`` and ``POST /tasks`` (many tasks in one call); ``queries``: one task by id.
COUNTER_NAMES = (
    "requests",
    "creates",
    "queries",
    "lists",
    "tasks",
    "images",
    "videos",
    "callbacks",
    "faults",
    "costs",
    "billing",
)
#: Kling keeps tasks (and their images) 30 days.
KLING_RETENTION = 30 * 86_400.0


@dataclass(frozen=True)
class Settings:
    """What can change at run time; :meth:`SimulatorState.reset` restores the start-up values."""

    latency: float = 0.0
    #: Slots per account: an image task holds ``n`` of them until it ends.
    slots: int = 8
    fail_marker: str = "#fail"
    image_ttl: float | None = None
    delay: float = 0.0
    #: Prompts containing it end ``failed`` for a reason that is not content policy.
    error_marker: str = "#error"
    #: Prompts containing it are refused at create: 400 / 1301.
    refuse_marker: str = "#refuse"
    #: Accept ``external_task_id`` but forget it, like a reseller that ignores the field.
    ignore_external_task_id: bool = False
    #: ``normal``; ``missing``: images carry no ``index``; ``repeat``: every image says ``index: 0``.
    image_index_mode: str = "normal"
    #: How new tasks move: ``timed`` (``latency``), ``immediate`` or ``manual``.
    progress: str = "timed"
    #: Models the account may not use: 403 / 1103.
    denied_models: tuple[str, ...] = ()
    #: Creates answer 429 / 1101 (account in arrears).
    in_arrears: bool = False
    #: Every API call answers 503 / 5001.
    maintenance: bool = False
    #: Client addresses allowed (None: any); others answer 429 / 1304.
    ip_allowlist: tuple[str, ...] | None = None
    #: Seconds an ended task is kept (then queries answer 404 / 1203).
    retention: float = KLING_RETENTION
    #: Serve ``GET``/``POST /tasks`` (many tasks in one query); off: they answer 404 like a host without them.
    tasks_query: bool = True
    #: The billing export bills this many times the units a task's record shows (``testing.billing``).
    charge_factor: float = 1.0

    def __post_init__(self) -> None:
        for name in ("denied_models", "ip_allowlist"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        for name, allowed in (("image_index_mode", IMAGE_INDEX_MODES), ("progress", PROGRESS_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {getattr(self, name)!r})")
        for name in ("latency", "delay", "image_ttl", "retention", "charge_factor"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 (got {value!r})")
        if self.slots < 0:
            raise ValueError(f"slots must be >= 0 (got {self.slots!r})")


@dataclass(frozen=True)
class SimulatorConfig:
    """Start-up configuration: the keys the simulator accepts, their accounts, and the initial settings."""

    api_key: str = field(default="test-key", repr=False)
    extra_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Kling access key -> secret key, for ``Bearer <HS256 JWT>`` authentication.
    jwt_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    #: Key (API key or JWT access key) -> account name; a key not listed is an account of its own.
    accounts: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Units in the resource pack each account starts with.
    pack_units: float = DEFAULT_PACK_UNITS
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
        accounts: Mapping[str, str] | None = None,
        pack_units: float = DEFAULT_PACK_UNITS,
        **settings: Any,
    ) -> SimulatorConfig:
        """Keys, accounts and secrets by name; every other keyword is a :class:`Settings` field."""
        return cls(
            api_key=api_key,
            extra_keys=tuple(extra_keys),
            jwt_keys=dict(jwt_keys or {}),
            webhook_secret=webhook_secret,
            accounts=dict(accounts or {}),
            pack_units=pack_units,
            settings=Settings(**settings),
        )

    @property
    def api_keys(self) -> frozenset[str]:
        return frozenset((self.api_key, *self.extra_keys)) - {""}


class SimulatorState:
    """Tasks, accounts, slot accounting, counters and faults, behind one lock."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._lock = threading.Lock()
        self._settings = self.config.settings
        self._faults = Faults()
        self._store = TaskStore()
        self._accounts = Accounts(self.config.accounts, self.config.pack_units)
        self._counters: dict[str, Counter[str]] = {}
        self._listeners: list[Callable[[SimTask], None]] = []
        self._reset_listeners: list[Callable[[], None]] = []

    # settings and faults
    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    def update_settings(self, **changes: Any) -> Settings:
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **changes)
            return self._settings

    def add_faults(self, **faults: Any) -> Faults:
        """``fail_next``, ``status``, ``rate_limit_next``, ``retry_after``, ``malformed_next``."""
        with self._lock:
            self._faults.add(**faults)
            return dataclasses.replace(self._faults)

    def error_next(self, code: int, k: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            self._faults.add_errors(code, k, retry_after)

    def lose_create_answers(self, k: int, mode: str, hold_seconds: float) -> None:
        with self._lock:
            self._faults.lose_creates(k, mode, hold_seconds)

    def garble_create_answers(self, k: int) -> None:
        with self._lock:
            self._faults.garble_creates(k)

    def set_image_fault(self, fault: ImageFault | None) -> None:
        with self._lock:
            self._faults.image_fault = fault

    def faults(self) -> Faults:
        with self._lock:
            return dataclasses.replace(self._faults)

    def take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.take()

    def take_create_answer_fault(self) -> tuple[str, float]:
        with self._lock:
            return self._faults.take_create_answer()

    def take_image_fault(self) -> ImageFault | None:
        with self._lock:
            return self._faults.take_image()

    # accounts
    def account_of(self, key: str) -> str:
        with self._lock:
            return self._accounts.account_of(key)

    def set_resource_packs(self, account: str, packs: list[Mapping[str, Any]]) -> None:
        with self._lock:
            self._accounts.set_packs(account, packs, time.time())

    def costs(self, key: str, start: float, end: float, name: str | None) -> list[dict[str, Any]]:
        with self._lock:
            account = self._accounts.account_of(key)
            return self._accounts.costs(account, start, end, name, time.time())

    def resource_packs(self, account: str) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            return [pack.render(now) for pack in self._accounts.packs(account, now)]

    # tasks
    def create_task(self, owner: str, request: ImageRequest, now: float | None = None) -> SimTask:
        """Register a task, or raise :class:`ApiError` (see the module docstring for the order)."""
        now = time.time() if now is None else now
        with self._lock:
            settings = self._settings
            account = self._accounts.account_of(owner)
            self._evict(now)
            if request.model_name in settings.denied_models:
                raise ApiError.of(1103, f"no permission for model {request.model_name}")
            if settings.in_arrears:
                raise ApiError.of(1101)
            if settings.refuse_marker and settings.refuse_marker in request.prompt:
                raise ApiError.of(1301)
            if settings.ignore_external_task_id and request.external_task_id is not None:
                request = request.without_external_task_id()
            external = request.external_task_id
            if external is not None and self._store.has_external(account, external):
                raise ApiError.of(1201, f"external_task_id {external!r} already exists")
            if self._store.slots_in_use(account, now) + request.n > settings.slots:
                raise ApiError.of(1303)
            failure = None
            if settings.fail_marker and settings.fail_marker in request.prompt:
                failure = CONTENT_POLICY_MESSAGE
            elif settings.error_marker and settings.error_marker in request.prompt:
                failure = GENERATION_ERROR_MESSAGE
            if failure is None and not self._accounts.charge(
                account, request.units, now, request.product_type
            ):
                raise ApiError.of(1102)
            task = SimTask(
                task_id=self._new_task_id(),
                owner=owner,
                account=account,
                request=request,
                created=now,
                latency=settings.latency,
                failure=failure,
                image_index_mode=settings.image_index_mode,
                progress=settings.progress,
            )
            self._store.add(task)
            return task

    def seed_tasks(self, owner: str, count: int, now: float | None = None) -> int:
        """Add ``count`` finished image tasks to the key's account at once, outside the rules, slots
        and packs: an account's history from other pipelines (for tests and benchmarks)."""
        if count < 0:
            raise ValueError(f"count must be >= 0 (got {count!r})")
        now = time.time() if now is None else now
        with self._lock:
            account = self._accounts.account_of(owner)
            for number in range(count):
                request = ImageRequest(
                    model_name="kling-v3", prompt=f"seeded task {number}", n=1, body={}, units_each=0.0
                )
                self._store.add(
                    SimTask(
                        task_id=self._new_task_id(),
                        owner=owner,
                        account=account,
                        request=request,
                        created=now,
                        latency=0.0,
                        progress="immediate",
                    )
                )
        return count

    def _evict(self, now: float) -> None:
        self._store.evict_ended_before(now - self._settings.retention)

    def _new_task_id(self) -> str:
        while True:
            task_id = str(10**17 + secrets.randbelow(9 * 10**17))  # 18 digits, like Kling's
            if task_id not in self._store.by_id:
                return task_id

    def find_task(self, owner: str, task_or_external_id: str) -> SimTask | None:
        """A task of the caller's account, by Kling task id, else by its external task id."""
        with self._lock:
            self._evict(time.time())
            return self._store.find(self._accounts.account_of(owner), task_or_external_id)

    def get_task(self, task_id: str) -> SimTask | None:
        with self._lock:
            return self._store.by_id.get(task_id)

    def list_tasks(
        self, owner: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[SimTask]:
        """Tasks newest first: of one key (the key or its fingerprint), or of all."""
        with self._lock:
            if owner is None:
                tasks = self._store.newest_first()
            else:
                keys = [k for k in self._store.owners() if owner in (k, key_fingerprint(k))]
                tasks = self._store.newest_first(owners=keys)
            return _page(tasks, limit, offset)

    def list_account_tasks(
        self, owner: str, limit: int, offset: int, endpoint: str = "generations"
    ) -> list[SimTask]:
        """One page of the caller's account's tasks of one endpoint, newest first (the list route)."""
        with self._lock:
            self._evict(time.time())
            tasks = self._store.newest_first(account=self._accounts.account_of(owner))
            return _page((task for task in tasks if task.request.endpoint == endpoint), limit, offset)

    def tasks_by_ids(self, owner: str, ids: list[str], *, external: bool = False) -> list[SimTask]:
        """The caller's account's tasks among ``ids`` (Kling task ids, or external task ids), in the
        order asked; unknown ids are left out."""
        with self._lock:
            self._evict(time.time())
            account = self._accounts.account_of(owner)
            found = []
            for task_id in ids:
                task = self._store.find(account, task_id)
                if task is None or (task.task_id == task_id) == external:
                    continue
                found.append(task)
            return found

    def account_tasks(self, owner: str) -> list[SimTask]:
        """Every task of the caller's account, newest first (``POST /tasks`` filters and pages them)."""
        with self._lock:
            self._evict(time.time())
            return list(self._store.newest_first(account=self._accounts.account_of(owner)))

    def stored_tasks(self) -> int:
        with self._lock:
            return len(self._store)

    def image_available(self, task: SimTask, now: float) -> bool:
        """Whether the task's images are served now (succeeded, and not past the image TTL)."""
        with self._lock:
            ttl = self._settings.image_ttl
            ends = task.ends_at
            if not task.succeeded_by(now) or ends is None:
                return False
        return ttl is None or now < ends + ttl

    # progress
    def on_timeline_change(self, listener: Callable[[SimTask], None]) -> None:
        """Call ``listener(task)`` (from any thread) whenever a task is advanced or re-planned."""
        with self._lock:
            self._listeners.append(listener)

    def advance(self, task_id: str | None = None, to: str | None = None) -> list[SimTask]:
        """Move one task (or every task not ended) on to its next status, or to ``to``."""
        now = time.time()
        with self._lock:
            tasks = self._pick(task_id, now)
            for task in tasks:
                was_failed = task.failure is not None
                task.advance(now, to)
                self._settle(task, was_failed, now)
                self._store.timeline_changed(task)
            listeners = list(self._listeners)
        for task in tasks:
            for listener in listeners:
                listener(task)
        return tasks

    def set_progress(self, progress: str, task_id: str | None = None) -> None:
        """How new tasks move (``task_id=None``), or how one task moves from now on."""
        if progress not in PROGRESS_MODES:
            raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)} (got {progress!r})")
        if task_id is None:
            self.update_settings(progress=progress)
            return
        now = time.time()
        with self._lock:
            (task,) = self._pick(task_id, now)
            task.set_progress(progress, now)
            self._store.timeline_changed(task)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(task)

    def _pick(self, task_id: str | None, now: float) -> list[SimTask]:
        if task_id is None:
            return [t for t in self._store.by_id.values() if t.holds_slots_at(now)]
        task = self._store.by_id.get(task_id)
        if task is None:
            raise KeyError(f"no task {task_id!r}")
        return [task]

    def _settle(self, task: SimTask, was_failed: bool, now: float) -> None:
        """Units follow a manual outcome: a failure gives them back, a forced success takes them."""
        failed_now = task.phases[-1][0] == FAILED
        if failed_now and not was_failed:
            self._accounts.refund(task.account, task.request.units, now, task.request.product_type)
        elif not failed_now and was_failed and task.ends_at is not None:
            self._accounts.charge(task.account, task.request.units, now, task.request.product_type)

    # counters
    def count(self, owner: str, name: str) -> None:
        with self._lock:
            self._counters.setdefault(owner, Counter())[name] += 1

    def counters(self, owner: str | None = None) -> dict[str, Any]:
        """``{name: n}`` for one key (the key or its fingerprint), or ``{fingerprint: {name: n}}`` for all."""
        with self._lock:
            if owner is not None:
                seen = self._counters.get(owner) or next(
                    (c for key, c in self._counters.items() if key_fingerprint(key) == owner), Counter()
                )
                return {name: seen[name] for name in COUNTER_NAMES}
            return {
                key_fingerprint(key): {name: seen[name] for name in COUNTER_NAMES}
                for key, seen in self._counters.items()
            }

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.clear()

    def on_reset(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every :meth:`reset` (the callback sender forgets its controls)."""
        with self._lock:
            self._reset_listeners.append(listener)

    def reset(self) -> None:
        """Forget tasks, counters, resource pack use and faults; restore the start-up settings."""
        with self._lock:
            self._store.clear()
            self._accounts.clear()
            self._counters.clear()
            self._faults = Faults()
            self._settings = self.config.settings
            listeners = list(self._reset_listeners)
        for listener in listeners:
            listener()


def _page(tasks: Iterator[SimTask], limit: int | None, offset: int) -> list[SimTask]:
    stop = None if limit is None else offset + limit
    return list(itertools.islice(tasks, offset, stop))
