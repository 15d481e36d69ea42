"""KlingTaskOperator: the one operator base of every Kling task (any endpoint), and the Airflow glue
that turns the lifecycle's decisions and Kling's errors into Airflow's outcomes.

The lifecycle itself (reconcile, decide, the failure policy) lives in
:mod:`airflow_provider_kling.lifecycle`, free of Airflow; this module only says what a decision
means to Airflow: :func:`fail_fast` (no retry can help), :func:`task_failure` (the failure
policy) and :func:`stop_for` (a reconcile that must not create).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_kling.defaults import DEFAULT_CONN_ID
from airflow_provider_kling.errors import (
    KlingContentPolicyError,
    KlingError,
    KlingImagesExpiredError,
    KlingImageUnavailableError,
    KlingRateLimitError,
    KlingTaskFailedError,
    task_failed_error,
)
from airflow_provider_kling.lifecycle import (
    DEFAULT_MAX_REGENERATIONS,
    DEFAULT_ON_CONTENT_POLICY,
    DEFAULT_REGENERATE_EXPIRED,
    FailurePolicy,
    Outcome,
    Verdict,
)
from airflow_provider_kling.lifecycle.request import XCOM_KLING_TASK_ID, RequestTasks
from airflow_provider_kling.operators.outputs import KlingOutputsMixin
from airflow_provider_kling.polling import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.lifecycle import Decision
    from airflow_provider_kling.models import ImageTask
    from airflow_provider_kling.models.requests import KlingTaskRequest
    from airflow_provider_kling.storage import MediaKind


# -- the Airflow glue ----------------------------------------------------------------------------

#: Default of ``deferrable`` on the operators and the sensor: Airflow's
#: ``[operators] default_deferrable`` (False when unset), read when this module is imported.
DEFAULT_DEFERRABLE = conf.getboolean("operators", "default_deferrable", fallback=False)


def fail_fast(exc: KlingError) -> BaseException:
    """Errors no retry can fix (auth, balance, permission, policy, bad request) skip Airflow's retries."""
    if exc.airflow_retryable:
        return exc
    from airflow.providers.common.compat.sdk import AirflowFailException

    return AirflowFailException(str(exc))


def task_failure(exc: KlingError, policy: FailurePolicy, generation: int | None = None) -> BaseException:
    """
    What a Kling error ends an Airflow try with, per ``policy``: a content-policy refusal is failed
    (or skipped, ``on_content_policy="skip"``) and never generated again; another Kling-side
    failure of generation ``generation`` is left to Airflow's retries while the policy allows a
    new generation, else failed at once; any other error per :func:`fail_fast`.
    """
    if isinstance(exc, KlingTaskFailedError):  # refused or not, as task_failed_error classed it
        outcome = Outcome.REFUSED if isinstance(exc, KlingContentPolicyError) else Outcome.FAILED
        verdict = policy.verdict(outcome, generation or 0)
    else:
        verdict = Verdict.REFUSED if isinstance(exc, KlingContentPolicyError) else Verdict.REGENERATE
    from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException

    if verdict is Verdict.REFUSED:
        message = (
            f"{exc}. Kling refused this prompt (content safety); it is not generated again: change the prompt"
        )
        if policy.on_content_policy == "skip":
            return AirflowSkipException(f"{message} (skipped: on_content_policy='skip')")
        return AirflowFailException(message)
    if verdict is Verdict.EXHAUSTED and generation:
        return AirflowFailException(f"{exc}. {policy.exhausted_message(generation)}.")
    return fail_fast(exc)


def stop_for(decision: Decision, policy: FailurePolicy) -> BaseException:
    """The exception for a reconcile that must not create: the newest task was refused, or failed
    as often as ``max_regenerations`` allows."""
    task: Any = decision.task
    error = task_failed_error(task.task_id, task.task_status_msg, external_task_id=decision.external_task_id)
    return task_failure(error, policy, decision.generation)


class KlingImageLink(BaseOperatorLink):
    """An extra link in the Airflow UI to the first image Kling generated."""

    name = "Kling image"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "_kling_image_url", None) or ""


# -- the operator base ---------------------------------------------------------------------------


class KlingTaskOperator(KlingOutputsMixin, BaseOperator):
    """
    One Kling task for one request, at any endpoint: reconcile, create, wait, store, return.

    A retry or a clear of the same task instance with the same request reconnects to the Kling
    task an earlier try created (the task state store's hint, then every generation by external
    task id: :class:`~airflow_provider_kling.lifecycle.request.RequestTasks`); an edited request
    creates a new one. Failures follow one :class:`~airflow_provider_kling.lifecycle.FailurePolicy`.

    **The contract of a subclass** (one small class per endpoint, e.g. a text-to-video operator):

    - ``request_kind``: its request kind (``models.requests.REQUEST_KINDS``), which gives the
      request class, its endpoint and its image fields;
    - ``request_arguments``: its own request fields, in the order they are sent; its
      ``__init__`` takes them as keyword arguments, calls ``super().__init__(**kwargs)`` first and
      then sets each as an attribute of the same name (nothing else: an argument it does not
      take reaches ``BaseOperator``, which refuses it naming the operator and the argument);
    - ``template_fields``: its own templated arguments plus ``KlingTaskOperator.template_fields``;
    - optionally :meth:`request_fields` (derived fields, e.g. expand's ``to_aspect_ratio``),
      :meth:`outputs_of` and :meth:`store_outputs` (what a succeeded task made and how it is
      stored). By default both follow :attr:`media`, what the request kind makes
      (:func:`~airflow_provider_kling.models.requests.media_of`): a video kind's outputs are its videos,
      stored as videos.

    Every entry point (``execute``, ``execute_complete``, ``execute_after_slot_wait``) builds the
    request through :meth:`build_request`, which reads :meth:`request_fields`: the one place a
    request is made (the TaskFlow decorator overrides only that).

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

    template_fields: Sequence[str] = (
        "callback_url",
        "external_task_id",
        "output_path",
        "output_conn_id",
        "kling_conn_id",
    )
    ui_color = "#d6e4ff"
    operator_extra_links: Collection[BaseOperatorLink] = (KlingImageLink(),)
    #: The request kind this operator builds (``models.requests.REQUEST_KINDS``).
    request_kind: str
    #: The operator's own request fields (attributes of the same name), in the order they are sent.
    request_arguments: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        kling_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = True,
        deferrable: bool = DEFAULT_DEFERRABLE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        output_path: Any = None,
        output_conn_id: str | None = None,
        on_content_policy: str = DEFAULT_ON_CONTENT_POLICY,
        max_regenerations: int = DEFAULT_MAX_REGENERATIONS,
        regenerate_expired: bool = DEFAULT_REGENERATE_EXPIRED,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("poll_interval", poll_interval), ("timeout", timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds (got {value!r})")
        FailurePolicy(on_content_policy, max_regenerations, regenerate_expired)  # refused at parse time
        self.callback_url = callback_url
        self.external_task_id = external_task_id
        self.kling_conn_id = kling_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.on_content_policy = on_content_policy
        self.max_regenerations = max_regenerations
        self.regenerate_expired = regenerate_expired
        self._kling_image_url: str | None = None
        self._carried: dict[str, Any] = {}
        self._init_outputs(output_path)

    @cached_property
    def hook(self) -> KlingHook:
        from airflow_provider_kling.hooks.kling import KlingHook

        return KlingHook(self.kling_conn_id)

    @property
    def failure_policy(self) -> FailurePolicy:
        return FailurePolicy(self.on_content_policy, self.max_regenerations, self.regenerate_expired)

    # -- request -------------------------------------------------------------------------------

    def request_fields(self, context: Context) -> dict[str, Any]:
        """The rendered request fields of this operator's request kind (unset ones left out)."""
        names = (*self.request_arguments, "callback_url", "external_task_id")
        return {name: value for name in names if (value := getattr(self, name)) is not None}

    def build_request(self, context: Context) -> KlingTaskRequest:
        """The rendered fields as a validated request with its external task id; a bad one fails
        here, before any HTTP call. Images named in your storage are read first (base64)."""
        from airflow_provider_kling.errors import KlingRequestValidationError
        from airflow_provider_kling.idempotency import with_external_task_id
        from airflow_provider_kling.image_inputs import read_image_fields
        from airflow_provider_kling.models.requests import request_class

        request_cls = request_class(self.request_kind)
        try:
            fields = read_image_fields(
                self.request_fields(context), request_cls.image_fields, self.output_conn_id or None
            )
            if "callback_url" in fields:
                fields["callback_url"] = self.resolve_callback_url(fields["callback_url"])
            request = request_cls.build(**fields)
            if not request.external_task_id:
                request = with_external_task_id(request, self._default_external_task_id(context, request))
            return request
        except KlingRequestValidationError as exc:
            raise fail_fast(exc) from None

    def resolve_callback_url(self, value: Any) -> Any:
        """``value``, or the receiver's URL for ``"receiver"`` (``callbacks.events.RECEIVER``)."""
        from airflow_provider_kling.callbacks.events import resolve_callback_url
        from airflow_provider_kling.errors import KlingRequestValidationError

        try:
            return resolve_callback_url(
                value, self.kling_conn_id, lambda: self.hook.settings.callback_base_url
            )
        except ValueError as exc:
            raise KlingRequestValidationError(str(exc)) from None

    def _default_external_task_id(
        self, context: Context, request: KlingTaskRequest, item_key: str | None = None
    ) -> str:
        """Stable across tries of one task instance and one request (one item of a batch: its
        ``item_key``); new for an edited request."""
        from airflow_provider_kling.idempotency import default_external_task_id, request_fingerprint

        ti = context["ti"]
        return default_external_task_id(
            dag_id=self.dag_id,
            run_id=str(context.get("run_id") or getattr(ti, "run_id", "")),
            task_id=self.task_id,
            map_index=getattr(ti, "map_index", -1),
            fingerprint=request_fingerprint(request),
            namespace=self.hook.settings.external_task_id_namespace,
            item_key=item_key,
        )

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
            result = self._result(task, request)
            self._kling_results = [result]  # OpenLineage names the task; nothing made yet for assets
            return result
        return self._finish(self._wait(task, request), request, context, resumed=resumed)

    def _tasks(self, request: KlingTaskRequest, context: Context) -> RequestTasks:
        ti = context["ti"]
        return RequestTasks(
            self.hook,
            request,
            self.failure_policy,
            store=context.get("task_state_store"),
            push_task_id=lambda task_id: ti.xcom_push(key=XCOM_KLING_TASK_ID, value=task_id),
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

    def deferral_kwargs(self) -> dict[str, Any]:
        """What a subclass carries across a deferral (back as ``self._carried`` on resume)."""
        return {}

    def _wait(self, task: ImageTask, request: KlingTaskRequest) -> ImageTask:
        """Wait for ``task`` on the worker, or defer to the triggerer (which resumes in execute_complete);
        a task that already succeeded is returned as it is."""
        if task.task_status == "succeed":
            return task
        if self.deferrable:
            self._defer(task.task_id, request.endpoint, request.api_style)
        try:
            return self.hook.wait_for_task(
                task.task_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                endpoint=request.endpoint,
                api_style=request.api_style,
            )
        except KlingError as exc:
            raise self._failure(exc, request) from exc

    def _defer(self, kling_task_id: str, endpoint: str, api_style: str | None = None) -> None:
        import time

        from airflow_provider_kling.polling import defer_timeout
        from airflow_provider_kling.triggers.kling import KlingImageTaskTrigger

        self.log.info(
            "Deferring: the triggerer polls Kling task %s every %ss", kling_task_id, self.poll_interval
        )
        self.defer(
            trigger=KlingImageTaskTrigger(
                kling_task_id=kling_task_id,
                kling_conn_id=self.kling_conn_id,
                poll_interval=self.poll_interval,
                deadline=time.time() + self.timeout,
                endpoint=endpoint,
                api_style=api_style,
            ),
            method_name="execute_complete",
            kwargs=self.deferral_kwargs() or None,
            timeout=defer_timeout(self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any], **carried: Any) -> dict[str, Any]:
        """Resume after the trigger: store the results, or fail with what the trigger saw."""
        from airflow_provider_kling.triggers.kling import task_from_event

        self._carried = carried
        request = self.build_request(context)
        try:
            task = task_from_event(event)
        except KlingError as exc:
            raise self._failure(exc, request) from exc
        return self._finish(task, request, context, resumed=False)

    def _failure(self, exc: KlingError, request: KlingTaskRequest | None = None) -> BaseException:
        """How a Kling error ends this try: skipped, failed at once, or left to Airflow's retries."""
        from airflow_provider_kling.idempotency import generation_of

        generation = None
        if request is not None and request.external_task_id:
            generation = generation_of(request.external_task_id, exc.external_task_id)
        return task_failure(exc, self.failure_policy, generation)

    # -- results -------------------------------------------------------------------------------

    @property
    def media(self) -> MediaKind:
        """What this operator's request kind makes: images or videos (``models.requests.media_of``)."""
        from airflow_provider_kling.models.requests import media_of

        return media_of(self.request_kind)

    def outputs_of(self, task: ImageTask) -> list[Any]:
        """What a succeeded task made: its images, or a video kind's videos (:attr:`media`)."""
        return list(getattr(task, self.media.plural))

    def store_outputs(self, result: dict[str, Any], base: Any, context: Context) -> None:
        """Copy what ``result`` lists under ``base`` (its images or videos, :attr:`media`); sets
        each one's ``path``."""
        from airflow_provider_kling.storage import store_task_outputs

        ti = context["ti"]
        store_task_outputs(
            result,
            base,
            media=self.media,
            hook=self.hook,
            dag_id=self.dag_id,
            run_id=str(context.get("run_id") or getattr(ti, "run_id", "run")),
            task_id=self.task_id,
            map_index=getattr(ti, "map_index", None),
            log=self.log,
        )

    def _finish(
        self, task: ImageTask, request: KlingTaskRequest, context: Context, *, resumed: bool
    ) -> dict[str, Any]:
        outputs = self.outputs_of(task)
        plural = self.media.plural
        if not outputs:
            raise KlingImageUnavailableError(
                f"Kling task {task.task_id} succeeded but returned no {plural}", task_id=task.task_id
            )
        from airflow_provider_kling.spend import describe_deduction

        self.log.info("Kling task %s deducted %s", task.task_id, describe_deduction(task))
        result = self._result(task, request)
        self._kling_image_url = outputs[0].url
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
        except KlingImageUnavailableError as exc:
            if not resumed or not self._outputs_expired(result):
                raise
            stored = [made for made in result[plural] if made.get("path")]
            if self.regenerate_expired and not stored:
                return self._regenerate_expired(task, request, context)
            raise fail_fast(self._expired_error(task, exc, stored=len(stored))) from exc
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
        except KlingImageUnavailableError as exc:
            return exc.http_status in (403, 404, 410)
        except KlingError:
            return False
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # the first chunk was enough: release the connection
        return False

    def _expired_error(self, task: ImageTask, exc: KlingError, *, stored: int) -> KlingImagesExpiredError:
        how = (
            "Set regenerate_expired=True on this operator and clear the task to create a new generation "
            "(a new paid task)"
            if not stored
            else f"{stored} {self.media.noun}(s) were stored; delete them under output_path, then set "
            "regenerate_expired=True and clear the task to create a new generation (a new paid task)"
        )
        return KlingImagesExpiredError(
            f"The {self.media.plural} of resumed Kling task {task.task_id} are gone (Kling purges them "
            f"after 30 days) and were not stored, so retrying cannot help ({exc.message}). {how}.",
            task_id=task.task_id,
        )

    def _regenerate_expired(
        self, expired: ImageTask, request: KlingTaskRequest, context: Context
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

    def _output_base(self) -> Any:
        """``output_path`` as an ``ObjectStoragePath``; a bad one fails without retries."""
        from airflow_provider_kling.errors import KlingRequestValidationError
        from airflow_provider_kling.storage import to_storage_path

        try:
            return to_storage_path(self.output_path, self.output_conn_id or None)
        except ValueError as exc:
            raise fail_fast(KlingRequestValidationError(str(exc))) from None

    def _store(self, result: dict[str, Any], context: Context) -> str:
        """Store the results (:meth:`store_outputs`); one that cannot be copied fails the task after
        the rest are stored. Returns the output folder's plain URI."""
        from airflow_provider_kling.assets import plain_uri

        base = self._output_base()
        try:
            self.store_outputs(result, base, context)
        except KlingError as exc:
            raise fail_fast(exc) from exc
        return plain_uri(base)

    def _result(self, task: ImageTask, request: KlingTaskRequest) -> dict[str, Any]:
        return {**task.to_xcom(), **request.summary()}
