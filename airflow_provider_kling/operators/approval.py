"""
KlingSpendApprovalOperator: a person's yes in the Airflow UI before a run spends more than a threshold.

Built on Airflow's own human-in-the-loop :class:`~airflow.providers.standard.operators.hitl.ApprovalOperator`
(Airflow >= 3.1 with ``apache-airflow-providers-standard`` >= 1.12.2): the estimate and the account's
remaining units are worked out when the task runs; under the threshold the task succeeds at once
and nothing is asked; over it, the question waits in the UI (or the REST API) for Approve or Reject.
Reject, or no answer before ``response_timeout``, skips the tasks downstream (the batch).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_kling.defaults import DEFAULT_CONN_ID
from airflow_provider_kling.errors import KlingError
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import units_argument
from airflow_provider_kling.operators.lazy import estimates, kling_hook
from airflow_provider_kling.spend import format_units
from airflow_provider_kling.storage import read_manifest

#: What to install when Airflow's HITL operators are missing or too old.
HITL_REQUIREMENT = "apache-airflow>=3.1 and apache-airflow-providers-standard>=1.12.2"
#: XCom key of the estimate the question showed (read back when the answer comes).
XCOM_SPEND_ESTIMATE = "kling_spend_estimate"
#: How many of the costliest requests the question lists.
MOST_EXPENSIVE = 10
DEFAULT_RESPONSE_TIMEOUT = timedelta(hours=24)

if TYPE_CHECKING:
    from airflow.providers.standard.operators.hitl import ApprovalOperator
    from airflow.sdk import Context

    from airflow_provider_kling.estimates import SpendEstimate
    from airflow_provider_kling.hooks.kling import KlingHook

    _HITL_MISSING: str | None = None
else:
    try:
        from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
    except Exception as exc:  # ImportError, or the provider's "needs Airflow 3.1+" exception
        from airflow.sdk import BaseOperator as ApprovalOperator

        _HITL_MISSING = f"{type(exc).__name__}: {exc}"
    else:
        _HITL_MISSING = (
            None
            if "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
            else "the installed standard provider's HITLOperator has no response_timeout"
        )


class KlingSpendApprovalOperator(ApprovalOperator):
    """
    Ask a person to approve a Kling run whose estimated units reach ``threshold_units``.

    The estimate covers every request (any kind, see :mod:`airflow_provider_kling.estimates`), on
    the account's own prices learnt from its recent finished tasks, else ``price_table``, else the
    stand-in prices (the question says so). The question shows the estimate and where its prices
    came from, the units left in the account's online resource packs, the ten costliest requests
    and, when given, the contact sheet of a preview run.

    :param requests: The run's requests: prompts, or dicts of a request's fields with ``kind``
        (a :class:`~airflow_provider_kling.kinds.RequestKind`; default image generation). (templated)
    :param threshold_units: Ask only when the estimate reaches this many units; below it the task
        succeeds at once and the run goes ahead.
    :param price_table: Your unit prices ``{kind: {model: {tier: units}}}`` for what the account's
        finished tasks have not taught.
    :param learn_prices: Learn the account's prices (default True): from the preview's items, each at
        exactly what it bought, and from the account's latest finished tasks of the requests' kinds
        (their rate per image or second).
    :param preview: A preview run: the batch operator's summary (its contact sheet is linked in the
        question, its manifest's items teach the prices), or a contact sheet's URL. (templated)
    :param reconciliation: The report of a
        :class:`~airflow_provider_kling.operators.resources.KlingSpendReconcileOperator`: what Kling's
        billing export charged each task of a known purchase teaches its price (with ``learn_prices``).
        (templated)
    :param response_timeout: How long the question waits (default a day); then the answer is Reject.
    :param kling_conn_id: The ``kling`` connection. (templated)

    Other keywords go to :class:`~airflow.providers.standard.operators.hitl.ApprovalOperator`
    (``assigned_users``, ``notifiers``, ``ignore_downstream_trigger_rules``, ...).
    Returns (XCom) ``{"approved", "asked", "timed_out", "responded_by", "estimate", "remaining_units"}``
    when the run goes ahead; on Reject the task ends by skipping downstream, and the estimate the
    question showed stays in XCom under :data:`XCOM_SPEND_ESTIMATE`.
    """

    template_fields: Sequence[str] = ("requests", "preview", "reconciliation", "kling_conn_id")
    ui_color = "#ffe9c7"

    def __init__(
        self,
        *,
        requests: Any,
        threshold_units: float,
        price_table: dict[str, Any] | None = None,
        learn_prices: bool = True,
        preview: Any = None,
        reconciliation: Any = None,
        response_timeout: timedelta = DEFAULT_RESPONSE_TIMEOUT,
        kling_conn_id: str = DEFAULT_CONN_ID,
        subject: str = "Approve a Kling spend?",
        **kwargs: Any,
    ) -> None:
        if _HITL_MISSING is not None:
            raise ImportError(
                f"KlingSpendApprovalOperator needs Airflow's human-in-the-loop operators: install "
                f"{HITL_REQUIREMENT} ({_HITL_MISSING})"
            )
        if "defaults" in kwargs or "body" in kwargs:
            raise ValueError(
                "KlingSpendApprovalOperator writes the question's body itself and its default is "
                "always Reject: do not pass defaults or body"
            )
        threshold = units_argument("threshold_units", threshold_units)
        if price_table is not None:
            price_table = estimates().check_price_table(price_table)
        if not isinstance(response_timeout, timedelta) or response_timeout <= timedelta(0):
            raise ValueError(f"response_timeout must be a positive timedelta (got {response_timeout!r})")
        super().__init__(
            subject=subject,
            defaults=ApprovalOperator.REJECT,
            # A plain timedelta: Airflow 3.3 cannot send a pendulum Duration to its supervisor
            # ("Objects of type Duration are not supported") and the task fails instead of waiting.
            response_timeout=timedelta(seconds=response_timeout.total_seconds()),
            **kwargs,
        )
        self.requests = requests
        self.threshold_units = threshold
        self.price_table = price_table
        self.learn_prices = learn_prices
        self.preview = preview
        self.reconciliation = reconciliation
        self.kling_conn_id = kling_conn_id

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def execute(self, context: Context) -> Any:
        requests = _request_list(self.requests)
        estimator = self._estimator(requests)
        try:
            estimate: SpendEstimate = estimates().estimate_requests(requests, estimator)
        except ValueError as exc:  # a request without a price: a retry cannot help
            from airflow.providers.common.compat.sdk import AirflowFailException

            raise AirflowFailException(f"Cannot estimate this run's units: {exc}") from None
        remaining = self._remaining_units()
        summary = {"estimate": estimate.to_json(), "remaining_units": remaining}
        self.log.info("Kling spend estimate: %s; %s", estimate.describe(), _describe_remaining(remaining))
        if estimate.units < self.threshold_units:
            self.log.info(
                "The estimate is under the threshold of %g units: no approval asked, the run goes on",
                self.threshold_units,
            )
            return {"approved": True, "asked": False, "timed_out": False, "responded_by": None, **summary}
        context["ti"].xcom_push(key=XCOM_SPEND_ESTIMATE, value=summary)
        self.subject = (
            f"{self.subject} About {_units(estimate.units)} units, {_describe_remaining(remaining)}"
        )
        self.body = spend_question(
            estimate,
            remaining,
            threshold_units=self.threshold_units,
            contact_sheet=_contact_sheet_of(self.preview),
            response_timeout=self.response_timeout,
        )
        self.log.info(
            "Asking for approval (threshold %g units); no answer by the timeout means Reject",
            self.threshold_units,
        )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        if "error" in event:
            return super().execute_complete(context, event)  # raises, naming the error
        approved = list(event.get("chosen_options") or ()) == [self.APPROVE]
        timed_out = bool(event.get("timedout"))
        user = event.get("responded_by_user") or {}
        who = user.get("name") or user.get("id")
        # Logged before the base class runs: on Reject it skips the tasks downstream by raising.
        if approved:
            self.log.info("Kling spend approved by %s: the run goes ahead", who)
        elif timed_out:
            self.log.warning(
                "Kling spend NOT approved: no answer before the response timeout (the default is "
                "Reject); the run downstream is skipped"
            )
        else:
            self.log.warning("Kling spend NOT approved: rejected by %s; the run downstream is skipped", who)
        summary = context["ti"].xcom_pull(task_ids=self.task_id, key=XCOM_SPEND_ESTIMATE) or {}
        super().execute_complete(context, event)
        return {"approved": approved, "asked": True, "timed_out": timed_out, "responded_by": who, **summary}

    def _estimator(self, requests: list[Any]) -> Any:
        estimator = estimates().UnitEstimator(price_table=self.price_table)
        if self.learn_prices and isinstance(self.preview, Mapping) and self.preview.get("manifest"):
            learnt = estimator.learn_from_manifest(self._preview_items())
            self.log.info("Learnt prices from %d finished item(s) of the preview", learnt)
        if self.learn_prices and isinstance(self.reconciliation, Mapping):
            learnt = estimator.learn_from_reconciliation(self.reconciliation)
            self.log.info("Learnt prices from %d task(s) of Kling's billing export", learnt)
        if self.learn_prices:
            request_fields = estimates().request_fields
            kinds = sorted({request_fields(request)[0] for request in requests} & set(RequestKind))
            estimates().learn_from_account(self.hook, estimator, kinds=kinds, log=self.log)
        return estimator

    def _preview_items(self) -> list[Any]:
        try:
            return list(read_manifest(self.preview).get("items") or ())
        except (OSError, ValueError) as exc:
            self.log.warning("Could not read the preview's manifest %s: %s", self.preview["manifest"], exc)
            return []

    def _remaining_units(self) -> float | None:
        try:
            return self.hook.get_account_costs().remaining_units()
        except KlingError as exc:
            self.log.warning("Could not read the account's resource packs: %s", exc)
            return None


def _request_list(requests: Any) -> list[Any]:
    if isinstance(requests, str | Mapping) or not isinstance(requests, Sequence):
        raise ValueError(
            f"requests must be a list of prompts or request dicts (got {type(requests).__name__})"
        )
    return [{"prompt": request} if isinstance(request, str) else request for request in requests]


def _contact_sheet_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("contact_sheet")
    return str(value) if value else None


def _units(units: float) -> str:
    return format_units(round(units, 2))


def _describe_remaining(remaining: float | None) -> str:
    if remaining is None:
        return "the units left in the account are unknown"
    return f"{_units(remaining)} units left in the account's online resource packs"


def _describe_wait(wait: timedelta) -> str:
    seconds = int(wait.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def spend_question(
    estimate: SpendEstimate,
    remaining: float | None,
    *,
    threshold_units: float,
    contact_sheet: str | None,
    response_timeout: timedelta | None,
) -> str:
    """The question's body (Markdown): estimate and sources, what is left, the costliest requests."""
    lines = [f"**Estimate: {estimate.describe()}.**", ""]
    if remaining is None:
        lines.append("**Units left in the account: unknown** (its resource packs could not be read).")
    else:
        lines.append(
            f"**Units left in the account's online resource packs: {_units(remaining)}** "
            "(Kling's figures lag by up to 12 hours)."
        )
        if estimate.units > remaining:
            lines.append("The estimate is more than what is left: creates past it fail with code 1102.")
    lines += ["", f"Approval is asked from {_units(threshold_units)} units."]
    if contact_sheet:
        lines += ["", f"Preview: [contact sheet]({contact_sheet})"]
    lines += ["", f"The {min(MOST_EXPENSIVE, len(estimate.items))} costliest requests:", ""]
    lines += ["| # | request | units | prices |", "|---|---|---|---|"]
    labels = estimates().SOURCE_LABELS
    for item in estimate.most_expensive(MOST_EXPENSIVE):
        source = labels.get(item.source, item.source)
        lines.append(f"| {item.index} | {_cell(item.label)} | {_units(item.units)} | {source} |")
    wait = f" within {_describe_wait(response_timeout)}" if response_timeout else ""
    lines += ["", f"Approve to run it. Reject, or no answer{wait}, skips the run."]
    return "\n".join(lines)
