"""Spend reconciliation against the simulator: the billing export read page by page (cursor,
spacing, filters), bad queries refused before HTTP, and a run whose charges differ from the
stand-in prices reported task by task, exactly. Spacing is checked with a fake clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.estimates import LEARNT, UnitEstimator
from airflow_provider_kling.hooks import account as account_module
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.account import BillingDeduction
from airflow_provider_kling.models.requests import TextToAudioRequest
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.operators.resources import KlingSpendReconcileOperator
from airflow_provider_kling.spend_reconcile import RecordedSpend, reconcile_spend
from airflow_provider_kling.testing import KlingSimulator
from airflow_provider_kling.unit_prices import Purchase
from tests.unit.fakes import FakeClock
from tests.unit.task_context import RecordingTaskInstance, make_context


@pytest.fixture(autouse=True)
def fresh_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no account query sent yet (the spacing is process-wide state)."""
    monkeypatch.setattr(account_module, "_next_costs_query", {})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=500.0, wall=time.time() + 60)  # the default window ends after the tasks


def _run_tasks(hook: KlingHook, prompts: list[str], **fields: Any) -> list[str]:
    return [hook.create_task(prompt=prompt, model_name="kling-v3", **fields).task_id for prompt in prompts]


def test_the_export_is_read_page_by_page_by_cursor_spaced_a_second_apart(kling_connection, clock) -> None:
    hook = KlingHook(clock=clock)
    created = _run_tasks(hook, ["a", "b", "c"])

    package = hook.get_billing("package", limit=1)

    assert [d.task_id for d in package] == created  # oldest first, one per page
    assert [d.deduction_amount for d in package] == [2, 2, 2]  # kling-v3 1k: the stand-in 2 units
    assert package[0].unit_before_deduction - package[0].unit_after_deduction == 2
    assert kling_connection.counters(kling_connection.api_key)["billing"] == 3
    assert clock.waits == [1.0, 1.0]  # the export's rate limit is UNCONFIRMED: spaced like /costs
    balance = hook.get_billing("balance")
    assert {(d.currency, d.cash_type, str(d.list_price)) for d in balance} == {("USD", "balance", "0.28")}


def test_filters_are_kept_on_every_page_and_select_by_product_type(kling_connection, clock) -> None:
    hook = KlingHook(clock=clock)
    _run_tasks(hook, ["a", "b"])
    hook.create_task(TextToAudioRequest.build(prompt="rain", duration=5))

    images = hook.get_billing("package", limit=1, filters={"product_type": ["image"]})
    videos = hook.get_billing("package", filters={"product_type": "video"})

    assert {d.product_type for d in images} == {"image"} and len(images) == 2
    assert [(d.product_type, d.product_function) for d in videos] == [("video", "text-to-audio")]


@pytest.mark.parametrize(
    ("ledger", "query", "message"),
    [
        ("package", {"limit": 0}, "limit must be an integer from 1 to 500 .got 0"),
        ("package", {"limit": 501}, "limit must be an integer from 1 to 500"),
        ("balance", {"filters": {"product_type": ["image"]}}, "balance ledger filters by api_key_name only"),
        ("package", {"filters": {"package_name": ["a"], "package_id": ["1"]}}, "exclude each other"),
        ("package", {"filters": {"product_type": ["try_on"]}}, "product_type: each must be one of video"),
        ("package", {"filters": {"api_key_name": []}}, "filters.api_key_name: must be a non-empty list"),
        ("package", {"start_time": 2_000, "end_time": 1_000}, "start_time must not be after end_time"),
        ("cash", {}, "ledger must be one of package, balance"),
    ],
)
def test_bad_billing_queries_are_refused_before_any_http_call(
    kling_connection, clock, ledger: str, query: dict[str, Any], message: str
) -> None:
    with pytest.raises(KlingRequestValidationError, match=message):
        KlingHook(clock=clock).get_billing(ledger, **query)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_the_simulator_refuses_a_query_without_its_window_or_with_a_foreign_cursor(kling_simulator) -> None:
    url = f"{kling_simulator.base_url}/account/billing/package"
    headers = {"Authorization": f"Bearer {kling_simulator.api_key}"}

    no_window = requests.post(url, json={"limit": 10}, headers=headers, timeout=10).json()
    bad_cursor = requests.post(url, json={"cursor": "nonsense"}, headers=headers, timeout=10).json()
    wrong_key = requests.post(
        f"{kling_simulator.base_url}/account/billing/balance",
        json={"start_time": 0, "end_time": 1, "filters": [{"key": "product_type", "values": ["image"]}]},
        headers=headers,
        timeout=10,
    ).json()

    assert no_window["code"] == 1201 and "start_time and end_time" in no_window["message"]
    assert bad_cursor["code"] == 1201 and "cursor" in bad_cursor["message"]
    assert wrong_key["code"] == 1201 and "api_key_name" in wrong_key["message"]


def _operator(**kwargs: Any) -> KlingImageGenerationOperator:
    with DAG("kling_spend_run", schedule=None):
        return KlingImageGenerationOperator(task_id="generate", poll_interval=0.05, timeout=30, **kwargs)


def _batch(tmp_path: Path, requests: list[Any]) -> KlingBatchOperator:
    with DAG("kling_spend_run", schedule=None):
        return KlingBatchOperator(
            task_id="batch",
            requests=requests,
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )


def _reconcile(clock: FakeClock, **kwargs: Any) -> KlingSpendReconcileOperator:
    with DAG("kling_spend_run", schedule=None):
        operator = KlingSpendReconcileOperator(task_id="reconcile", **kwargs)
    operator.__dict__["hook"] = KlingHook(clock=clock)
    return operator


def test_a_run_charged_differently_from_the_stand_in_prices_reports_the_exact_difference_per_task(
    kling_connection: KlingSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    single = _operator(prompt="a red kite", model_name="kling-v3", n=1).execute(make_context())
    batch = _batch(tmp_path, [{"prompt": "a fox", "model_name": "kling-v3"}, {"prompt": "an owl", "n": 2}])
    events = OutletEventAccessors()
    summary = batch.execute(make_context(RecordingTaskInstance(task_id="batch"), outlet_events=events))
    extra = events[batch.outlets[0]].extra
    kling_connection.configure(charge_factor=1.1)  # Kling bills 10% over the stand-in prices

    report = _reconcile(clock, results=[single, summary], asset_events=[extra]).execute(make_context())

    rows = {row["task_id"]: row for row in report["tasks"]}
    assert len(rows) == 3 and report["counts"] == {"matches": 0, "differs": 3, "not billed": 0}
    assert rows[single["task_id"]]["recorded_units"] == {"xcom": 2.0}
    # Exact: 2 x 1.1 - 2 is 0.2, not float's 0.20000000000000018.
    assert (rows[single["task_id"]]["charged_units"], rows[single["task_id"]]["difference_units"]) == (
        2.2,
        0.2,
    )
    by_prompt = {item["prompt"]: item for item in _manifest_items(summary)}
    owl = rows[by_prompt["an owl"]["kling_task_id"]]
    assert owl["recorded_units"] == {"manifest": 4.0}  # 2 images of 2 units
    assert (owl["charged_units"], owl["difference_units"]) == (4.4, 0.4)
    assert owl["priced_as"]["quantity"] == 2
    [event] = report["asset_events"]
    assert (event["recorded_units"], event["charged_units"], event["difference_units"]) == (6.0, 6.6, 0.6)
    assert (report["recorded_units"], report["charged_units"], report["difference_units"]) == (8.0, 8.8, 0.8)
    assert rows[single["task_id"]]["charged_cash"] == pytest.approx(2.2 * 0.14)


def _manifest_items(summary: dict[str, Any]) -> list[dict[str, Any]]:
    import json

    return json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())["items"]


def test_charges_as_recorded_match_and_a_task_not_yet_billed_is_said_so(kling_connection, clock) -> None:
    hook = KlingHook(clock=clock)
    done = hook.get_task(hook.create_task(prompt="a", model_name="kling-v3").task_id).to_xcom()
    kling_connection.set_progress("manual")
    running = hook.create_task(prompt="b", model_name="kling-v3").to_xcom()

    report = _reconcile(clock, results=[done, running], fail_on_difference=True).execute(make_context())

    assert [(row["task_id"], row["status"]) for row in report["tasks"]] == [
        (done["task_id"], "matches"),
        (running["task_id"], "not billed"),
    ]
    assert report["tasks"][0]["difference_units"] == 0.0 and report["tasks"][1]["charged_units"] is None


def test_fail_on_difference_fails_the_task_naming_the_difference(kling_connection, clock) -> None:
    hook = KlingHook(clock=clock)
    result = hook.get_task(hook.create_task(prompt="a", model_name="kling-v3", n=3).task_id).to_xcom()
    kling_connection.configure(charge_factor=0.5)

    with pytest.raises(AirflowFailException, match=r"1 differ \(-3 units"):
        _reconcile(clock, results=result, fail_on_difference=True).execute(make_context())


def test_what_kling_charged_teaches_the_estimator_its_price() -> None:
    purchase = Purchase("generations", "kling-v3", "1k", 2)
    recorded = RecordedSpend().add_manifest(
        {"items": [{"kling_task_id": "830000000000000001", "units": "4", "priced_as": purchase.to_json()}]}
    )
    billed = [BillingDeduction(task_id="830000000000000001", deduction_amount="5")]
    report = reconcile_spend(recorded, billed)
    estimator = UnitEstimator()

    assert estimator.learn_from_reconciliation(report) == 1

    estimate = estimator.estimate_purchase(Purchase("generations", "kling-v3", "1k", 1))
    assert (estimate.units, estimate.source) == (2.5, LEARNT)


def test_the_approval_gate_learns_prices_from_a_reconciliation_report(kling_connection) -> None:
    from airflow_provider_kling.operators.approval import KlingSpendApprovalOperator

    purchase = Purchase("generations", "kling-v3", "2k", 1)
    report = {"tasks": [{"task_id": "1", "priced_as": purchase.to_json(), "charged_units": 7.5}]}
    with DAG("kling_spend_run", schedule=None):
        gate = KlingSpendApprovalOperator(
            task_id="approve", requests=[], threshold_units=10, reconciliation=report, learn_prices=True
        )

    estimator = gate._estimator([])

    assert estimator.estimate_purchase(purchase).units == 7.5
