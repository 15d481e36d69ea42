"""KlingBatchOperator: many requests of one kind in one task, at the account's slot budget."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_kling.defaults import (
    DEFAULT_BATCH_POLL_INTERVAL,
    DEFAULT_BATCH_TIMEOUT,
    DEFAULT_CONN_ID,
    DEFAULT_PROGRESS_INTERVAL,
)
from airflow_provider_kling.errors import KlingError, KlingRequestValidationError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import (
    KlingOperatorBase,
    airflow_exception,
    fail_fast,
    units_argument,
)
from airflow_provider_kling.operators.lazy import batching, callback_events, estimates, image_inputs, running

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.batch.admission import ItemProgress
    from airflow_provider_kling.batch.items import BatchItem

#: Fire and forget reads callback events from this long before the newest one it has seen.
EVENT_READ_MARGIN = timedelta(seconds=30)
#: XCom key of the summary, pushed before the task succeeds or fails.
XCOM_BATCH_SUMMARY = "kling_batch_summary"
#: Request fields the operator's own arguments give every item (an item's own value wins).
DEFAULT_FIELDS = ("model_name", "n", "negative_prompt", "resolution", "aspect_ratio", "callback_url")


def is_a_file(requests: Any) -> bool:
    """Whether ``requests`` names a file in storage (an ``ObjectStoragePath``, a local path)."""
    return isinstance(requests, os.PathLike) or hasattr(requests, "fs")


def batch_items() -> ModuleType:
    """``batch.items``: parses and validates the rows of a batch."""
    items: ModuleType = batching().items
    return items


class KlingBatchOperator(KlingOperatorBase):
    """
    Run many requests of one kind (image generation by default, or any other endpoint's) in one
    task, keeping the account's slots full.

    Items are created as slots free (an image task holds ``n`` slots until it ends, a virtual
    try-on or a video task 1), polled, and their images or videos (with a video's watermarked
    copy) stored like the single operators'; a manifest and an HTML contact sheet (where videos
    play) are written beside them and XCom gets a small summary. A retry (or a
    restarted triggerer) resumes the items that exist and creates only the missing ones. See
    docs/operators/batch.rst.

    :param requests: A list of prompts, or of dicts of request fields (``prompt``, ``n``,
        ``aspect_ratio`` ... and an optional ``key`` that names the item), or a ``.csv``,
        ``.jsonl`` or ``.txt`` (one prompt per line) file rendered with the run's context. An
        image field may name an image in your storage, as on the single operators. (templated)
    :param request_kind: The kind of every item (a :class:`~airflow_provider_kling.kinds.RequestKind`,
        image or video; image generation by default); an item holds that kind's request fields
        (those of its single operator).
    :param slots: The account's concurrency (Kling slots) this batch may fill; an item holds ``n``.
    :param model_name: Model of every item without its own; by default the kind's own operator's
        default (``kling-v3`` for image generation). (templated)
    :param n: Images per item, for items without their own ``n`` (kinds that have ``n``).
    :param negative_prompt: For every item without its own. (templated)
    :param resolution: ``1k`` or ``2k``, for every item without its own. (templated)
    :param aspect_ratio: For every item without its own. (templated)
    :param callback_url: For every item without its own. (templated)
    :param key_field: The field (CSV column, dict key) that names an item: its identity across
        retries and edits of the list, and part of its file names. Without it, an item's key is
        its position in the list.
    :param requests_format: ``auto`` (from the file's extension), ``csv``, ``jsonl`` or ``lines``
        for a ``requests`` given as text.
    :param output_path: Where images or videos, manifest and contact sheet go (required). (templated)
    :param deferrable: Run the whole batch (admission and polls) in one trigger.
    :param poll_interval: Seconds between two polls of one running item.
    :param timeout: Seconds the whole batch may take; items not done by then are left to a retry.
    :param on_content_policy: ``"fail"`` (default): any refusal fails the task at the end (no
        retry), after every other item is done and stored; ``"skip"``: a refused item is recorded
        as refused in the manifest and the task succeeds when the rest did. Never generated again.
    :param max_units: The most Kling units this batch may spend, its tries together: an item whose
        estimate (:mod:`airflow_provider_kling.spend`) would pass it is not created and ends
        ``over_budget``. ``None`` (default): no limit.
    :param price_table: Your unit prices, ``{kind: {model: {tier: units per image}}}`` (``"*"`` for
        any), for the estimates before this batch's own tasks have ended: e.g.
        ``{"<kind>": {"kling-v3": {"1k": 8, "2k": 8}}}``. ``None`` (default): the stand-in prices
        (:mod:`airflow_provider_kling.unit_prices`). Either way, finished items teach the real price.
    :param progress_interval: Seconds between "k of N done, m running, ETA" log lines.
    :param wait_for_completion: ``False``: fire and forget. Every item is created with the
        operator's ``callback_url`` (``"receiver"``: this provider's receiver) as slots free, and
        the task ends once the last one is created; it never polls Kling: a slot is known to be
        free when its task's terminal callback is recorded on the connection's callback asset
        (``kling://<conn_id>/tasks``, an inlet of this task, read every ``poll_interval``).
        Nothing is stored here: a DAG scheduled on that asset stores the results
        (:class:`~airflow_provider_kling.operators.callbacks.KlingCallbackResultsOperator`). Runs on
        the worker (the triggerer cannot read asset events), whatever ``deferrable`` says.

    :param max_regenerations: New Kling tasks later tries may create per item after Kling-side
        failures other than content policy (the single operator's failure policy, per item).

    ``kling_conn_id`` and ``output_conn_id`` are as on every Kling operator
    (:class:`~airflow_provider_kling.operators.base.KlingOperatorBase`). The batch runs the same
    lifecycle as the single operator (reconcile by external task id, the poll plan, the store path,
    the failure policy) for each item; it takes no ``external_task_id`` (each item has its own) nor
    ``regenerate_expired``.
    """

    template_fields: Sequence[str] = (
        "requests",
        "model_name",
        "negative_prompt",
        "resolution",
        "aspect_ratio",
        "callback_url",
        "output_path",
        "output_conn_id",
        "kling_conn_id",
    )
    template_ext: Sequence[str] = (".csv", ".jsonl", ".ndjson", ".txt")
    template_fields_renderers: ClassVar[dict[str, str]] = {"requests": "json"}
    ui_color = "#c7d8ff"
    operator_extra_links = ()

    def __init__(
        self,
        *,
        requests: Any,
        slots: int,
        output_path: Any,
        request_kind: str = RequestKind.GENERATIONS.value,
        model_name: str | None = None,
        n: int | None = None,
        negative_prompt: str | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        requests_format: str = "auto",
        key_field: str = "key",
        poll_interval: float = DEFAULT_BATCH_POLL_INTERVAL,
        timeout: float = DEFAULT_BATCH_TIMEOUT,
        max_units: float | None = None,
        price_table: dict[str, Any] | None = None,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        callback_url: str | None = None,
        wait_for_completion: bool = True,
        **kwargs: Any,
    ) -> None:
        if not wait_for_completion:
            from airflow.sdk import Asset

            kwargs.setdefault(
                "inlets",
                [Asset(callback_events().callback_asset_uri(kwargs.get("kling_conn_id", DEFAULT_CONN_ID)))],
            )
        super().__init__(output_path=output_path, poll_interval=poll_interval, timeout=timeout, **kwargs)
        self.callback_url = callback_url
        self.wait_for_completion = wait_for_completion
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ValueError(f"slots must be an integer >= 1 (got {slots!r})")
        if not progress_interval > 0:
            raise ValueError(
                f"progress_interval must be a positive number of seconds (got {progress_interval!r})"
            )
        if max_units is not None:
            units_argument("max_units", max_units)
        formats = batch_items().FORMATS
        if requests_format != "auto" and requests_format not in formats:
            raise ValueError(
                f"requests_format must be auto or one of {', '.join(formats)} (got {requests_format!r})"
            )
        if (output_path is None or output_path == "") and self.wait_for_completion:
            raise ValueError(
                "output_path is required: the batch's images, manifest and contact sheet go there"
            )
        # The file's extension says its format; Airflow replaces the name with its rendered text.
        if requests_format == "auto" and (isinstance(requests, str) or is_a_file(requests)):
            requests_format = batch_items().format_of(str(requests)) or "auto"
        self.requests = requests
        self.request_kind = request_kind
        self.requests_format = requests_format
        self.key_field = key_field
        self.slots = slots
        self.model_name = model_name
        self.n = n
        self.negative_prompt = negative_prompt
        self.resolution = resolution
        self.aspect_ratio = aspect_ratio
        self.max_units = max_units
        if price_table is not None:
            price_table = estimates().check_price_table(price_table)
        self.price_table = price_table
        self.progress_interval = progress_interval

    # -- requests -------------------------------------------------------------------------------

    def build_items(self, context: Context) -> list[BatchItem]:
        """Every rendered request validated, each with its own external task id; else one clear error."""
        return list(self.item_source(context)())

    def item_source(self, context: Context) -> Callable[[], Iterator[BatchItem]]:
        """The batch's items, read again on each call (a file in storage is read as a stream: a
        batch of any size holds one row at a time); an invalid one raises one clear error listing
        every bad item, once all were read."""
        items_module, read_image_fields = batch_items(), image_inputs().read_image_fields
        given = {
            name: getattr(self, name) for name in DEFAULT_FIELDS if getattr(self, name) not in (None, "")
        }

        def rows() -> Iterator[Any]:
            requests = self.requests
            if isinstance(requests, str) or is_a_file(requests):  # a CSV must have this column
                required = items_module.first_required_field(self.request_kind)
            if is_a_file(requests):
                with (
                    running()
                    .storage.to_storage_path(requests, self.output_conn_id or None)
                    .open("r") as handle
                ):
                    yield from items_module.iter_rows(handle, self._format(), required)
            elif isinstance(requests, str):
                yield from items_module.parse_requests_text(requests, self._format(), required)
            elif isinstance(requests, dict) or not isinstance(requests, Sequence):
                raise KlingRequestValidationError(
                    "requests must be a list of prompts or request dicts, or a file "
                    f"(got {type(requests).__name__})"
                )
            else:
                yield from requests

        def items() -> Iterator[BatchItem]:
            try:
                if "callback_url" in given:
                    given["callback_url"] = self.resolve_callback_url(given["callback_url"])
                for item in items_module.iter_items(
                    rows(),
                    given,  # the rest: the request model's defaults
                    slots=self.slots,
                    key_field=self.key_field,
                    request_kind=self.request_kind,
                    read_images=lambda row, names: read_image_fields(row, names, self.output_conn_id or None),
                ):
                    if not item.request.external_task_id:
                        external_id = self._default_external_task_id(context, item.request, item.key)
                        item = type(item)(
                            item.number,
                            item.key,
                            running().idempotency.with_external_task_id(item.request, external_id),
                        )
                    yield item
            except KlingRequestValidationError as exc:
                raise fail_fast(exc) from None

        return items

    def _format(self) -> str:
        if self.requests_format == "auto":
            raise KlingRequestValidationError(
                "requests is text: name a .csv, .jsonl or .txt file, or set requests_format"
            )
        return self.requests_format

    # -- execution ------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        import asyncio

        BatchRunner = batching().runner.BatchRunner

        source = self.item_source(context)
        deadline = time.time() + self.timeout
        if self.wait_for_completion and self.deferrable:
            self._defer_batch(context, source, deadline)
        if not self.wait_for_completion and not all(item.request.callback_url for item in source()):
            raise fail_fast(
                KlingRequestValidationError(
                    "wait_for_completion=False needs a callback_url for every item (callback_url="
                    "'receiver' sends Kling's callbacks to this provider's receiver): without one no "
                    "task's end would ever be known"
                )
            )
        runner = BatchRunner.of(
            self.hook,
            lambda: ((item.key, item.request) for item in source()),  # validated, then read as admitted
            slots=self.slots,
            poll_interval=self.poll_interval,
            deadline=deadline,
            policy=self.failure_policy,
            log=self.log,
            max_units=self.max_units,
            price_table=self.price_table,
            progress_every=self.progress_interval,
            completions=None
            if self.wait_for_completion
            else self._recorded_completions(context, since=time.time() - 60),
        )
        admission = runner.admission
        self._log_batch(admission.items)
        asyncio.run(runner.run())
        if not self.wait_for_completion:
            return self._created_summary(admission, context, runner.completion_reads)
        return self._finish_batch(
            zip(source(), admission.items, strict=True),
            context,
            rate_limited=admission.budget.rate_limited,
            fatal=admission.fatal,
        )

    def _log_batch(self, items: list[ItemProgress]) -> None:
        self.log.info(
            "Kling batch: %d items, %d images, at most %d slots at once",
            len(items),
            sum(item.n for item in items),
            self.slots,
        )

    def _recorded_completions(self, context: Context, since: float) -> Any:
        """Reads the callback asset's events (recorded by the receiver) as ended Kling tasks.

        Each read asks only for events after the newest one seen, less a margin for events whose
        transaction committed late (where the accessor filters by time; Airflow 3.1 lists all)."""
        from datetime import UTC, datetime

        from airflow.sdk import Asset

        events_module = callback_events()
        asset = Asset(events_module.callback_asset_uri(self.kling_conn_id))  # an inlet (see __init__)
        cursor = [datetime.fromtimestamp(since, tz=UTC)]

        def read() -> list[dict[str, Any]]:
            events: Any = context["inlet_events"][asset]
            floor = cursor[0] - EVENT_READ_MARGIN
            if hasattr(events, "after"):
                events = events.after(floor.isoformat())
            ended = []
            for event in events:
                extra = event.extra
                stamp = getattr(event, "timestamp", None)
                if stamp is not None and stamp < floor:
                    continue  # Airflow 3.1 lists the asset's whole history
                if not isinstance(extra, dict) or "kling_task_id" not in extra:
                    continue
                if stamp is not None and stamp > cursor[0]:
                    cursor[0] = stamp
                # Read again next time while within the margin: a callback may be recorded before
                # the create's answer has made its item running (the runner ignores the rest).
                ended.append(events_module.task_of_event(extra))
            return ended

        return events_module.reading_again(read, logger=self.log)

    def _created_summary(self, admission: Any, context: Context, reads: int) -> dict[str, Any]:
        """What a fire-and-forget run leaves in XCom: every item's Kling task id and where it stands."""
        fields = ("key", "external_task_id", "kling_task_id", "status")
        items = [{name: getattr(state, name) for name in fields} for state in admission.items]
        counts = running().results.count_statuses(items)
        context["ti"].xcom_push(
            key=XCOM_BATCH_SUMMARY, value={"total": len(items), "counts": counts, "event_reads": reads}
        )
        self.log.info("Kling batch, fire and forget: %s (%d reads of the callback asset)", counts, reads)
        not_created = sum(
            counts.get(status, 0) for status in (batching().admission.PENDING, batching().admission.ERROR)
        )
        if not_created or admission.fatal:
            error = KlingError(
                f"{not_created} of {len(items)} batch items were not created ({counts}): "
                + (admission.fatal or "a retry creates only the missing ones")
            )
            error.airflow_retryable = admission.fatal is None
            raise fail_fast(error)
        if counts.get(batching().admission.OVER_BUDGET):
            self.log.warning("%d items not created: over max_units", counts[batching().admission.OVER_BUDGET])
        return {"total": len(items), "counts": counts, "event_reads": reads, "items": items}

    def _defer_batch(
        self, context: Context, source: Callable[[], Iterator[BatchItem]], deadline: float
    ) -> None:
        """Stage the validated items beside the outputs (one JSON line each) and defer to a trigger
        that reads them from there: its arguments name the file, whatever the batch's size."""
        write_lines, KlingBatchTrigger = batching().manifest.write_lines, batching().trigger.KlingBatchTrigger

        names, counted = self.output_names(context), [0, 0]

        def staged() -> Iterator[dict[str, Any]]:
            for item in source():
                counted[0], counted[1] = counted[0] + 1, counted[1] + item.n
                # the canonical fields (what build() takes), not the wire body of the API style
                yield {"key": item.key, "request": item.request.model_dump(mode="json", exclude_none=True)}

        path = self._output_base() / f"{names.folder}/{running().storage.safe_name(names.stem)}_items.jsonl"
        staged_uri = write_lines(path, staged())
        self.log.info(
            "Kling batch: %d items, %d images, at most %d slots at once; staged in %s",
            *counted,
            self.slots,
            staged_uri,
        )
        self.log.info("Deferring: the triggerer runs the batch (admission and polls) until it ends")
        self.defer(
            trigger=KlingBatchTrigger(
                items=staged_uri,
                output_conn_id=self.output_conn_id or None,
                max_units=self.max_units,
                price_table=self.price_table,
                request_kind=self.request_kind,
                kling_conn_id=self.kling_conn_id,
                slots=self.slots,
                poll_interval=self.poll_interval,
                deadline=deadline,
                max_regenerations=self.max_regenerations,
                on_content_policy=self.on_content_policy,
                progress_every=self.progress_interval,
            ),
            method_name="execute_complete",
            # Airflow's own bound, a little after the trigger's deadline (the trigger ends by then).
            timeout=running().poll.defer_timeout(self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any], **carried: Any) -> dict[str, Any]:
        """Resume after the trigger: store what succeeded, write manifest and contact sheet."""
        read_lines = batching().manifest.read_lines

        outcomes = event.get("items") or []
        if isinstance(outcomes, str):  # the trigger wrote them beside the staged items
            outcomes = read_lines(outcomes, self.output_conn_id or None)
        progress = (batching().admission.ItemProgress.from_json(data) for data in outcomes)
        if event.get("status") == "error":
            self.log.warning("The batch trigger stopped: %s", event.get("message"))
        return self._finish_batch(
            zip(self.item_source(context)(), progress, strict=True),
            context,
            rate_limited=int(event.get("rate_limited") or 0),
            fatal=event.get("fatal"),
        )

    # -- results --------------------------------------------------------------------------------

    def _finish_batch(
        self,
        pairs: Iterable[tuple[BatchItem, ItemProgress]],
        context: Context,
        *,
        rate_limited: int,
        fatal: str | None,
    ) -> dict[str, Any]:
        """Store, write manifest and contact sheet, push the summary; then fail when items did not
        succeed (Airflow retries resume them), at once when the account stopped the batch."""
        store_batch = batching().manifest.store_batch

        ti = context["ti"]
        base = self._output_base()
        results: list[dict[str, Any]] = []
        not_done: list[tuple[str, int]] = []

        def checked() -> Iterator[tuple[BatchItem, ItemProgress]]:
            try:
                for item, state in pairs:
                    if item.key != state.key:
                        raise ValueError(f"{item.key!r} is not {state.key!r}")
                    if state.status in (
                        batching().admission.FAILED,
                        batching().admission.ERROR,
                        batching().admission.UNFINISHED,
                    ):
                        not_done.append((state.status, state.generation))
                    yield item, state
            except ValueError:
                raise KlingError(
                    "The batch trigger reported other items than this task's requests; retry the task"
                ) from None

        try:
            summary = store_batch(
                base,
                checked(),
                hook=self.hook,
                names=self.output_names(context),
                log=self.log,
                results_out=results,
            )
        except KlingError as exc:
            raise fail_fast(exc) from exc
        self._record_outputs(results, running().assets.plain_uri(base), context)
        summary["rate_limited"] = rate_limited
        ti.xcom_push(key=XCOM_BATCH_SUMMARY, value=summary)
        counts = summary["counts"]
        self.log.info("Kling batch summary: %s", summary)
        total = summary["total"]
        errors = summary.get("storage_errors_total", len(summary["storage_errors"]))
        see = f"see the manifest {summary['manifest']}"
        ending = self.failure_policy.batch_ending(
            not_done,
            counts.get(batching().admission.REFUSED, 0),
            storage_errors=errors,
            fatal=fatal,
            why=f"{len(not_done)} of {total} batch items did not succeed ({counts}) and "
            f"{errors} could not all be stored; {see}",
            see=see,
        )
        if ending is not None:
            error = KlingError(ending.message)
            error.airflow_retryable = ending.action is running().policy.Action.RETRY
            raise airflow_exception(ending, error)
        return summary
