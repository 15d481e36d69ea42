"""KlingHook: credentials from an Airflow connection, and every HTTP call to Kling, sync and async.

Each call is written once, as steps of the sans-I/O core (:mod:`.core`); a method runs them with
one of two senders (:mod:`.transport`): a ``requests.Session`` on the worker, the event loop's
shared ``httpx.AsyncClient`` (:mod:`.async_client`) for its ``a``-prefixed twin. Time comes from
the injected ``clock``. requests, httpx and PyJWT are imported on first use.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, BinaryIO, ParamSpec, TypeVar, Unpack

from airflow.sdk import BaseHook

from airflow_provider_kling.defaults import DEFAULT_CONN_ID, GENERATIONS_PATH
from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingConnectionError,
    KlingError,
    KlingNotFoundError,
    create_never_reached_kling,
)
from airflow_provider_kling.get_provider_info import get_provider_info
from airflow_provider_kling.hooks.account import ACCOUNT_COSTS_PATH, costs_query, costs_turn
from airflow_provider_kling.hooks.async_client import acquire_client, cached_settings, release_client
from airflow_provider_kling.hooks.connection import KlingConnectionSettings
from airflow_provider_kling.hooks.core import (
    Clock,
    KlingCore,
    Limits,
    Steps,
    adrive,
    blocking,
    drive,
    retried,
)
from airflow_provider_kling.hooks.create import create_steps
from airflow_provider_kling.hooks.download import open_download
from airflow_provider_kling.hooks.resources import KlingResourcesMixin
from airflow_provider_kling.hooks.retry import RetryPolicy
from airflow_provider_kling.hooks.task_queries import complete_steps, get_tasks_steps
from airflow_provider_kling.hooks.transport import asend, build_session, send
from airflow_provider_kling.hooks.wire import Route
from airflow_provider_kling.models.account import AccountCosts, costs_from_data
from airflow_provider_kling.storage import IMAGE, VIDEO, MediaKind

if TYPE_CHECKING:
    from datetime import datetime

    import httpx
    import requests

    from airflow_provider_kling.hooks.core import T
    from airflow_provider_kling.hooks.download import MediaDownload
    from airflow_provider_kling.models.api_style import ApiStyle
    from airflow_provider_kling.models.requests import KlingTaskRequest
    from airflow_provider_kling.models.requests.generations import ImageGenerationRequest
    from airflow_provider_kling.models.task import KlingTask

__all__ = ["GENERATIONS_PATH", "Clock", "KlingConnectionSettings", "KlingHook"]

P = ParamSpec("P")
R = TypeVar("R")


class At(Limits, total=False):
    """Where a task call goes (with :class:`~.core.Limits`, how long it may take): ``endpoint``, the
    kind's path (default image generation), in ``api_style`` (default: the style its kind declares
    that path in)."""

    endpoint: str
    api_style: ApiStyle | str | None


def _where(at: At) -> tuple[Route, Limits]:
    """The route and the limits of a task call's keywords."""
    route = Route.at(at.get("endpoint", GENERATIONS_PATH), at.get("api_style"))
    return route, Limits(deadline=at.get("deadline"), max_wait=at.get("max_wait"))


def twins(steps_of: Callable[P, Steps[R]]) -> tuple[Callable[P, R], Callable[P, Awaitable[R]]]:
    """A hook call written once, as the steps ``_<name>_steps(hook, ...)`` makes: the method ``<name>``
    that runs them on the worker, and its async twin ``a<name>`` on the event loop's shared client."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._run(steps_of(self, *args, **kwargs))

    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._arun(steps_of(self, *args, **kwargs))

    name, signature = steps_of.__name__.removeprefix("_").removesuffix("_steps"), inspect.signature(steps_of)
    returns = str(signature.return_annotation).removeprefix("Steps[").removesuffix("]")
    methods: tuple[Any, Any] = (call, acall)
    for method, prefix in zip(methods, ("", "a"), strict=True):
        method.__name__ = method.__qualname__ = prefix + name
        method.__doc__ = steps_of.__doc__ if not prefix else f"Async :meth:`{name}`."
        method.__signature__ = signature.replace(return_annotation=returns)
    return methods


class KlingHook(KlingResourcesMixin, KlingCore, BaseHook):
    """
    Talk to Kling, one call at a time (create, get, find, list, download), for every request kind in
    either API style. Task calls take the keywords of :class:`At`; a create takes its route from
    its request. Every call has an async twin (``a`` prefix) on the event loop's shared client.
    Waiting is the lifecycle's: :func:`~airflow_provider_kling.lifecycle.poll.wait_for_task`.

    :param kling_conn_id: The ``kling`` connection: host = base URL (default the reseller's),
        password = API key, or login = access key with password = secret key.
    :param max_retries: Retries for errors a retry can fix (429 codes 1302/1303, 5xx, network);
        overrides the connection's ``max_retries`` extra.
    :param clock: Where time is read and waited (:class:`~airflow_provider_kling.hooks.core.Clock`);
        tests pass a fake one.
    """

    conn_name_attr = "kling_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "kling"
    hook_name = "Kling"

    def __init__(
        self,
        kling_conn_id: str = default_conn_name,
        *,
        max_retries: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        BaseHook.__init__(self)
        KlingCore.__init__(self, kling_conn_id, max_retries=max_retries, clock=clock)
        self._async_client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"KlingHook(kling_conn_id={self.kling_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow < 3.2 (newer versions read provider info), in its key names."""
        behaviour = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
        return {key.replace("-", "_"): value for key, value in behaviour.items()}

    # -- the two senders ------------------------------------------------------------------------

    @property
    def settings(self) -> KlingConnectionSettings:
        """The connection, read once (sync path) and kept; the key is registered with the masker."""
        if self._settings is None:
            conn = self.get_connection(self.kling_conn_id)
            self._use_settings(KlingConnectionSettings.from_connection(conn, conn.extra_dejson))
        return self.loaded

    async def aget_settings(self) -> KlingConnectionSettings:
        """The connection read with Airflow's async-safe accessors (for the triggerer), briefly cached."""
        if self._settings is None:

            async def read_connection() -> KlingConnectionSettings:
                from airflow.providers.common.compat.connection import (
                    get_async_connection,
                    get_async_extra_dejson,
                )

                conn = await get_async_connection(self.kling_conn_id, self)
                return KlingConnectionSettings.from_connection(conn, await get_async_extra_dejson(conn))

            # Cached per connection id for a short time: a triggerer's many triggers read it once.
            self._use_settings(
                await cached_settings(self.kling_conn_id, read_connection, self.clock.monotonic)
            )
        return self.loaded

    @cached_property
    def session(self) -> requests.Session:
        """One session for every call of this hook (connection pooling, proxies)."""
        return build_session(self.settings)

    def _run(self, steps: Steps[T]) -> T:
        """Run a call's steps on the worker: ``requests``, blocking sleeps."""
        self.settings  # noqa: B018 - read the connection before the steps need it
        return drive(steps, partial(send, self.session), self.clock.sleep)

    async def _arun(self, steps: Steps[T]) -> T:
        """Run a call's steps on the event loop's shared ``httpx.AsyncClient``."""
        settings = await self.aget_settings()
        if self._async_client is None:
            self._async_client = await acquire_client(self.kling_conn_id, settings)
        return await adrive(steps, partial(asend, self._async_client), self.clock.asleep)

    async def aclose(self) -> None:
        """Let go of the shared async client (the last hook using it closes it)."""
        if self._async_client is not None:
            client, self._async_client = self._async_client, None
            await release_client(client)

    # -- tasks: each keyword set ``**at`` is :class:`At` ------------------------------------------

    def _create_task_steps(
        self,
        request: ImageGenerationRequest | KlingTaskRequest | None = None,
        *,
        retry_rate_limit: bool = True,
        **fields: Any,
    ) -> Steps[KlingTask]:
        """
        Create a task from a validated request of any kind (or an image-generation request's
        fields) where its kind and API style say; return it. Pays at most once (an
        ``external_task_id`` on every create; see "Paying once" in the hook's docs).
        ``retry_rate_limit=False`` raises a 429 (1302/1303) at once instead of backing off: for a
        caller that schedules its own creates by slots (the batch).
        """
        return create_steps(self, request, fields, retry_rate_limit=retry_rate_limit)

    def _get_task_steps(self, task_id: str, **at: Unpack[At]) -> Steps[KlingTask]:
        """One task by Kling task id or by the caller's ``external_task_id``."""
        route, limits = _where(at)
        return route.query(self, task_id, **limits)

    def _find_task_by_external_id_steps(
        self, external_task_id: str, **at: Unpack[At]
    ) -> Steps[KlingTask | None]:
        """The task created with this ``external_task_id``, or ``None``; errors name it as such."""
        route, limits = _where(at)
        return route.find(self, external_task_id, **limits)

    def _get_tasks_steps(
        self, task_ids: Iterable[str], *, complete: bool = True, **at: Unpack[At]
    ) -> Steps[list[KlingTask]]:
        """
        The tasks of ``task_ids`` Kling knows, in the order asked (unknown ids are left out): one
        ``GET /tasks`` per 20 ids where the host has it (connection extra ``tasks_query``), else one
        query per task as its style queries it. A finished task carries the same fields either way,
        unless ``complete=False``: then as ``/tasks`` gave it (see :meth:`complete_task`).
        """
        route, limits = _where(at)
        return get_tasks_steps(self, task_ids, route, complete, **limits)

    def _complete_task_steps(self, task: KlingTask, **at: Unpack[At]) -> Steps[KlingTask]:
        """A task read with ``get_tasks(complete=False)``, with all its style's own query adds (one
        query for a finished ``/v1`` task, none otherwise)."""
        route, limits = _where(at)
        return complete_steps(self, task, route, **limits)

    def _list_tasks_steps(
        self, page_num: int = 1, page_size: int = 30, **at: Unpack[At]
    ) -> Steps[list[KlingTask]]:
        """One page of the account's tasks of ``endpoint``, newest first as Kling orders them (a
        model-path style lists the account's newest tasks of every kind)."""
        route, limits = _where(at)
        return route.list(self, page_num, page_size, **limits)

    create_task, acreate_task = twins(_create_task_steps)
    get_task, aget_task = twins(_get_task_steps)
    find_task_by_external_id, afind_task_by_external_id = twins(_find_task_by_external_id_steps)
    get_tasks, aget_tasks = twins(_get_tasks_steps)
    complete_task, acomplete_task = twins(_complete_task_steps)
    list_tasks, alist_tasks = twins(_list_tasks_steps)

    def find_task(self, task_id: str, **at: Unpack[At]) -> KlingTask | None:
        """Like :meth:`get_task`, but ``None`` when Kling knows no such task."""
        try:
            return self.get_task(task_id, **at)
        except KlingNotFoundError:
            return None

    async def _alist_task_data(self, page_num: int, page_size: int, **at: Unpack[At]) -> list[dict[str, Any]]:
        """One page of the task list, unread: the triggers' list rounds read only the tasks they watch."""
        route, limits = _where(at)
        return await self._arun(route.list_data(self, page_num, page_size, **limits))

    def answer(self, request: Any) -> Any:
        """A call Kling answers at once, not a task (a face scan: ``FaceScanRequest``): the
        request's body POSTed to its ``path``, the answer read by its ``read``. Paid: sent again only
        when it never reached Kling."""
        call = self.call("POST", request.path, body=request.to_json(), resend_if=create_never_reached_kling)
        return request.read(self._run(call))

    # -- account ------------------------------------------------------------------------------------

    def get_account_costs(
        self,
        start_time: datetime | float | int | None = None,
        end_time: datetime | float | int | None = None,
        resource_pack_name: str | None = None,
    ) -> AccountCosts:
        """
        The account's resource packs: total and remaining quantity, validity and status.

        :param start_time: Start of the window (an aware datetime, or Unix milliseconds); default
            a day before ``end_time``. Kling returns the packs valid at some point in the window.
        :param end_time: End of the window; default now.
        :param resource_pack_name: Only the packs of this name.

        Free to call, but Kling allows at most one query a second: this hook waits out the second
        since the previous query for the same account (host and credentials) in this process
        (other processes are not counted; a too-fast query answered 429 / 1302 is retried with backoff).
        Kling's remaining quantities lag by up to 12 hours: treat them as an upper bound of what
        is left, and keep a margin for what ran since.
        """
        params = costs_query(start_time, end_time, resource_pack_name, self.clock.time())
        wait = costs_turn(self.settings, self.clock)
        if wait > 0:
            self.clock.sleep(wait)
        return costs_from_data(self._run(self.call("GET", ACCOUNT_COSTS_PATH, params=params)))

    # -- images -------------------------------------------------------------------------------------

    def iter_image_bytes(self, url: str, chunk_size: int = 64 * 1024) -> MediaDownload:
        """
        Open a result image: an iterator of its chunks that also carries ``content_type`` and
        ``content_length``. No Kling credentials are sent: image URLs are public CDN links.
        Redirects are checked hop by hop and the size is capped (``max_image_bytes``).
        """
        return self._open_result(url, chunk_size, IMAGE)

    def iter_video_bytes(self, url: str, chunk_size: int = 1024 * 1024) -> MediaDownload:
        """Open a result video as :meth:`iter_image_bytes` opens an image, capped at ``max_video_bytes``."""
        return self._open_result(url, chunk_size, VIDEO)

    def _open_result(self, url: str, chunk_size: int, media: MediaKind) -> MediaDownload:
        settings = self.settings

        def retry(open_stream: Any) -> requests.Response:
            policy = RetryPolicy(settings.max_retries, clock=self.clock.monotonic)
            return self._run(retried(partial(blocking, open_stream), policy, f"download of {url}", self.log))

        return open_download(self.session, settings, url, retry, chunk_size, media)

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
            self.list_tasks(page_num=1, page_size=1)
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
