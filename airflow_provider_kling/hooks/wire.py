"""One wire format per Kling API style: where a task is created, queried and listed, how its
records are read, and which credentials the style takes (:class:`V1Wire`, :class:`ModelPathWire`).

A request's style is its ``api_style`` (its model's); a reference to a task kept for later (a
trigger, a batch) carries its :class:`Route`: the kind's path and the style. Nothing looks at the
shape of a path to tell the styles apart. Each call is steps of the hook's sans-I/O core (:mod:`.core`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Unpack
from urllib.parse import quote

from airflow_provider_kling.defaults import GENERATIONS_PATH, MAX_PAGE_NUM, MAX_PAGE_SIZE
from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingError,
    KlingNotFoundError,
    KlingRequestValidationError,
    KlingResponseError,
)
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests import REQUEST_KINDS, endpoint_path
from airflow_provider_kling.models.task import KlingTask, task_from_data, task_from_v1
from airflow_provider_kling.models.task_query import TASKS_PATH, TaskSearch, records_of, tasks_by_ids_params

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings
    from airflow_provider_kling.hooks.core import KlingCore, Limits, Steps


def check_page(page_num: Any, page_size: Any, max_size: int = MAX_PAGE_SIZE) -> None:
    """Refuse, before sending, a page of a list that Kling would refuse."""
    for name, value, highest in (("page_num", page_num, MAX_PAGE_NUM), ("page_size", page_size, max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
            raise KlingRequestValidationError(
                f"{name} must be an integer from 1 to {highest} (got {value!r})"
            )


class WireFormat:
    """What both styles share; each adds ``create_path``, ``decode``, ``query_steps`` (one task by
    Kling or external task id) and ``list_data_steps`` (one page of the task list, unread)."""

    style: ClassVar[ApiStyle]
    #: Whether a finished task read through ``GET /tasks`` carries all this style's own query does.
    #: ``/tasks`` answers a ``/v1`` task with its units only; its own query adds the balance deduction.
    tasks_query_is_complete: ClassVar[bool]

    def takes_credentials(self, settings: KlingConnectionSettings) -> bool:
        return True

    def check_credentials(self, core: KlingCore) -> None:
        """Refuse, before sending, credentials this style's paths refuse."""


class V1Wire(WireFormat):
    """``/v1/<product>/<endpoint>``: the fields in the body, a query route per product."""

    style = ApiStyle.V1
    tasks_query_is_complete = False

    def create_path(self, request: Any) -> str:
        return str(request.endpoint)

    def decode(self, data: Any, what: str, task_id: str | None = None) -> KlingTask:
        return task_from_v1(data, what, task_id)

    def query_steps(
        self, core: KlingCore, task_id: str, endpoint: str, **limits: Unpack[Limits]
    ) -> Steps[KlingTask]:
        data = yield from core.call("GET", f"{endpoint}/{quote(task_id, safe='')}", task_id=task_id, **limits)
        return self.decode(data, f"task {task_id}", task_id)

    def list_data_steps(
        self, core: KlingCore, page_num: int, page_size: int, endpoint: str, **limits: Unpack[Limits]
    ) -> Steps[list[dict[str, Any]]]:
        check_page(page_num, page_size)
        params = {"pageNum": page_num, "pageSize": page_size}
        data = yield from core.call("GET", endpoint, params=params, **limits)
        if data is not None and not isinstance(data, list):
            raise KlingResponseError("Kling answered a task list request without a list of tasks")
        return [item if isinstance(item, dict) else {} for item in (data or [])]


class ModelPathWire(WireFormat):
    """``/{product}/{model}`` with ``contents``/``settings``/``options``; queried and listed by ``/tasks``."""

    style = ApiStyle.MODEL_PATH
    tasks_query_is_complete = True

    def create_path(self, request: Any) -> str:
        return f"{request.endpoint}/{request.model_name}"

    def takes_credentials(self, settings: KlingConnectionSettings) -> bool:
        return settings.access_key is None

    def check_credentials(self, core: KlingCore) -> None:
        if not self.takes_credentials(core.loaded):
            raise KlingAuthError(
                f"Kling's model-in-path API needs an API key: connection '{core.kling_conn_id}' holds an "
                "access key and secret key (signed into a JWT, which Kling refuses there with 401/1002). "
                "Set the connection's password to an API key and leave its login empty"
            )

    def decode(self, data: Any, what: str, task_id: str | None = None) -> KlingTask:
        # ``/tasks`` answers every task of the account, whichever style made it: read by shape.
        return task_from_data(data, what, task_id)

    def query_steps(
        self, core: KlingCore, task_id: str, endpoint: str, **limits: Unpack[Limits]
    ) -> Steps[KlingTask]:
        """By Kling task id, else by external task id (``GET /tasks`` has no route per task)."""
        for external in (False, True):
            records = yield from tasks_query_steps(core, [task_id], external=external, **limits)
            if records:
                return self.decode(records[0], f"task {task_id}", task_id)
        raise KlingNotFoundError(f"Kling knows no task {task_id}", task_id=task_id)

    def list_data_steps(
        self, core: KlingCore, page_num: int, page_size: int, endpoint: str, **limits: Unpack[Limits]
    ) -> Steps[list[dict[str, Any]]]:
        """The account's newest tasks of every kind (one page: ``POST /tasks`` pages by cursor)."""
        self.check_credentials(core)
        if page_num > 1:
            return []
        page = yield from core.call("POST", TASKS_PATH, body=TaskSearch(limit=page_size).to_json(), **limits)
        items = page.get("result") if isinstance(page, dict) else None
        return [item for item in (items or ()) if isinstance(item, dict)]


V1 = V1Wire()
MODEL_PATH = ModelPathWire()
WIRES: dict[ApiStyle, V1Wire | ModelPathWire] = {V1.style: V1, MODEL_PATH.style: MODEL_PATH}


def wire_for(api_style: ApiStyle | str) -> V1Wire | ModelPathWire:
    """The wire format of a style (an :class:`ApiStyle` or its value)."""
    return WIRES[ApiStyle(api_style)]


@dataclass(frozen=True)
class Route:
    """Where the tasks of one kind live: the kind's path and its API style (what a stored reference keeps)."""

    endpoint: str = GENERATIONS_PATH
    api_style: ApiStyle = ApiStyle.V1

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_style", ApiStyle(self.api_style))  # "v1" from a serialized trigger

    @classmethod
    def of(cls, request: Any) -> Route:
        """Where a request's task lives: its kind's path in the style its model takes."""
        return cls(request.endpoint, request.api_style)

    @classmethod
    def at(cls, endpoint: str, api_style: ApiStyle | str | None = None) -> Route:
        """The route of ``endpoint`` in ``api_style``; without one, the style a request kind declares
        that path in (each declared path belongs to one style), else ``/v1``."""
        if api_style is None:
            declared = (
                s for kind in REQUEST_KINDS.values() for s, path in kind.paths.items() if path == endpoint
            )
            api_style = next(declared, ApiStyle.V1)
        return cls(endpoint, ApiStyle(api_style))

    @classmethod
    def of_endpoint(cls, kind_or_path: str) -> Route:
        """The route of an endpoint named by kind (its ``/v1`` path when it has one) or by path (a
        sensor's or a sweep's ``endpoint``); ValueError naming the kinds and paths otherwise."""
        return cls.at(endpoint_path(kind_or_path))

    @property
    def wire(self) -> V1Wire | ModelPathWire:
        return wire_for(self.api_style)

    def query(self, core: KlingCore, task_id: str, **limits: Unpack[Limits]) -> Steps[KlingTask]:
        """One task by Kling task id or external task id, as its style queries it."""
        return self.wire.query_steps(core, task_id, self.endpoint, **limits)

    def find(
        self, core: KlingCore, external_task_id: str, **limits: Unpack[Limits]
    ) -> Steps[KlingTask | None]:
        """The task created with this ``external_task_id``, or ``None``; errors name it as such."""
        try:
            return (yield from self.query(core, external_task_id, **limits))
        except KlingNotFoundError:
            return None
        except KlingError as exc:
            if exc.task_id == external_task_id:
                exc.task_id, exc.external_task_id = None, external_task_id
            raise

    def list_data(
        self, core: KlingCore, page_num: int, page_size: int, **limits: Unpack[Limits]
    ) -> Steps[list[dict[str, Any]]]:
        """One page of the task list, unread (list rounds read only the tasks they watch)."""
        return self.wire.list_data_steps(core, page_num, page_size, self.endpoint, **limits)

    def list(
        self, core: KlingCore, page_num: int, page_size: int, **limits: Unpack[Limits]
    ) -> Steps[list[KlingTask]]:
        """One page of the task list, read."""
        items = yield from self.list_data(core, page_num, page_size, **limits)
        return [self.wire.decode(item, "a listed task") for item in items]


def tasks_query_steps(
    core: KlingCore, ids: list[str], *, external: bool = False, **limits: Unpack[Limits]
) -> Steps[list[dict[str, Any]]]:
    """One ``GET /tasks`` for up to 20 ids: the records Kling knows, unread (a model-path route)."""
    MODEL_PATH.check_credentials(core)
    data = yield from core.call(
        "GET", TASKS_PATH, params=tasks_by_ids_params(ids, external=external), **limits
    )
    return records_of(data)
