"""KlingTaskOperator: the one operator base of every Kling task, and the Airflow glue that turns
the lifecycle's decisions and Kling's errors into Airflow's outcomes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Iterator
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import BaseOperator, BaseOperatorLink
from airflow.sdk.bases.operator import BaseOperatorMeta

from airflow_provider_kling.defaults import (
    DEFAULT_CONN_ID,
    DEFAULT_MAX_REGENERATIONS,
    DEFAULT_ON_CONTENT_POLICY,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_REGENERATE_EXPIRED,
    DEFAULT_TIMEOUT,
)
from airflow_provider_kling.errors import (
    KlingError,
    KlingRateLimitError,
    KlingRequestValidationError,
    KlingResultsExpiredError,
    KlingResultUnavailableError,
    task_failed_error,
)
from airflow_provider_kling.operators.lazy import (
    callback_events,
    image_inputs,
    kling_hook,
    request_models,
    running,
    task_triggers,
)
from airflow_provider_kling.operators.outputs import KlingOutputsMixin

T = TypeVar("T")

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.lifecycle.policy import Ending, FailurePolicy
    from airflow_provider_kling.lifecycle.reconcile import Decision
    from airflow_provider_kling.lifecycle.request import RequestTasks
    from airflow_provider_kling.lifecycle.results import OutputNames
    from airflow_provider_kling.models.requests import KlingTaskRequest
    from airflow_provider_kling.models.task import KlingTask
    from airflow_provider_kling.storage import MediaKind


# -- the Airflow glue ----------------------------------------------------------------------------

#: Default of ``deferrable`` on the operators and the sensor: Airflow's
#: ``[operators] default_deferrable`` (False when unset), read when this module is imported.
DEFAULT_DEFERRABLE = conf.getboolean("operators", "default_deferrable", fallback=False)


def airflow_exception(ending: Ending, exc: BaseException) -> BaseException:
    """The exception an :class:`~airflow_provider_kling.lifecycle.policy.Ending` (the failure policy's
    decision) ends an Airflow try with: ``exc`` itself for Airflow's retries, else fail or skip."""
    if ending.action == "retry":
        return exc
    from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException

    return (AirflowSkipException if ending.action == "skip" else AirflowFailException)(ending.message)


def fail_fast(exc: KlingError) -> BaseException:
    """Errors no retry can fix (auth, balance, permission, policy, bad request) skip Airflow's retries."""
    return airflow_exception(running().policy.Ending.of_error(exc), exc)


def task_failure(exc: KlingError, policy: FailurePolicy, generation: int | None = None) -> BaseException:
    """What a Kling error ends an Airflow try with, per ``policy`` (:meth:`FailurePolicy.ending`)."""
    return airflow_exception(policy.ending(exc, generation), exc)


def stop_for(decision: Decision, policy: FailurePolicy) -> BaseException:
    """The exception for a reconcile that must not create: the newest task was refused, or failed
    as often as ``max_regenerations`` allows."""
    task: Any = decision.task
    error = task_failed_error(task.task_id, task.task_status_msg, external_task_id=decision.external_task_id)
    return task_failure(error, policy, decision.generation)


def units_argument(name: str, value: Any) -> float:
    """``value`` as a number of units >= 0 (a bool is not one); ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of units >= 0 (got {value!r})")
    return float(value)


class FromRequest(Generic[T]):
    """A class attribute of an operator read from its kind's request class (``request_kind``) on
    first use, then kept: the request models cost ~50 ms, which importing an operator module must
    not pay."""

    def __init__(self, read: Callable[[Any], T]) -> None:
        self.read, self.values = read, dict[type, T]()

    def __get__(self, instance: Any, owner: type) -> T:
        if owner not in self.values:
            self.values[owner] = self.read(owner)
        return self.values[owner]


class RequestFieldNames:
    """The argument names Airflow's ``.partial()``/``.expand()`` check for one ``__init__`` (``own``)
    and the operator's request fields, read when they are iterated."""

    def __init__(self, operator_class: type[KlingTaskOperator], own: Collection[str]) -> None:
        self.operator_class, self.own = operator_class, own

    def __iter__(self) -> Iterator[str]:
        return iter({*self.own, *self.operator_class.request_arguments})


def request_fields_of(operator_class: type) -> dict[str, bool]:
    """The fields of ``operator_class``'s request classes (its ``request_kinds``, else its
    ``request_kind``; none without), in order, each with whether all of them require it."""
    kinds = getattr(operator_class, "request_kinds", None) or [getattr(operator_class, "request_kind", None)]
    models = [request_models().request_class(kind) for kind in kinds if kind]
    names = dict.fromkeys(name for model in models for name in model.model_fields)
    return {
        name: all(name in model.model_fields and model.model_fields[name].is_required() for model in models)
        for name in names
    }


def own_request_fields(operator_class: Any) -> tuple[str, ...]:
    """The request fields an operator takes itself: its request's, but the base's ``callback_url``
    and ``external_task_id``."""
    return tuple(
        name for name in request_fields_of(operator_class) if name not in operator_class.base_template_fields
    )


@cache
def arguments_of(operator_class: type) -> tuple[frozenset[str], tuple[str, ...]]:
    """The keyword arguments the classes after :class:`KlingTaskOperator` in ``operator_class``'s MRO
    take (Airflow's included), and the required request fields no ``__init__`` of it names."""
    signatures = [
        (klass, inspect.signature(vars(klass)["__init__"]))
        for klass in operator_class.__mro__
        if "__init__" in vars(klass)
    ]
    after = operator_class.__mro__[operator_class.__mro__.index(KlingTaskOperator) + 1 :]
    taken = {
        name
        for klass, signature in signatures
        if klass in after
        for name, parameter in signature.parameters.items()
        if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    }
    named = {name for _, signature in signatures for name in signature.parameters}
    fields = request_fields_of(operator_class)
    return frozenset(taken), tuple(
        name for name, required in fields.items() if required and name not in named
    )


class KlingOperatorMeta(BaseOperatorMeta):
    """Airflow's operator metaclass, for operators that declare a ``request_kind``: their request
    fields are keyword arguments (of :meth:`KlingTaskOperator.__init__`), also to ``.partial()`` and
    ``.expand()``, which Airflow checks against the ``__init__`` of each class."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        declares_kind = "request_kind" in namespace
        if declares_kind and "__init__" not in namespace:

            def __init__(self: Any, **kwargs: Any) -> None:
                super(cls, self).__init__(**kwargs)  # type: ignore[call-overload]  # cls: made below

            namespace["__init__"] = __init__
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if declares_kind:
            init = cls.__init__
            init._BaseOperatorMeta__param_names = RequestFieldNames(cls, init._BaseOperatorMeta__param_names)
        return cls


class KlingResultLink(BaseOperatorLink):
    """An extra link in the Airflow UI to the first image or video Kling made."""

    name = "Kling result"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "_kling_result_url", None) or ""


# -- the operator base ---------------------------------------------------------------------------


class KlingWaitingOperator(BaseOperator):
    """
    What every operator that creates one Kling task and waits for it shares: the connection, the
    wait (on the worker, or deferred to the triggerer until ``timeout``) and the task's stable
    ``external_task_id``. The parameters are documented on each operator.
    """

    def __init__(
        self,
        *,
        kling_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("poll_interval", poll_interval), ("timeout", timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds (got {value!r})")
        self.kling_conn_id = kling_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def _with_default_external_id(self, context: Context, request: Any) -> Any:
        """``request`` as given when it has an ``external_task_id``, else with this task's default one."""
        if request.external_task_id:
            return request
        external = self._default_external_task_id(context, request)
        return running().idempotency.with_external_task_id(request, external)

    def _default_external_task_id(self, context: Context, request: Any, item_key: str | None = None) -> str:
        """Stable across tries of one task instance and one request (one item of a batch: its
        ``item_key``); new for an edited request."""
        return running().idempotency.default_external_task_id(
            dag_id=self.dag_id,
            run_id=running().results.run_id_of(context),
            task_id=self.task_id,
            map_index=getattr(context["ti"], "map_index", -1),
            fingerprint=running().idempotency.request_fingerprint(request),
            namespace=self.hook.settings.external_task_id_namespace,
            item_key=item_key,
        )

    def deferral_kwargs(self) -> dict[str, Any]:
        """What a subclass carries across a deferral (back as ``self._carried`` on resume)."""
        return {}

    def _defer(self, kling_task_id: str, endpoint: str, api_style: str | None = None) -> None:
        import time

        self.log.info(
            "Deferring: the triggerer polls Kling task %s every %ss", kling_task_id, self.poll_interval
        )
        self.defer(
            trigger=task_triggers().KlingTaskTrigger(
                kling_task_id=kling_task_id,
                kling_conn_id=self.kling_conn_id,
                poll_interval=self.poll_interval,
                deadline=time.time() + self.timeout,
                endpoint=endpoint,
                api_style=api_style,
            ),
            method_name="execute_complete",
            kwargs=self.deferral_kwargs() or None,
            timeout=running().poll.defer_timeout(self.timeout),
        )


class KlingOperatorBase(KlingOutputsMixin, KlingWaitingOperator):
    """
    What every Kling operator that runs lifecycles shares: besides the connection and the wait, the
    output folder and the failure policy. :class:`KlingTaskOperator` runs one request's lifecycle; the
    batch (:class:`~airflow_provider_kling.operators.batch.KlingBatchOperator`) runs many, composing
    the same lifecycle (reconcile, poll plan, store path, failure policy), not this operator's
    request handling. The parameters are documented on each.
    """

    #: ``regenerate_expired``, for operators that take it (the single operator).
    regenerate_expired: bool = DEFAULT_REGENERATE_EXPIRED

    def __init__(
        self,
        *,
        output_path: Any = None,
        output_conn_id: str | None = None,
        on_content_policy: str = DEFAULT_ON_CONTENT_POLICY,
        max_regenerations: int = DEFAULT_MAX_REGENERATIONS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        running().policy.FailurePolicy(on_content_policy, max_regenerations)  # refused at parse time
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.on_content_policy = on_content_policy
        self.max_regenerations = max_regenerations
        self._init_outputs(output_path)

    @property
    def failure_policy(self) -> FailurePolicy:
        return running().policy.FailurePolicy(
            self.on_content_policy, self.max_regenerations, self.regenerate_expired
        )

    def output_names(self, context: Context) -> OutputNames:
        """What this task instance's files are named after."""
        return running().results.OutputNames(
            self.dag_id,
            running().results.run_id_of(context),
            self.task_id,
            getattr(context["ti"], "map_index", None),
        )

    def resolve_callback_url(self, value: Any) -> Any:
        """``value``, or the receiver's URL for ``"receiver"`` (``callbacks.events.RECEIVER``)."""
        try:
            return callback_events().resolve_callback_url(
                value, self.kling_conn_id, lambda: self.hook.settings.callback_base_url
            )
        except ValueError as exc:
            raise KlingRequestValidationError(str(exc)) from None

    def _output_base(self) -> Any:
        """``output_path`` as an ``ObjectStoragePath``; a bad one fails without retries."""
        try:
            return running().storage.to_storage_path(self.output_path, self.output_conn_id or None)
        except ValueError as exc:
            raise fail_fast(KlingRequestValidationError(str(exc))) from None


# -- the single operator -------------------------------------------------------------------------


class KlingTaskOperator(KlingOperatorBase, metaclass=KlingOperatorMeta):
    """
    One Kling task for one request, at any endpoint: reconcile, create, wait, store, return.

    A retry or a clear of the same task instance with the same request reconnects to the Kling
    task an earlier try created (the task state store's hint, then every generation by external
    task id: :class:`~airflow_provider_kling.lifecycle.request.RequestTasks`); an edited request
    creates a new one. Failures follow one :class:`~airflow_provider_kling.lifecycle.policy.FailurePolicy`.

    A subclass (one per kind) sets ``request_kind``; it then takes the fields of that kind's request
    class as keyword arguments, all templated (``request_arguments``, ``template_fields``: read from
    the declaration), and :meth:`build_request` is the one place a request is made.

    :param callback_url: URL Kling POSTs the task to on each status change; ``"receiver"`` (or
        ``"receiver:<asset name>"``) is this provider's callback receiver on the api-server, at the
        connection's ``callback_base_url`` extra. (templated)
    :param external_task_id: Your id for the Kling task, unique per account (change it when you
        change the request). By default one is derived from dag, run, task and map index, a
        fingerprint of the request and the connection's ``external_task_id_namespace`` extra, so
        retries find the same task and an edited request gets a new one. (templated)
    :param kling_conn_id: The ``kling`` connection. (templated)
    :param wait_for_completion: Wait for the result (default); if False, return once the task exists.
    :param deferrable: Wait in the triggerer instead of on the worker.
    :param poll_interval: Seconds between status polls.
    :param timeout: Seconds to wait for the Kling task before failing (the task is kept; a
        re-run resumes it).
    :param output_path: Where to copy the results: a local path, a URI (``file://``, ``s3://``,
        ``gs://`` ...) or an ``ObjectStoragePath``. Files are named
        ``<dag_id>/<run_id>/<task_id>[_<map_index>]_<index>.<ext>`` under it. When it is a URI
        or an absolute path known when the DAG is parsed and no ``outlets`` are given, the task
        declares ``Asset("<output_path as a plain URI>")`` as its outlet: each successful run
        records an asset event on it, whose ``extra`` says what was made. Mapped tasks and
        templated or XCom output paths declare ``outlets=[AssetAlias(...)]`` or an ``Asset``
        themselves (Airflow only accepts outlets known when the DAG is parsed). (templated)
    :param output_conn_id: The Airflow connection the output store is reached with, e.g.
        ``aws_default`` for ``s3://`` or ``google_cloud_default`` for ``gs://``; the result's
        ``path`` values stay plain URIs (``s3://bucket/key``). (templated)
    :param on_content_policy: When Kling refuses the request (content safety, risk control):
        ``"fail"`` (default) fails without Airflow retries, ``"skip"`` marks the task skipped, so
        one refused prompt does not fail a mapped batch. Never generated again either way.
    :param max_regenerations: How many new Kling tasks Airflow retries may create after Kling-side
        failures other than content policy (default 2: such failures are usually transient, and
        this bounds the spend to 3 tasks per request whatever ``retries`` says).
    :param regenerate_expired: When a resumed task's images or videos are gone (Kling purges them
        after 30 days) and none is stored, create a new generation instead of failing (default False).
    """

    #: What every Kling task operator templates, after its request fields.
    base_template_fields: ClassVar[tuple[str, ...]] = (
        "callback_url",
        "external_task_id",
        "output_path",
        "output_conn_id",
        "kling_conn_id",
    )
    template_fields = FromRequest(lambda cls: (*cls.request_arguments, *cls.base_template_fields))
    ui_color = "#d6e4ff"
    operator_extra_links: Collection[BaseOperatorLink] = (KlingResultLink(),)
    #: The request kind this operator builds (``models.requests.REQUEST_KINDS``).
    request_kind: str
    #: The request fields this operator takes (attributes of the same name), in the order they are
    #: sent: its request class's (``callback_url`` and ``external_task_id`` are the base's).
    request_arguments = FromRequest(lambda cls: own_request_fields(cls))
    #: The fields its request requires that no ``__init__`` of the operator names (so a keyword
    #: argument the operator must be given, or a ``@task`` function must return).
    required_arguments = FromRequest(lambda cls: arguments_of(cls)[1])
    #: What the request kind makes (images or videos), set with the request by :meth:`build_request`.
    media: MediaKind

    def __init__(
        self,
        *,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        wait_for_completion: bool = True,
        regenerate_expired: bool = DEFAULT_REGENERATE_EXPIRED,
        **kwargs: Any,
    ) -> None:
        fields = self._request_arguments_in(kwargs)
        super().__init__(**kwargs)
        running().policy.FailurePolicy(
            self.on_content_policy, self.max_regenerations, regenerate_expired
        )  # refused at parse time
        self.callback_url = callback_url
        self.external_task_id = external_task_id
        self.wait_for_completion = wait_for_completion
        self.regenerate_expired = regenerate_expired
        self._kling_result_url: str | None = None
        self._carried: dict[str, Any] = {}
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def _request_arguments_in(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Take this kind's request fields out of ``kwargs`` (or ``default_args``); a TypeError names
        an argument neither the request nor the operator takes, or a required field not given."""
        default_args = kwargs.get("default_args") or {}
        taken, required = arguments_of(cls)[0], cls.required_arguments
        fields = {name: kwargs.pop(name, default_args.get(name)) for name in cls.request_arguments}
        unknown = sorted(name for name in kwargs if name not in taken)
        if unknown:
            raise TypeError(
                f"{cls.__name__} (request kind {getattr(cls, 'request_kind', '-')}) takes no argument(s)\n"
                f"{', '.join(unknown)}: its request fields are {', '.join(cls.request_arguments)}"
            )
        missing = [name for name in required if fields.get(name) is None]
        if missing:
            raise TypeError(f"{cls.__name__} missing keyword argument(s) {', '.join(map(repr, missing))}")
        return fields

    # -- request -------------------------------------------------------------------------------

    def request_fields(self, context: Context) -> dict[str, Any]:
        """The rendered request fields of this operator's request kind (unset ones left out)."""
        names = (*self.request_arguments, "callback_url", "external_task_id")
        return {name: value for name in names if (value := getattr(self, name)) is not None}

    def build_request(self, context: Context) -> KlingTaskRequest:
        """The rendered fields as a validated request with its external task id; a bad one fails
        here, before any HTTP call. Images named in your storage are read first (base64)."""
        request_cls = request_models().request_class(self.request_kind)
        self.media = running().storage.MEDIA[request_cls.output]
        try:
            fields = image_inputs().read_image_fields(
                self.request_fields(context), request_cls.image_fields, self.output_conn_id or None
            )
            if "callback_url" in fields:
                fields["callback_url"] = self.resolve_callback_url(fields["callback_url"])
            return self._with_default_external_id(context, request_cls.build(**fields))
        except KlingRequestValidationError as exc:
            raise fail_fast(exc) from None

    # -- execution -----------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        return self._execute(context, first_try_at=None)

    def _execute(self, context: Context, *, first_try_at: float | None) -> dict[str, Any]:
        import time

        first_try_at = time.time() if first_try_at is None else first_try_at
        request = self.build_request(context)
        while True:
            try:
                tasks = self._tasks(request, context)
                decision = tasks.reconcile()
                if decision.action in ("refused", "exhausted"):
                    raise stop_for(decision, self.failure_policy)
                resumed = decision.action == "resume"
                task: Any = decision.task if resumed else tasks.create(decision.generation)
                break
            except KlingRateLimitError as exc:
                self._wait_for_slot(exc, first_try_at)  # returns on the worker, defers otherwise
            except KlingError as exc:
                raise self._failure(exc) from exc
        if not self.wait_for_completion:
            self.log.info("Kling task %s is %s; not waiting for it", task.task_id, task.task_status)
            result = running().results.result_of(task, request)
            self._kling_results = [result]  # OpenLineage names the task; nothing made yet for assets
            return result
        return self._finish(self._wait(task, request), request, context, resumed=resumed)

    def _tasks(self, request: KlingTaskRequest, context: Context) -> RequestTasks:
        ti = context["ti"]
        return running().request.RequestTasks(
            self.hook,
            request,
            self.failure_policy,
            store=context.get("task_state_store"),
            push_task_id=lambda task_id: ti.xcom_push(
                key=running().request.XCOM_KLING_TASK_ID, value=task_id
            ),
            log=self.log,
        )

    def _wait_for_slot(self, exc: KlingRateLimitError, first_try_at: float) -> None:
        """A 1303 after the hook's quick retries: wait for a slot (bounded by ``timeout``) instead of
        failing the try; in the triggerer when deferrable, so no worker slot is held meanwhile."""
        import time

        left = first_try_at + self.timeout - time.time()
        if left <= 0:
            raise self._failure(exc) from exc
        wait = min(left, max(self.poll_interval, exc.retry_after or 0.0))
        self.log.warning(
            "No free Kling slot (%s); trying the create again in %.0fs (%.0fs of timeout left)",
            exc,
            wait,
            left,
        )
        if not self.deferrable:
            time.sleep(wait)
            return
        from datetime import timedelta

        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.defer(
            trigger=TimeDeltaTrigger(timedelta(seconds=wait)),
            method_name="execute_after_slot_wait",
            kwargs={"first_try_at": first_try_at, **self.deferral_kwargs()},
        )

    def execute_after_slot_wait(
        self, context: Context, event: Any = None, first_try_at: float | None = None, **carried: Any
    ) -> dict[str, Any]:
        """Resume after waiting for a slot in the triggerer: try the create again."""
        self._carried = carried
        return self._execute(context, first_try_at=first_try_at)

    def _wait(self, task: KlingTask, request: KlingTaskRequest) -> KlingTask:
        """Wait for ``task`` on the worker, or defer to the triggerer (which resumes in execute_complete);
        a task that already succeeded is returned as it is."""
        if task.task_status == "succeed":
            return task
        if self.deferrable:
            self._defer(task.task_id, request.endpoint, request.api_style)
        try:
            return running().poll.wait_for_task(
                self.hook,
                task.task_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                endpoint=request.endpoint,
                api_style=request.api_style,
            )
        except KlingError as exc:
            raise self._failure(exc, request) from exc

    def execute_complete(self, context: Context, event: dict[str, Any], **carried: Any) -> dict[str, Any]:
        """Resume after the trigger: store the results, or fail with what the trigger saw."""
        self._carried = carried
        request = self.build_request(context)
        try:
            # as whole as the worker's: the hook completes a /tasks read
            task = task_triggers().task_from_event(event, self.hook)
        except KlingError as exc:
            raise self._failure(exc, request) from exc
        return self._finish(task, request, context, resumed=False)

    def _failure(self, exc: KlingError, request: KlingTaskRequest | None = None) -> BaseException:
        """How a Kling error ends this try: skipped, failed at once, or left to Airflow's retries."""
        generation = None
        if request is not None and request.external_task_id:
            generation = running().idempotency.generation_of(request.external_task_id, exc.external_task_id)
        return task_failure(exc, self.failure_policy, generation)

    # -- results -------------------------------------------------------------------------------

    def _finish(
        self, task: KlingTask, request: KlingTaskRequest, context: Context, *, resumed: bool
    ) -> dict[str, Any]:
        plural = self.media.plural
        outputs = list(getattr(task, plural))
        if not outputs:
            raise KlingResultUnavailableError(
                f"Kling task {task.task_id} succeeded but returned no {plural}", task_id=task.task_id
            )
        self.log.info("Kling task %s deducted %s", task.task_id, running().spend.describe_deduction(task))
        result = running().results.result_of(task, request)
        self._kling_result_url = outputs[0].url
        if not self.output_path:
            self.log.info(
                "Kling task %s made %d %s; not copied (no output_path): Kling purges them after 30 days",
                task.task_id,
                len(outputs),
                plural,
            )
            self._record_outputs([result], None, context)
            return result
        try:
            output_uri = self._store(result, context)
        except KlingResultUnavailableError as exc:
            if not resumed or not self._outputs_expired(result):
                raise
            stored = sum(1 for made in result[plural] if made.get("path"))
            ending = self.failure_policy.expired_ending(task.task_id, self.media.noun, stored, exc.message)
            if ending is None:
                return self._regenerate_expired(task, request, context)
            raise airflow_exception(
                ending, KlingResultsExpiredError(ending.message, task_id=task.task_id)
            ) from exc
        self._record_outputs([result], output_uri, context)
        return result

    def _outputs_expired(self, result: dict[str, Any]) -> bool:
        """Whether the first image (or video) not stored is gone for good (403/404/410), not just
        unreachable."""
        missing = next((made for made in result[self.media.plural] if not made.get("path")), None)
        if missing is None or not missing.get("url"):
            return False
        chunks: Any = None
        try:
            chunks = self.media.fetcher(self.hook)(missing["url"])  # opens the URL (and may refuse) here
            next(iter(chunks), None)
        except KlingResultUnavailableError as exc:
            return exc.http_status in (403, 404, 410)
        except KlingError:
            return False
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # the first chunk was enough: release the connection
        return False

    def _regenerate_expired(
        self, expired: KlingTask, request: KlingTaskRequest, context: Context
    ) -> dict[str, Any]:
        """``regenerate_expired=True``: create the next generation of this request on purpose."""
        self.log.warning(
            "The %s of Kling task %s are gone and none was stored; regenerate_expired=True: "
            "creating the next generation (a new paid task)",
            self.media.plural,
            expired.task_id,
        )
        task = self._wait(self._tasks(request, context).create_next(), request)
        return self._finish(task, request, context, resumed=False)

    def _store(self, result: dict[str, Any], context: Context) -> str:
        """Store the results (the lifecycle's store path); one that cannot be copied fails the task
        after the rest are stored. Returns the output folder's plain URI."""
        base = self._output_base()
        try:
            running().results.store_result(
                result, base, media=self.media, hook=self.hook, names=self.output_names(context), log=self.log
            )
        except KlingError as exc:
            raise fail_fast(exc) from exc
        return running().assets.plain_uri(base)
