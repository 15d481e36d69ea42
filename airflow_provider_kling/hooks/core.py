"""The hook's sans-I/O core: every Kling call as a generator of sends and sleeps, written once.

As httpx splits ``BaseClient`` from ``Client``/``AsyncClient``, :class:`KlingCore` holds what both
modes share: the settings and credentials, building a request (URL, headers with the key or a
JWT, JSON body, query, timeouts clamped to the deadline), reading the answer, the retry loop,
the create rules (resend only what provably never reached Kling, otherwise ask by external task
id first) and polling. Each call is a generator that yields an :class:`ApiRequest` (and gets the
:class:`Answer` back, or the sender's :class:`KlingConnectionError`) or seconds to sleep;
:func:`drive` runs it with a blocking sender and :func:`adrive` with an async one. Time comes from
an injected :class:`Clock`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import quote

from airflow_provider_kling.defaults import GENERATIONS_PATH, MAX_PAGE_NUM, MAX_PAGE_SIZE
from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingConnectionError,
    KlingError,
    KlingInvalidRequestError,
    KlingNotFoundError,
    KlingRateLimitError,
    KlingRequestValidationError,
    KlingResponseError,
    create_never_reached_kling,
    create_outcome_unknown,
    is_retryable,
)
from airflow_provider_kling.hooks.auth import RENEWABLE_AUTH_CODES, JwtToken
from airflow_provider_kling.hooks.retry import RetryPolicy
from airflow_provider_kling.polling import PollPlan, time_left

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings
    from airflow_provider_kling.models import ImageGenerationRequest, ImageTask
    from airflow_provider_kling.models.requests import KlingTaskRequest

#: A create whose answer was lost and that Kling provably never received is sent again after
#: ``min(RESEND_WAIT_MAX, 2 ** resends)`` seconds, at most ``max_retries`` times.
RESEND_WAIT_MAX = 30.0

T = TypeVar("T")


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


def drive(steps: Steps[T], send: Callable[[ApiRequest], Reply], sleep: Callable[[float], None]) -> T:
    """Run ``steps`` with a blocking sender and sleep."""
    reply: Reply = None
    try:
        while True:
            step = steps.send(reply)
            if isinstance(step, ApiRequest):
                reply = send(step)
            else:
                reply = None
                sleep(step)
    except StopIteration as done:
        return done.value


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


def task_path(endpoint: str, task_id: str) -> str:
    return f"{endpoint}/{quote(task_id, safe='')}"


def _check_page(page_num: int, page_size: int) -> dict[str, int]:
    limits = (("page_num", page_num, MAX_PAGE_NUM), ("page_size", page_size, MAX_PAGE_SIZE))
    for name, value, highest in limits:
        if not 1 <= value <= highest:
            raise KlingRequestValidationError(f"{name} must be between 1 and {highest} (got {value})")
    return {"pageNum": page_num, "pageSize": page_size}


class KlingCore:
    """What the sync and async senders share: settings, auth, requests, answers, retries, creates, polls.

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
        self._external_ids_honoured: bool | None = None

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
        deadline: float | None = None,
        resend_if: Callable[[KlingError], bool] = is_retryable,
        max_wait: float | None = None,
    ) -> Steps[Any]:
        """One call and its retries (``resend_if``: which errors; waits at most ``max_wait``, a poll's
        interval): Kling's ``data``. A JWT Kling calls expired is signed anew once."""
        from airflow_provider_kling.models import parse_answer

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
                self.loaded.max_retries, deadline=deadline, clock=self.clock.monotonic, cap=max_wait
            )
            try:
                return (yield from retried(attempt, policy, f"{method} {path}", self.log, resend_if))
            except KlingAuthError as exc:
                if renewed or not self._renew_jwt_after(exc):
                    raise self._naming_the_connection(exc) from None
                renewed = True  # once: a second refusal is a real auth error

    # -- queries ----------------------------------------------------------------------------------

    def get_task_steps(
        self,
        task_id: str,
        *,
        endpoint: str = GENERATIONS_PATH,
        deadline: float | None = None,
        max_wait: float | None = None,
    ) -> Steps[ImageTask]:
        from airflow_provider_kling.models import task_from_data
        from airflow_provider_kling.models.new_style import is_new_style_path

        if is_new_style_path(endpoint):  # no query route of its own: GET /tasks
            from airflow_provider_kling.hooks.task_queries import new_style_task_steps

            return (yield from new_style_task_steps(self, task_id, deadline=deadline, max_wait=max_wait))
        path = task_path(endpoint, task_id)
        data = yield from self.call("GET", path, task_id=task_id, deadline=deadline, max_wait=max_wait)
        return task_from_data(data, f"task {task_id}", task_id)

    def find_by_external_id_steps(
        self, external_task_id: str, *, endpoint: str = GENERATIONS_PATH, deadline: float | None = None
    ) -> Steps[ImageTask | None]:
        """The task created with this ``external_task_id``, or ``None``; errors name it as such."""
        try:
            return (yield from self.get_task_steps(external_task_id, endpoint=endpoint, deadline=deadline))
        except KlingNotFoundError:
            return None
        except KlingError as exc:
            if exc.task_id == external_task_id:
                exc.task_id, exc.external_task_id = None, external_task_id
            raise

    def list_data_steps(
        self,
        page_num: int,
        page_size: int,
        *,
        endpoint: str = GENERATIONS_PATH,
        deadline: float | None = None,
        max_wait: float | None = None,
    ) -> Steps[list[dict[str, Any]]]:
        """One page of the task list, unparsed (list rounds parse only the tasks they watch)."""
        from airflow_provider_kling.models.new_style import is_new_style_path

        params = _check_page(page_num, page_size)
        if is_new_style_path(endpoint):  # the account's newest tasks of every kind: POST /tasks
            from airflow_provider_kling.models.task_query import TASKS_PATH, TaskSearch

            if page_num > 1:
                return []
            body = TaskSearch(limit=page_size).to_json()
            page = yield from self.call("POST", TASKS_PATH, body=body, deadline=deadline, max_wait=max_wait)
            items = page.get("result") if isinstance(page, dict) else None
            return [item for item in (items or ()) if isinstance(item, dict)]
        data = yield from self.call("GET", endpoint, params=params, deadline=deadline, max_wait=max_wait)
        if data is not None and not isinstance(data, list):
            raise KlingResponseError("Kling answered a task list request without a list of tasks")
        return [item if isinstance(item, dict) else {} for item in (data or [])]

    def list_steps(
        self,
        page_num: int,
        page_size: int,
        *,
        endpoint: str = GENERATIONS_PATH,
        deadline: float | None = None,
    ) -> Steps[list[ImageTask]]:
        from airflow_provider_kling.models import task_from_data

        items = yield from self.list_data_steps(page_num, page_size, endpoint=endpoint, deadline=deadline)
        return [task_from_data(item, "a listed task", None) for item in items]

    def wait_steps(
        self, task_id: str, *, poll_interval: float, timeout: float, endpoint: str = GENERATIONS_PATH
    ) -> Steps[ImageTask]:
        """Poll until the task succeeds, fails or the deadline passes (:class:`PollPlan` decides);
        a failed poll's retries never wait longer than the poll interval."""
        start = self.clock.monotonic()
        plan = PollPlan(task_id, poll_interval, deadline=start + timeout, started=start)
        while True:
            try:
                task = yield from self.get_task_steps(
                    task_id, endpoint=endpoint, deadline=plan.deadline, max_wait=poll_interval
                )
            except KlingError as exc:
                plan.failed(exc)
                self.log.warning("Polling Kling task %s failed (%s); polling again", task_id, exc)
            else:
                if plan.answered(task, self.log, self.clock.monotonic()):
                    return task
            yield plan.next_delay(self.clock.monotonic())

    # -- creates ----------------------------------------------------------------------------------

    def create_steps(
        self,
        request: ImageGenerationRequest | KlingTaskRequest | None,
        fields: Mapping[str, Any],
        *,
        retry_rate_limit: bool = True,
    ) -> Steps[ImageTask]:
        """:meth:`KlingHook.create_task <airflow_provider_kling.hooks.kling.KlingHook.create_task>`."""
        from airflow_provider_kling.hooks import external_ids
        from airflow_provider_kling.idempotency import new_external_task_id, with_external_task_id
        from airflow_provider_kling.models import ImageGenerationRequest, task_from_data

        if request is not None and fields:
            raise TypeError("pass either a request or its fields to create_task, not both")
        request = request or ImageGenerationRequest.build(**fields)
        if not request.external_task_id:
            request = with_external_task_id(request, new_external_task_id())
        external_id = request.external_task_id
        assert external_id is not None
        from airflow_provider_kling.hooks.task_queries import check_create

        endpoint = request.endpoint  # where it is queried; a model-path kind names its model in create_path
        create_path = request.create_path
        check_create(self, create_path, getattr(request, "model_name", None))
        body = request.to_json()
        resends = 0

        def resend_if(exc: KlingError) -> bool:
            if not retry_rate_limit and isinstance(exc, KlingRateLimitError):
                return False
            return create_never_reached_kling(exc)

        while True:
            try:
                data = yield from self.call("POST", create_path, body=body, resend_if=resend_if)
                task = task_from_data(data, "the new task", None)
            except KlingInvalidRequestError:
                # Kling refuses a second create with a known external id: the first one landed.
                existing = yield from self.find_by_external_id_steps(external_id, endpoint=endpoint)
                if existing is None:
                    raise
                self.log.info(
                    "Kling task %s already exists for external_task_id %s", existing.task_id, external_id
                )
                return existing
            except KlingError as exc:
                if not create_outcome_unknown(exc):
                    raise
                found = yield from external_ids.find_after_unknown_outcome(self, external_id, exc, endpoint)
                if found is not None:
                    return found
                if resends >= self.loaded.max_retries:
                    raise
                resends += 1
                self.log.warning(
                    "Kling has no task with external_task_id %s after a failed create (%s): it never "
                    "arrived; sending it again (%d of %d)",
                    external_id,
                    exc,
                    resends,
                    self.loaded.max_retries,
                )
                yield min(RESEND_WAIT_MAX, 2.0**resends)
                continue
            kind = type(request).kind
            self.log.info(
                "Created Kling %s task %s (status %s)",
                "image" if kind == "generations" else kind,
                task.task_id,
                task.task_status,
            )
            yield from external_ids.learn_support(self, task, external_id, endpoint)
            return task
