"""KlingHook: credentials from an Airflow connection, and every HTTP call to Kling.

Sync calls go through one ``requests.Session``; async calls (for the trigger) through an
``httpx.AsyncClient``. Both hand status, headers and body to the same parsing and error
mapping (:mod:`airflow_provider_kling.errors`) and retry under the same policy.
Heavy imports (requests, httpx, PyJWT, tenacity, pydantic models) wait until first use so
that DAG files importing this module stay cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from airflow.sdk import BaseHook

from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingConnectError,
    KlingConnectionError,
    KlingError,
    KlingInvalidRequestError,
    KlingNotFoundError,
    KlingRateLimitError,
    KlingRequestValidationError,
    KlingResponseError,
    create_never_reached_kling,
    create_outcome_unknown,
)
from airflow_provider_kling.hooks.account import AccountCostsMixin
from airflow_provider_kling.hooks.auth import RENEWABLE_AUTH_CODES, JwtToken
from airflow_provider_kling.hooks.connection import KlingConnectionSettings, mask_secrets
from airflow_provider_kling.hooks.external_ids import ExternalIdSupportMixin, never_connected
from airflow_provider_kling.hooks.retry import retrying_kwargs
from airflow_provider_kling.polling import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    PollPlan,
    status_words,
    time_left,
)

if TYPE_CHECKING:
    import httpx
    import requests

    from airflow_provider_kling.hooks.download import ImageDownload
    from airflow_provider_kling.models import ImageGenerationRequest, ImageTask
    from airflow_provider_kling.models.requests import KlingTaskRequest

__all__ = ["GENERATIONS_PATH", "KlingConnectionSettings", "KlingHook"]

#: Image generation's path, the default ``endpoint`` of every task call. The other endpoints'
#: paths are their request models' ``path`` (``airflow_provider_kling.models.requests``).
GENERATIONS_PATH = "/v1/images/generations"


def _task_path(endpoint: str, task_id: str) -> str:
    return f"{endpoint}/{quote(task_id, safe='')}"


# Seams: how the hook waits (between retries and between polls) and reads the clock. Tests
# replace them to record waits instead of sleeping; they are looked up at each call.
_sleep: Callable[[float], None] = time.sleep
_monotonic: Callable[[], float] = time.monotonic


def _clock() -> float:
    """The hook's clock for deadlines: ``_monotonic``, looked up at each call (tests replace it)."""
    return _monotonic()


async def _asleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


class KlingHook(AccountCostsMixin, ExternalIdSupportMixin, BaseHook):
    """
    Talk to Kling's image API: image generation and its neighbouring endpoints (omni-image,
    multi-image2image, expand, virtual try-on), which share one task lifecycle. Task calls take
    the endpoint's path as ``endpoint`` (default image generation); a create takes it from its
    request model. It also reads the account's resource packs (:meth:`get_account_costs`, from
    :class:`~airflow_provider_kling.hooks.account.AccountCostsMixin`).

    :param kling_conn_id: The ``kling`` connection: host = base URL (default the reseller's),
        password = API key, or login = access key with password = secret key.
    :param max_retries: Retries for errors a retry can fix (429 codes 1302/1303, 5xx, network);
        overrides the connection's ``max_retries`` extra.
    """

    conn_name_attr = "kling_conn_id"
    default_conn_name = "kling_default"
    conn_type = "kling"
    hook_name = "Kling"

    def __init__(self, kling_conn_id: str = default_conn_name, *, max_retries: int | None = None) -> None:
        super().__init__()
        self.kling_conn_id = kling_conn_id
        self._max_retries_override = max_retries
        self._settings: KlingConnectionSettings | None = None
        self._jwt: JwtToken | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._external_ids_honoured: bool | None = None

    def __repr__(self) -> str:
        return f"KlingHook(kling_conn_id={self.kling_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow < 3.2 (newer versions read provider info), in its key names."""
        from airflow_provider_kling.get_provider_info import get_provider_info

        behaviour = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
        return {key.replace("-", "_"): value for key, value in behaviour.items()}

    # -- settings and auth ------------------------------------------------------------------

    def _use_settings(self, settings: KlingConnectionSettings) -> KlingConnectionSettings:
        if self._max_retries_override is not None:
            from dataclasses import replace

            settings = replace(settings, max_retries=self._max_retries_override)
        if settings.access_key and settings.secret_key:
            self._jwt = JwtToken(settings.access_key, settings.secret_key)
        self._settings = settings
        return settings

    @property
    def settings(self) -> KlingConnectionSettings:
        """The connection, read once (sync path) and kept; the key is registered with the masker."""
        if self._settings is None:
            conn = self.get_connection(self.kling_conn_id)
            settings = KlingConnectionSettings.from_connection(conn, conn.extra_dejson)
            mask_secrets(settings.api_key, settings.secret_key)
            self._use_settings(settings)
        assert self._settings is not None
        return self._settings

    async def aget_settings(self) -> KlingConnectionSettings:
        """The connection read with Airflow's async-safe accessors (for the triggerer), briefly cached."""
        if self._settings is None:
            from airflow_provider_kling.hooks.async_client import cached_settings

            async def read_connection() -> KlingConnectionSettings:
                from airflow.providers.common.compat.connection import (
                    get_async_connection,
                    get_async_extra_dejson,
                )

                conn = await get_async_connection(self.kling_conn_id, self)
                extras = await get_async_extra_dejson(conn)
                settings = KlingConnectionSettings.from_connection(conn, extras)
                mask_secrets(settings.api_key, settings.secret_key)
                return settings

            # Cached per connection id for a short time: a triggerer's many triggers read it once.
            self._use_settings(await cached_settings(self.kling_conn_id, read_connection))
        assert self._settings is not None
        return self._settings

    def _headers(self, settings: KlingConnectionSettings) -> dict[str, str]:
        token = self._jwt.get() if self._jwt else settings.api_key
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _renew_jwt_after(self, exc: KlingAuthError) -> bool:
        """1003/1004 (token not yet valid, or expired after clock skew or a long sleep): sign anew."""
        if self._jwt is None or exc.code not in RENEWABLE_AUTH_CODES:
            return False
        self._jwt.invalidate()
        return True

    def _with_jwt_renewal(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except KlingAuthError as exc:
            if not self._renew_jwt_after(exc):
                raise
            return call()  # once: a second refusal is a real auth error

    def _retrying_kwargs(
        self, settings: KlingConnectionSettings, what: str, deadline: float | None = None
    ) -> dict[str, Any]:
        return retrying_kwargs(settings.max_retries, what, self.log, deadline=deadline, clock=_clock)

    # -- sync transport -----------------------------------------------------------------------

    @cached_property
    def session(self) -> requests.Session:
        """One session for every call of this hook (connection pooling, proxies)."""
        from airflow_provider_kling.hooks.transport import build_session

        return build_session(self.settings)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        task_id: str | None = None,
        resend_if: Callable[[BaseException], bool] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """
        One API call, resent by the retry policy; ``resend_if`` narrows what is resent (creates).

        A failure to connect is a :class:`KlingConnectError` (nothing was sent); a failure after
        the request went out (read timeout, connection reset) a plain :class:`KlingConnectionError`.
        """
        import requests
        import tenacity

        from airflow_provider_kling.models import parse_answer

        settings = self.settings
        url = settings.base_url + path

        def send_once() -> Any:
            try:
                response = self.session.request(
                    method,
                    url,
                    json=body,
                    params=params,
                    headers=self._headers(settings),
                    timeout=(
                        time_left(deadline, _monotonic(), settings.connect_timeout),
                        time_left(deadline, _monotonic(), settings.read_timeout),
                    ),
                )
            except requests.RequestException as exc:
                if never_connected(exc):
                    raise KlingConnectError(
                        f"Could not connect to Kling at {settings.base_url} (nothing was sent): "
                        f"{type(exc).__name__}"
                    ) from None
                raise KlingConnectionError(
                    f"Lost the answer from Kling at {settings.base_url} after sending {method} {path}: "
                    f"{type(exc).__name__}"
                ) from None
            return parse_answer(response.status_code, response.headers, response.content, task_id)

        def send() -> Any:
            policy = self._retrying_kwargs(settings, f"{method} {path}", deadline)
            if resend_if is not None:
                policy["retry"] = tenacity.retry_if_exception(resend_if)
            return tenacity.Retrying(sleep=_sleep, **policy)(send_once)

        try:
            return self._with_jwt_renewal(send)
        except KlingAuthError as exc:
            raise self._naming_the_connection(exc) from None

    def _naming_the_connection(self, exc: KlingAuthError) -> KlingAuthError:
        """Kling's refusal of the credentials, plus which Airflow connection holds them."""
        if exc.http_status is None or self.kling_conn_id in exc.message:
            return exc
        hint = (
            f"{exc.message}. Check the credentials of Airflow connection '{self.kling_conn_id}' "
            "(password = API key, or login = access key with password = secret key)"
        )
        return KlingAuthError(
            hint,
            http_status=exc.http_status,
            code=exc.code,
            request_id=exc.request_id,
            task_id=exc.task_id,
            external_task_id=exc.external_task_id,
        )

    # -- API ----------------------------------------------------------------------------------

    def create_image_task(
        self,
        request: ImageGenerationRequest | KlingTaskRequest | None = None,
        *,
        retry_rate_limit: bool = True,
        **fields: Any,
    ) -> ImageTask:
        """
        Create an image task from a validated request of any kind (or an image-generation
        request's fields) at the request's endpoint; return the new task.

        Pays at most once: every create carries an ``external_task_id`` (a fresh one when the
        request has none). It is resent only when it provably never reached Kling (no connection,
        429 with 1302/1303, maintenance 5001); after any other failure (read timeout, a broken
        connection, 5xx, an unreadable answer) Kling is first asked for the task by that id, and
        the task is returned when found. At a host that ignores external ids such a create is
        never resent: :class:`KlingCreateOutcomeUnknownError` says how to go on.
        ``retry_rate_limit=False`` raises a 429 (1302/1303) at once instead of backing off: for a
        caller that schedules its own creates by slots (the batch operator).
        """
        from airflow_provider_kling.idempotency import new_external_task_id, with_external_task_id
        from airflow_provider_kling.models import ImageGenerationRequest, task_from_data

        if request is not None and fields:
            raise TypeError("pass either a request or its fields to create_image_task, not both")
        request = request or ImageGenerationRequest.build(**fields)
        if not request.external_task_id:
            request = with_external_task_id(request, new_external_task_id())
        external_id = request.external_task_id
        assert external_id is not None
        endpoint = type(request).path
        body = request.to_json()
        resends = 0

        def resend_if(exc: BaseException) -> bool:
            if not retry_rate_limit and isinstance(exc, KlingRateLimitError):
                return False
            return create_never_reached_kling(exc)

        while True:
            try:
                data = self._request("POST", endpoint, body=body, resend_if=resend_if)
                task = task_from_data(data, "the new task", None)
            except KlingInvalidRequestError:
                # Kling refuses a second create with a known external id: the first one landed.
                if existing := self.find_image_task_by_external_id(external_id, endpoint=endpoint):
                    self.log.info(
                        "Kling task %s already exists for external_task_id %s", existing.task_id, external_id
                    )
                    return existing
                raise
            except KlingError as exc:
                if not create_outcome_unknown(exc):
                    raise
                existing = self._find_after_unknown_outcome(external_id, exc, endpoint=endpoint)
                if existing is not None:
                    return existing
                if resends >= self.settings.max_retries:
                    raise
                resends += 1
                self.log.warning(
                    "Kling has no task with external_task_id %s after a failed create (%s): it never "
                    "arrived; sending it again (%d of %d)",
                    external_id,
                    exc,
                    resends,
                    self.settings.max_retries,
                )
                _sleep(min(30.0, 2.0**resends))
                continue
            kind = type(request).kind
            self.log.info(
                "Created Kling %s task %s (status %s)",
                "image" if kind == "generations" else kind,
                task.task_id,
                task.task_status,
            )
            self._learn_external_id_support(task, external_id, endpoint=endpoint)
            return task

    # -- queries ------------------------------------------------------------------------------

    def get_image_task(self, task_id: str, *, endpoint: str = GENERATIONS_PATH) -> ImageTask:
        """Query one task of ``endpoint`` by Kling task id or by the caller's ``external_task_id``."""
        from airflow_provider_kling.models import task_from_data

        data = self._request("GET", _task_path(endpoint, task_id), task_id=task_id)
        return task_from_data(data, f"task {task_id}", task_id)

    def find_image_task(self, task_id: str, *, endpoint: str = GENERATIONS_PATH) -> ImageTask | None:
        """Like :meth:`get_image_task`, but ``None`` when Kling knows no such task."""
        try:
            return self.get_image_task(task_id, endpoint=endpoint)
        except KlingNotFoundError:
            return None

    def find_image_task_by_external_id(
        self, external_task_id: str, *, endpoint: str = GENERATIONS_PATH
    ) -> ImageTask | None:
        """The task created with this ``external_task_id``, or ``None``; errors name it as such."""
        try:
            return self.find_image_task(external_task_id, endpoint=endpoint)
        except KlingError as exc:
            if exc.task_id == external_task_id:
                exc.task_id, exc.external_task_id = None, external_task_id
            raise

    def list_image_tasks(
        self, page_num: int = 1, page_size: int = 30, *, endpoint: str = GENERATIONS_PATH
    ) -> list[ImageTask]:
        """One page of the account's tasks of ``endpoint``, newest first as Kling orders them."""
        from airflow_provider_kling.models import task_from_data

        for name, value, highest in (("page_num", page_num, 1000), ("page_size", page_size, 500)):
            if not 1 <= value <= highest:
                raise KlingRequestValidationError(f"{name} must be between 1 and {highest} (got {value})")
        data = self._request("GET", endpoint, params={"pageNum": page_num, "pageSize": page_size})
        if data is not None and not isinstance(data, list):
            raise KlingResponseError("Kling answered a task list request without a list of tasks")
        return [task_from_data(item, "a listed task", None) for item in (data or [])]

    def wait_for_image_task(
        self,
        task_id: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        endpoint: str = GENERATIONS_PATH,
    ) -> ImageTask:
        """
        Poll until the task succeeds (returned), fails (:class:`KlingTaskFailedError`) or the
        deadline passes (:class:`KlingTaskTimeoutError`). Retries, their waits and each request's
        timeout end by the deadline; the poll step and the error budget come from
        :class:`~airflow_provider_kling.polling.PollPlan`, as in the trigger.
        """
        from airflow_provider_kling.models import task_from_data

        start = _monotonic()
        plan = PollPlan(task_id, poll_interval, deadline=start + timeout, started=start)
        path = _task_path(endpoint, task_id)
        while True:
            try:
                data = self._request("GET", path, task_id=task_id, deadline=plan.deadline)
                task = task_from_data(data, f"task {task_id}", task_id)
            except KlingError as exc:
                plan.failed(exc)
                self.log.warning("Polling Kling task %s failed (%s); polling again", task_id, exc)
            else:
                changed = plan.saw(task)
                (self.log.info if changed else self.log.debug)(
                    "Kling task %s %s after %.0fs", task.task_id, status_words(task), _monotonic() - start
                )
                if task.task_status == "succeed":
                    return task
            _sleep(plan.next_delay(_monotonic()))

    def iter_image_bytes(self, url: str, chunk_size: int = 64 * 1024) -> ImageDownload:
        """
        Open a result image: an iterator of its chunks that also carries ``content_type`` and
        ``content_length``. No Kling credentials are sent: image URLs are public CDN links.
        Redirects are checked hop by hop and the size is capped (``max_image_bytes``).
        """
        import tenacity

        from airflow_provider_kling.hooks.download import open_image

        settings = self.settings
        retrying = tenacity.Retrying(sleep=_sleep, **self._retrying_kwargs(settings, f"download of {url}"))
        return open_image(self.session, settings, url, retrying, chunk_size)

    def download_image(self, url: str, destination: BinaryIO) -> int:
        """Stream one image into an open binary file; return the number of bytes written."""
        written = 0
        for chunk in self.iter_image_bytes(url):
            destination.write(chunk)
            written += len(chunk)
        return written

    def test_connection(self) -> tuple[bool, str]:
        """One cheap call (a one-item list) that tells a bad key, an unreachable host and success apart."""
        # One attempt, no retries: re-read the connection for it, and restore the policy afterwards.
        max_retries_override = self._max_retries_override
        self._max_retries_override, self._settings = 0, None
        try:
            base_url = self.settings.base_url
            self.list_image_tasks(page_num=1, page_size=1)
        except KlingAuthError as exc:
            if exc.http_status is None:  # refused here: the connection has no key at all
                return False, str(exc)
            return False, f"Kling rejected the credentials: {exc}"
        except KlingConnectionError as exc:
            return False, str(exc)
        except KlingError as exc:
            return False, f"Kling answered with an error: {exc}"
        finally:
            self._max_retries_override, self._settings = max_retries_override, None
        return True, f"Connected to Kling at {base_url}; the credentials were accepted."

    # -- async transport (triggerer) ----------------------------------------------------------

    async def _arequest(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        task_id: str | None = None,
        deadline: float | None = None,
    ) -> Any:
        """One call on the shared async client; retries, waits and timeouts end by ``deadline``."""
        import asyncio
        import contextlib

        import httpx
        import tenacity

        from airflow_provider_kling.hooks.async_client import acquire_client
        from airflow_provider_kling.models import parse_answer

        settings = await self.aget_settings()
        if self._async_client is None:
            self._async_client = await acquire_client(self.kling_conn_id, settings)
        client = self._async_client

        async def send_once() -> Any:
            left = time_left(deadline, _clock(), settings.read_timeout)
            bounded = asyncio.timeout(left) if deadline is not None else contextlib.nullcontext()
            try:
                async with bounded:
                    response = await client.request(
                        method,
                        settings.base_url + path,
                        params=params,
                        headers=self._headers(settings),
                        timeout=httpx.Timeout(left, connect=min(left, settings.connect_timeout)),
                    )
            except (httpx.HTTPError, TimeoutError) as exc:
                raise KlingConnectionError(
                    f"Could not reach Kling at {settings.base_url}: {type(exc).__name__}"
                ) from None
            return parse_answer(response.status_code, response.headers, response.content, task_id)

        async def send() -> Any:
            policy = self._retrying_kwargs(settings, f"{method} {path}", deadline)
            return await tenacity.AsyncRetrying(sleep=_asleep, **policy)(send_once)

        try:
            return await send()
        except KlingAuthError as exc:
            if not self._renew_jwt_after(exc):
                raise
            return await send()

    async def aget_image_task(
        self, task_id: str, *, deadline: float | None = None, endpoint: str = GENERATIONS_PATH
    ) -> ImageTask:
        """
        Async :meth:`get_image_task`, on the connection's shared ``httpx.AsyncClient``.

        :param deadline: In the hook's monotonic clock: retries and timeouts end by then.
        :param endpoint: The task's endpoint path (default image generation).
        """
        from airflow_provider_kling.models import task_from_data

        path = _task_path(endpoint, task_id)
        data = await self._arequest("GET", path, task_id=task_id, deadline=deadline)
        return task_from_data(data, f"task {task_id}", task_id)

    async def alist_image_tasks(
        self,
        page_num: int = 1,
        page_size: int = 30,
        *,
        deadline: float | None = None,
        endpoint: str = GENERATIONS_PATH,
    ) -> list[ImageTask]:
        """Async :meth:`list_image_tasks`: one page of the account's tasks of ``endpoint``, newest first."""
        from airflow_provider_kling.models import task_from_data

        items = await self._alist_task_data(page_num, page_size, deadline=deadline, endpoint=endpoint)
        return [task_from_data(item, "a listed task", None) for item in items]

    async def _alist_task_data(
        self,
        page_num: int,
        page_size: int,
        *,
        deadline: float | None = None,
        endpoint: str = GENERATIONS_PATH,
    ) -> list[dict[str, Any]]:
        """One page of the task list, unparsed: the triggers' list rounds parse only the tasks they watch."""
        for name, value, highest in (("page_num", page_num, 1000), ("page_size", page_size, 500)):
            if not 1 <= value <= highest:
                raise KlingRequestValidationError(f"{name} must be between 1 and {highest} (got {value})")
        params = {"pageNum": page_num, "pageSize": page_size}
        data = await self._arequest("GET", endpoint, params=params, deadline=deadline)
        if data is not None and not isinstance(data, list):
            raise KlingResponseError("Kling answered a task list request without a list of tasks")
        return [item if isinstance(item, dict) else {} for item in (data or [])]

    async def aclose(self) -> None:
        """Let go of the shared async client (the last hook using it closes it)."""
        if self._async_client is not None:
            from airflow_provider_kling.hooks.async_client import release_client

            client, self._async_client = self._async_client, None
            await release_client(client)
