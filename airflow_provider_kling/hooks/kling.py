"""KlingHook: credentials from an Airflow connection, and every HTTP call to Kling.

Sync calls go through one ``requests.Session``; async calls (for the trigger) through an
``httpx.AsyncClient``. Both hand status, headers and body to the same parsing and error
mapping (:mod:`airflow_provider_kling.errors`) and retry under the same policy.
Heavy imports (requests, httpx, PyJWT, tenacity, pydantic models) wait until first use so
that DAG files importing this module stay cheap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from airflow.sdk import BaseHook

from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingConnectionError,
    KlingError,
    KlingImageUnavailableError,
    KlingInvalidRequestError,
    KlingNotFoundError,
    KlingRequestValidationError,
    KlingResponseError,
    error_from_response,
    is_retryable,
)
from airflow_provider_kling.get_provider_info import DEFAULT_BASE_URL
from airflow_provider_kling.polling import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    deadline_error,
    next_poll_delay,
    raise_if_failed,
)

if TYPE_CHECKING:
    import httpx
    import requests

    from airflow_provider_kling.models import ImageGenerationRequest, ImageTask

GENERATIONS_PATH = "/v1/images/generations"
JWT_LIFETIME = 1800
#: Renew the JWT this long before it expires, so a token never dies in flight.
JWT_RENEW_MARGIN = 300

# Seams: how the hook waits (between retries and between polls) and reads the clock. Tests
# replace them to record waits instead of sleeping; they are looked up at each call.
_sleep: Callable[[float], None] = time.sleep
_monotonic: Callable[[], float] = time.monotonic


async def _asleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class KlingConnectionSettings:
    """What a ``kling`` connection says; ``repr`` never shows a key."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    proxy: str | None = field(default=None, repr=False)  # may carry user:password

    @classmethod
    def from_connection(cls, conn: Any, extras: Mapping[str, Any]) -> KlingConnectionSettings:
        host = (conn.host or "").strip()
        if host and "://" not in host:
            host = f"https://{host}"
        if host and conn.port:
            scheme, _, rest = host.partition("://")
            netloc, slash, path = rest.partition("/")
            if ":" not in netloc:
                host = f"{scheme}://{netloc}:{conn.port}{slash}{path}"
        login, password = conn.login or None, conn.password or None
        if not password:
            raise KlingAuthError(
                f"Connection '{conn.conn_id}' has no password: set it to the Kling API key, "
                "or to the secret key with the access key as login."
            )
        return cls(
            base_url=(host or DEFAULT_BASE_URL).rstrip("/"),
            api_key=None if login else password,
            access_key=login,
            secret_key=password if login else None,
            connect_timeout=_number_extra(
                extras, "connect_timeout", float, cls.connect_timeout, conn.conn_id
            ),
            read_timeout=_number_extra(
                extras,
                "read_timeout",
                float,
                _number_extra(extras, "timeout", float, cls.read_timeout, conn.conn_id),
                conn.conn_id,
            ),
            max_retries=_number_extra(extras, "max_retries", int, cls.max_retries, conn.conn_id),
            proxy=extras.get("proxy") or None,
        )


def _number_extra(extras: Mapping[str, Any], name: str, kind: type, default: Any, conn_id: str) -> Any:
    """A numeric extra, or the default when absent; a clear error naming the extra when it is not a number."""
    value = extras.get(name)
    if value in (None, ""):
        return default
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"Connection '{conn_id}': extra '{name}' must be a number (got {value!r})") from None
    if number < 0:
        raise ValueError(f"Connection '{conn_id}': extra '{name}' must not be negative (got {value!r})")
    return number


class _JwtToken:
    """An HS256 JWT from access key + secret key, cached and renewed well before expiry."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return "_JwtToken(<redacted>)"

    def get(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self._token is None or now >= self._expires_at - JWT_RENEW_MARGIN:
            import jwt

            issued = int(now)
            claims = {"iss": self._access_key, "exp": issued + JWT_LIFETIME, "nbf": issued - 5}
            self._token = jwt.encode(claims, self._secret_key, algorithm="HS256", headers={"typ": "JWT"})
            self._expires_at = issued + JWT_LIFETIME
        return self._token

    def invalidate(self) -> None:
        self._token = None


class _WaitHonouringRetryAfter:
    """Exponential backoff with full jitter; a ``Retry-After`` from Kling wins when it is longer."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0) -> None:
        self.initial, self.maximum = initial, maximum

    def __call__(self, retry_state: Any) -> float:
        attempt = retry_state.attempt_number
        backoff = min(self.maximum, self.initial * 2 ** (attempt - 1))
        wait = backoff / 2 + random.uniform(0, backoff / 2)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, min(float(retry_after), self.maximum * 5))
        return wait


class KlingHook(BaseHook):
    """
    Talk to Kling's image generation API.

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
        self._jwt: _JwtToken | None = None
        self._async_client: httpx.AsyncClient | None = None

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
            self._jwt = _JwtToken(settings.access_key, settings.secret_key)
        self._settings = settings
        return settings

    @property
    def settings(self) -> KlingConnectionSettings:
        """The connection, read once (sync path) and kept; the key is registered with the masker."""
        if self._settings is None:
            conn = self.get_connection(self.kling_conn_id)
            settings = KlingConnectionSettings.from_connection(conn, conn.extra_dejson)
            _mask(settings.api_key, settings.secret_key)
            self._use_settings(settings)
        assert self._settings is not None
        return self._settings

    async def aget_settings(self) -> KlingConnectionSettings:
        """The connection read with Airflow's async-safe accessors (for the triggerer)."""
        if self._settings is None:
            from airflow.providers.common.compat.connection import (
                get_async_connection,
                get_async_extra_dejson,
            )

            conn = await get_async_connection(self.kling_conn_id, self)
            extras = await get_async_extra_dejson(conn)
            settings = KlingConnectionSettings.from_connection(conn, extras)
            _mask(settings.api_key, settings.secret_key)
            self._use_settings(settings)
        assert self._settings is not None
        return self._settings

    def _headers(self, settings: KlingConnectionSettings) -> dict[str, str]:
        token = self._jwt.get() if self._jwt else settings.api_key
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _renew_jwt_after(self, exc: KlingAuthError) -> bool:
        """1003/1004 (token not yet valid, or expired after clock skew or a long sleep): sign anew."""
        if self._jwt is None or exc.code not in (1003, 1004):
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

    def _retrying_kwargs(self, settings: KlingConnectionSettings, what: str) -> dict[str, Any]:
        import tenacity

        def log_retry(state: Any) -> None:
            exc = state.outcome.exception()
            self.log.warning(
                "Kling %s failed (%s); retry %d of %d in %.1fs",
                what,
                exc,
                state.attempt_number,
                settings.max_retries,
                state.next_action.sleep if state.next_action else 0.0,
            )

        return {
            "retry": tenacity.retry_if_exception(is_retryable),
            "wait": _WaitHonouringRetryAfter(),
            "stop": tenacity.stop_after_attempt(settings.max_retries + 1),
            "before_sleep": log_retry,
            "reraise": True,
        }

    # -- sync transport -----------------------------------------------------------------------

    @cached_property
    def session(self) -> requests.Session:
        """One session for every call of this hook (connection pooling, proxies)."""
        import requests

        session = requests.Session()
        if self.settings.proxy:
            session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
        return session

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        task_id: str | None = None,
    ) -> Any:
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
                    timeout=(settings.connect_timeout, settings.read_timeout),
                )
            except requests.RequestException as exc:
                raise KlingConnectionError(
                    f"Could not reach Kling at {settings.base_url}: {type(exc).__name__}"
                ) from None
            return parse_answer(response.status_code, response.headers, response.content, task_id)

        def send() -> Any:
            return tenacity.Retrying(sleep=_sleep, **self._retrying_kwargs(settings, f"{method} {path}"))(
                send_once
            )

        return self._with_jwt_renewal(send)

    # -- API ----------------------------------------------------------------------------------

    def create_image_task(self, request: ImageGenerationRequest | None = None, **fields: Any) -> ImageTask:
        """
        Create an image task from a validated request (or its fields); return the new task.

        A create that fails after Kling may already have received it (read timeout, 5xx) is
        retried; when it carries an ``external_task_id`` Kling refuses the duplicate, and the
        task created by the earlier attempt is returned instead of a second paid one.
        """
        from airflow_provider_kling.models import ImageGenerationRequest, ImageTask

        if request is not None and fields:
            raise TypeError("pass either a request or its fields to create_image_task, not both")
        request = request or ImageGenerationRequest.build(**fields)
        try:
            data = self._request("POST", GENERATIONS_PATH, body=request.to_json())
        except KlingInvalidRequestError:
            if request.external_task_id and (existing := self.find_image_task(request.external_task_id)):
                self.log.info(
                    "Kling task %s already exists for external_task_id %s",
                    existing.task_id,
                    request.external_task_id,
                )
                return existing
            raise
        task = _task_from(data, "the new task", None, ImageTask)
        self.log.info("Created Kling image task %s (status %s)", task.task_id, task.task_status)
        return task

    def get_image_task(self, task_id: str) -> ImageTask:
        """Query one task by Kling task id or by the caller's ``external_task_id``."""
        from airflow_provider_kling.models import ImageTask

        data = self._request("GET", f"{GENERATIONS_PATH}/{quote(task_id, safe='')}", task_id=task_id)
        return _task_from(data, f"task {task_id}", task_id, ImageTask)

    def find_image_task(self, task_id: str) -> ImageTask | None:
        """Like :meth:`get_image_task`, but ``None`` when Kling knows no such task."""
        try:
            return self.get_image_task(task_id)
        except KlingNotFoundError:
            return None

    def list_image_tasks(self, page_num: int = 1, page_size: int = 30) -> list[ImageTask]:
        """One page of the account's image tasks, newest first as Kling orders them."""
        from airflow_provider_kling.models import ImageTask

        for name, value, highest in (("page_num", page_num, 1000), ("page_size", page_size, 500)):
            if not 1 <= value <= highest:
                raise KlingRequestValidationError(f"{name} must be between 1 and {highest} (got {value})")
        data = self._request("GET", GENERATIONS_PATH, params={"pageNum": page_num, "pageSize": page_size})
        if data is not None and not isinstance(data, list):
            raise KlingResponseError("Kling answered a task list request without a list of tasks")
        return [_task_from(item, "a listed task", None, ImageTask) for item in (data or [])]

    def wait_for_image_task(
        self, task_id: str, *, poll_interval: float = DEFAULT_POLL_INTERVAL, timeout: float = DEFAULT_TIMEOUT
    ) -> ImageTask:
        """
        Poll until the task succeeds (returned), fails (:class:`KlingTaskFailedError`) or the
        deadline passes (:class:`KlingTaskTimeoutError`), logging status and elapsed time.
        """
        start = _monotonic()
        deadline = start + timeout
        while True:
            task = self.get_image_task(task_id)
            elapsed = _monotonic() - start
            self.log.info("Kling task %s is %s after %.0fs", task.task_id, task.task_status, elapsed)
            raise_if_failed(task)
            if task.task_status == "succeed":
                return task
            now = _monotonic()
            if now >= deadline:
                raise deadline_error(task.task_id, task.task_status, elapsed)
            _sleep(next_poll_delay(poll_interval, deadline, now))

    def iter_image_bytes(self, url: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """Stream a result image. No Kling credentials are sent: image URLs are public CDN links."""
        import requests
        import tenacity

        if not url.startswith(("http://", "https://")):
            raise KlingImageUnavailableError(f"Kling gave an image URL that is not http(s): {url[:80]!r}")
        settings = self.settings

        def open_stream() -> requests.Response:
            try:
                response = self.session.get(
                    url, stream=True, timeout=(settings.connect_timeout, settings.read_timeout)
                )
            except requests.RequestException as exc:
                raise KlingConnectionError(f"Could not download {url}: {type(exc).__name__}") from None
            if response.status_code in (403, 404, 410):
                response.close()
                raise KlingImageUnavailableError(
                    f"Image {url} answered HTTP {response.status_code}: it has expired or was never there "
                    "(Kling purges generated images after 30 days)",
                    http_status=response.status_code,
                )
            if response.status_code >= 400:
                response.close()
                raise error_from_response(response.status_code, None)
            return response

        retrying = tenacity.Retrying(sleep=_sleep, **self._retrying_kwargs(settings, f"download of {url}"))
        response = retrying(open_stream)
        with response:
            try:
                yield from response.iter_content(chunk_size=chunk_size)
            except requests.RequestException as exc:
                raise KlingConnectionError(f"Download of {url} broke off: {type(exc).__name__}") from None

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

    async def _arequest(self, method: str, path: str, *, task_id: str | None = None) -> Any:
        import httpx
        import tenacity

        from airflow_provider_kling.models import parse_answer

        settings = await self.aget_settings()
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                proxy=settings.proxy,
            )
        client = self._async_client

        async def send_once() -> Any:
            try:
                response = await client.request(
                    method, settings.base_url + path, headers=self._headers(settings)
                )
            except httpx.HTTPError as exc:
                raise KlingConnectionError(
                    f"Could not reach Kling at {settings.base_url}: {type(exc).__name__}"
                ) from None
            return parse_answer(response.status_code, response.headers, response.content, task_id)

        async def send() -> Any:
            retrying = tenacity.AsyncRetrying(
                sleep=_asleep, **self._retrying_kwargs(settings, f"{method} {path}")
            )
            return await retrying(send_once)

        try:
            return await send()
        except KlingAuthError as exc:
            if not self._renew_jwt_after(exc):
                raise
            return await send()

    async def aget_image_task(self, task_id: str) -> ImageTask:
        """Async :meth:`get_image_task`, on ``httpx.AsyncClient`` (nothing blocks the event loop)."""
        from airflow_provider_kling.models import ImageTask

        data = await self._arequest("GET", f"{GENERATIONS_PATH}/{quote(task_id, safe='')}", task_id=task_id)
        return _task_from(data, f"task {task_id}", task_id, ImageTask)

    async def aclose(self) -> None:
        """Close the async client (the trigger calls this when it is done)."""
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None


def _task_from(data: Any, what: str, task_id: str | None, model: type[ImageTask]) -> ImageTask:
    """Read one task from Kling's ``data``; an answer this provider cannot read is a KlingResponseError."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise KlingResponseError(f"Kling answered without a task for {what}", task_id=task_id)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'task'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise KlingResponseError(
            f"Kling answered with a task this provider cannot read for {what}: {problems}", task_id=task_id
        ) from None


def _mask(*secrets: str | None) -> None:
    """Register keys with Airflow's secrets masker (a second line of defence; we never log them)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older task SDKs
        return
    for secret in secrets:
        if secret:
            mask_secret(secret)
