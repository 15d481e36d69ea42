"""The account's resources on :class:`~airflow_provider_kling.hooks.kling.KlingHook`: custom voices and
elements (create, get, list, delete) and the billing export (units and cash, page by page).

The billing export's rate limit is not published (UNCONFIRMED): its pages are spaced as the
account's costs queries are (one a second per account in this process, shared with them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, cast

from airflow_provider_kling.errors import KlingRequestValidationError, KlingResponseError
from airflow_provider_kling.hooks.account import costs_turn, time_window
from airflow_provider_kling.hooks.wire import check_page
from airflow_provider_kling.models.account import (
    BILLING_PATHS,
    MAX_BILLING_LIMIT,
    BillingDeduction,
    billing_body,
    billing_page_from_data,
)
from airflow_provider_kling.models.resources import (
    CustomResource,
    delete_body,
    resource_kind,
    resources_of,
)
from airflow_provider_kling.models.task import KlingTask, task_from_v1


class _TaskCalls(Protocol):
    """What the mixin uses of the hook it is mixed into (``KlingHook``)."""

    clock: Any
    settings: Any

    def call(self, method: str, path: str, **kwargs: Any) -> Any: ...
    def _run(self, steps: Any) -> Any: ...

    def create_task(self, request: Any) -> KlingTask: ...
    def get_task(self, task_id: str, *, endpoint: str) -> KlingTask: ...


class KlingResourcesMixin:
    """Voices, elements and the billing export; mixed into ``KlingHook`` (whose calls it makes)."""

    @property
    def _hook(self) -> _TaskCalls:
        return cast(_TaskCalls, self)

    # -- custom voices and elements ----------------------------------------------------------------

    def create_resource(self, request: Any) -> KlingTask:
        """Create a voice or an element from its request
        (:class:`~airflow_provider_kling.models.resources.CustomVoiceRequest` or
        ``CustomElementRequest``): a task, paid once; its result lists the resource once it succeeds."""
        return self._hook.create_task(request)

    def get_resource_task(self, kind: str, task_id: str) -> KlingTask:
        """The task that makes a ``voice`` or an ``element`` (by Kling or external task id);
        :func:`~airflow_provider_kling.models.resources.resources_of` reads its resources."""
        return self._hook.get_task(task_id, endpoint=resource_kind(kind).path)

    def list_resources(
        self, kind: str, page_num: int = 1, page_size: int = 30, *, presets: bool = False
    ) -> list[CustomResource]:
        """One page of the account's custom voices or elements (``presets``: Kling's own)."""
        where = resource_kind(kind)
        check_page(page_num, page_size, where.max_page_size)
        path = where.presets_path if presets else where.path
        hook = self._hook
        data = hook._run(hook.call("GET", path, params={"pageNum": page_num, "pageSize": page_size}))
        if data is not None and not isinstance(data, list):
            raise KlingResponseError(f"Kling answered a {kind} list without a list of tasks")
        return [
            resource
            for item in data or ()
            if isinstance(item, dict)
            for resource in resources_of(task_from_v1(item, f"a listed {kind}"), where)
        ]

    def delete_resource(self, kind: str, resource_id: Any) -> dict[str, Any]:
        """Delete a custom voice or element by its id (a string of digits, or an int); Kling answers
        ``{task_id, task_status}``. Kling's own presets cannot be deleted."""
        where = resource_kind(kind)
        try:
            body = delete_body(where, resource_id)
        except ValueError as exc:
            raise KlingRequestValidationError(f"Invalid Kling {kind} deletion: {exc}") from None
        hook = self._hook
        data = hook._run(hook.call("POST", where.delete_path, body=body))
        return {key: str(value) for key, value in (data or {}).items() if key in ("task_id", "task_status")}

    # -- the billing export ------------------------------------------------------------------------

    def iter_billing(
        self,
        ledger: str = "package",
        start_time: datetime | float | int | None = None,
        end_time: datetime | float | int | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        limit: int = MAX_BILLING_LIMIT,
    ) -> Iterator[BillingDeduction]:
        """
        Every deduction of a window, page after page: ``ledger="package"`` reads the units taken from
        resource packs (``POST /account/billing/package``), ``"balance"`` the cash taken from the
        balance (``/account/billing/balance``). The next page is asked by its cursor with the same
        filters (Kling: keep them while paging).

        :param start_time: an aware datetime or Unix ms; default a day before ``end_time`` (default now).
        :param filters: ``{key: [values]}``: ``api_key_name``, ``product_type`` (video, image, try-on),
            ``package_name`` or ``package_id`` (package ledger only).
        :param limit: records per page, 1 to 500.
        """
        hook = self._hook
        body = billing_body(ledger, *time_window(start_time, end_time, hook.clock.time()), filters, limit)
        while True:
            wait = costs_turn(hook.settings, hook.clock)
            if wait > 0:
                hook.clock.sleep(wait)
            page = billing_page_from_data(hook._run(hook.call("POST", BILLING_PATHS[ledger], body=body)))
            yield from page.detail
            if not page.has_more or not page.next_cursor:
                return
            body = {**body, "cursor": page.next_cursor}

    def get_billing(self, ledger: str = "package", **query: Any) -> list[BillingDeduction]:
        """:meth:`iter_billing`'s deductions as a list."""
        return list(self.iter_billing(ledger, **query))
