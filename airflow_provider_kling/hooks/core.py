"""The hook's sans-I/O core: every Kling call as a generator of sends and sleeps, written once.

As httpx splits ``BaseClient`` from ``Client``/``AsyncClient``, :class:`KlingCore` holds what both
modes share: settings and credentials, building a request (URL, key or JWT, body, query, timeouts
clamped to the deadline), reading the answer, and the retry loop. A call yields an
:class:`ApiRequest` (and gets the :class:`Answer` or the sender's :class:`KlingConnectionError`
back) or seconds to sleep; :func:`adrive` runs it with an async sender, :func:`drive` (the same
driver, run blocking) with a blocking one. The task calls: :mod:`.wire`, :mod:`.task_queries`, :mod:`.create`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, TypeVar, Unpack

from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingConnectionError,
    KlingError,
    is_retryable,
    parse_answer,
)
from airflow_provider_kling.hooks.auth import RENEWABLE_AUTH_CODES, JwtToken
from airflow_provider_kling.hooks.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings

T = TypeVar("T")


class Limits(TypedDict, total=False):
    """How long a call may take: its retries and timeouts end by ``deadline`` (the clock's
    ``monotonic()``), and no retry waits longer than ``max_wait`` (a poll passes its interval)."""

    deadline: float | None
    max_wait: float | None


#: A request timeout clamped to a deadline is never shorter than this.
MIN_REQUEST_SECONDS = 1.0


def time_left(deadline: float | None, now: float, ceiling: float) -> float:
    """A request timeout: ``ceiling`` clamped to the time left, but at least :data:`MIN_REQUEST_SECONDS`."""
    if deadline is None:
        return ceiling
    return min(ceiling, max(MIN_REQUEST_SECONDS, deadline - now))


class Clock:
    """Where the hook (and the batch loop) read time and wait; tests pass a fake one. ``monotonic()``
    for deadlines and intervals, ``time()`` (Unix seconds) for serialized deadlines and batch items."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request to Kling, ready for either sender; ``repr`` hides the headers (the key)."""

    method: str
    base_url: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    connect_timeout: float  # the connection's timeouts (clamped to the call's deadline)
    read_timeout: float
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    #: With a deadline: the whole request (connect, send, read) ends within this many seconds.
    total_timeout: float | None = None

    @property
    def url(self) -> str:
        return self.base_url + self.path


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]
    content: bytes


#: What a step gets back: the answer, the sender's failure, or nothing (after a sleep).
Reply = Answer | KlingConnectionError | None
#: A call as a generator: yields a request or seconds to sleep; returns the call's result.
Steps = Generator[ApiRequest | float, Reply, T]


async def adrive(
    steps: Steps[T],
    send: Callable[[ApiRequest], Awaitable[Reply]],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Run ``steps`` with an async sender and sleep."""
    reply: Reply = None
    try:
        while True:
            step = steps.send(reply)
            if isinstance(step, ApiRequest):
                reply = await send(step)
            else:
                reply = None
                await sleep(step)
    except StopIteration as done:
        return done.value


def as_async(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``function`` (a blocking call) as a coroutine function, for :func:`run_blocking`."""

    async def call(*args: Any) -> T:
        return function(*args)

    return call


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose awaits are all :func:`as_async` calls: each async driver is also the
    blocking one (it never suspends, so no event loop is needed)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a blocking run awaited something that suspends")


def drive(steps: Steps[T], send: Callable[[ApiRequest], Reply], sleep: Callable[[float], None]) -> T:
    """Run ``steps`` with a blocking sender and sleep (:func:`adrive`, run blocking)."""
    return run_blocking(adrive(steps, as_async(send), as_async(sleep)))


def blocking(function: Callable[[], T]) -> Steps[T]:
    """A step that does its own (blocking) I/O, such as a streamed download: for :func:`drive` only."""
    return function()
    yield  # a generator, so that :func:`retried` can run it


def retried(
    attempt: Callable[[], Steps[T]],
    policy: RetryPolicy,
    what: str,
    log: Any,
    retry_if: Callable[[KlingError], bool] = is_retryable,
) -> Steps[T]:
    """``attempt`` again after each :class:`KlingError` that ``retry_if`` accepts, as ``policy`` allows."""
    retries = 0
    while True:
        try:
            return (yield from attempt())
        except KlingError as exc:
            retries += 1
            wait = policy.wait(retries, exc)
            if not retry_if(exc) or policy.stop(retries, wait):
                raise
            log.warning(
                "Kling %s failed (%s); retry %d of %d in %.1fs", what, exc, retries, policy.max_retries, wait
            )
        yield wait


class KlingCore:
    """What the sync and async senders share: settings, auth, requests, answers and retries.

    The settings are loaded by the sender (:class:`~airflow_provider_kling.hooks.kling.KlingHook`,
    sync or async) before a call's steps run; the steps read them from :attr:`loaded`.
    """

    if TYPE_CHECKING:
        log: Any

    def __init__(
        self, kling_conn_id: str, *, max_retries: int | None = None, clock: Clock | None = None
    ) -> None:
        self.kling_conn_id = kling_conn_id
        self.clock = clock or Clock()
        self._max_retries_override = max_retries
        self._settings: KlingConnectionSettings | None = None
        self._jwt: JwtToken | None = None
        #: What this hook found out about its host (``external_ids``, ``task_queries``).
        self._external_ids_honoured: bool | None = None
        self._tasks_support: Any = None  # a task_queries.TasksQuerySupport (that module builds on this one)

    # -- settings and auth ------------------------------------------------------------------

    def _use_settings(self, settings: KlingConnectionSettings) -> KlingConnectionSettings:
        if self._max_retries_override is not None:
            settings = replace(settings, max_retries=self._max_retries_override)
        if settings.access_key and settings.secret_key:
            self._jwt = JwtToken(settings.access_key, settings.secret_key)
        self._settings = settings
        return settings

    @property
    def loaded(self) -> KlingConnectionSettings:
        """The settings a sender loaded before running a call's steps."""
        if self._settings is None:
            raise RuntimeError("the connection settings are read by the sender before a call runs")
        return self._settings

    def _renew_jwt_after(self, exc: KlingAuthError) -> bool:
        """1003/1004 (token not yet valid, or expired after clock skew or a long sleep): sign anew."""
        if self._jwt is None or exc.code not in RENEWABLE_AUTH_CODES:
            return False
        self._jwt.invalidate()
        return True

    def _naming_the_connection(self, exc: KlingAuthError) -> KlingAuthError:
        """Kling's refusal of the credentials, plus which Airflow connection holds them."""
        if exc.http_status is not None and self.kling_conn_id not in exc.message:
            exc.message = (
                f"{exc.message}. Check the credentials of Airflow connection '{self.kling_conn_id}' "
                "(password = API key, or login = access key with password = secret key)"
            )
            exc.args = (exc.message,)
        return exc

    # -- one call -------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        task_id: str | None = None,
        resend_if: Callable[[KlingError], bool] = is_retryable,
        **limits: Unpack[Limits],
    ) -> Steps[Any]:
        """One call and its retries (``resend_if``: which errors): Kling's ``data``. A JWT Kling calls
        expired is signed anew once."""
        deadline = limits.get("deadline")

        def attempt() -> Steps[Any]:
            # Built at each attempt: the JWT is signed and the timeouts clamped to the time left now.
            settings, now = self.loaded, self.clock.monotonic()
            token = self._jwt.get() if self._jwt else settings.api_key
            read = time_left(deadline, now, settings.read_timeout)
            answer = yield ApiRequest(
                method,
                settings.base_url,
                path,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                json=body,
                params=params,
                connect_timeout=time_left(deadline, now, settings.connect_timeout),
                read_timeout=read,
                total_timeout=read if deadline is not None else None,
            )
            if isinstance(answer, KlingError):
                raise answer
            assert answer is not None
            return parse_answer(answer.status, answer.headers, answer.content, task_id)

        renewed = False
        while True:
            policy = RetryPolicy(
                self.loaded.max_retries,
                deadline=deadline,
                clock=self.clock.monotonic,
                cap=limits.get("max_wait"),
            )
            try:
                return (yield from retried(attempt, policy, f"{method} {path}", self.log, resend_if))
            except KlingAuthError as exc:
                if renewed or not self._renew_jwt_after(exc):
                    raise self._naming_the_connection(exc) from None
                renewed = True  # once: a second refusal is a real auth error
