"""spend.py: reading deductions, their one sum, budget decisions and plans."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kling.estimates import plan_within_budget
from airflow_provider_kling.models.task import task_from_data
from airflow_provider_kling.spend import (
    Budget,
    format_units,
    sum_units,
    total_units,
    units_of,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        (3, 3.0),
        ("0", 0.0),
        (" 4 ", 4.0),
        (None, None),
        ("", None),
        ("n/a", None),
        ("-1", None),
        ("nan", None),
        (True, None),
    ],
)
def test_units_of_reads_klings_decimal_string_and_refuses_what_is_no_deduction(value, expected) -> None:
    assert units_of(value) == expected


def test_total_units_sums_the_deductions_of_a_runs_results() -> None:
    results = [{"final_unit_deduction": "2"}, {"final_unit_deduction": "0.5"}, {"final_unit_deduction": 0}]
    assert total_units(results) == 2.5
    assert format_units(2.5) == "2.5" and format_units(4.0) == "4" and format_units(None) == "unknown"


@pytest.mark.parametrize("missing", [None, "", "n/a", "-1"])
def test_one_missing_deduction_makes_the_sum_unknown_not_smaller(missing) -> None:
    assert sum_units(["2", missing, "3"]) is None
    assert total_units([{"final_unit_deduction": "2"}, {}]) is None


def test_nothing_to_sum_is_zero_and_decimal_strings_add_without_float_noise() -> None:
    assert sum_units([]) == 0.0
    assert sum_units(["0.1"] * 3) == 0.3


def test_a_task_of_either_style_says_its_units_in_final_unit_deduction() -> None:
    def units(record: dict) -> float | None:
        return units_of(task_from_data({"status": "succeeded", **record}, "a task").final_unit_deduction)

    assert units({"task_id": "t", "task_status": "succeed", "final_unit_deduction": "4"}) == 4.0
    billing = [
        {"charge_type": "unit", "amount": "3.5", "package_type": "video"},
        {"charge_type": "unit", "amount": "0.5"},
        {"charge_type": "cash", "amount": "1.20", "currency": "USD"},
    ]
    assert units({"id": "t", "billing": billing}) == 4.0
    assert units({"id": "t", "billing": [{"charge_type": "cash", "amount": "1"}]}) is None
    assert units({"id": "t"}) is None


def test_budget_allows_an_item_only_while_deducted_plus_in_flight_plus_its_estimate_fit() -> None:
    budget = Budget(limit=10)
    assert budget.decide("a", 4).allowed
    budget.reserve("a", 4)
    budget.reserve("b", 4)
    budget.settle("a", 3.0)  # Kling deducted less than estimated

    fits = budget.decide("c", 3)
    too_much = budget.decide("d", 4)

    assert fits.allowed and fits.committed == 7.0
    assert not too_much.allowed
    assert too_much.reason == "over budget: 3 deducted + 4 in flight + 4 estimated for this item > 10 units"
    assert budget.remaining_units == 3.0


def test_budget_exactly_at_its_limit_is_allowed_and_a_counted_item_is_not_counted_twice() -> None:
    budget = Budget(limit=0.3)
    for key in ("a", "b", "c"):
        assert budget.decide(key, 0.1).allowed  # 0.1 + 0.1 + 0.1 == 0.3 despite float rounding
        budget.reserve(key, 0.1)
    assert not budget.decide("d", 0.1).allowed
    assert budget.decide("a", 0.1).allowed  # a resumed item is already counted


def test_settle_with_unknown_units_keeps_the_estimate_and_release_frees_it() -> None:
    budget = Budget(limit=5)
    budget.reserve("a", 2)
    budget.reserve("b", 2)
    budget.settle("a", None)
    budget.release("b")  # never reached Kling
    assert (budget.deducted_units, budget.in_flight_units) == (2.0, 0.0)


def test_budget_without_limit_counts_but_never_refuses_and_round_trips_through_json() -> None:
    budget = Budget()
    budget.reserve("a", 100)
    assert budget.decide("b", 1e9).allowed and budget.remaining_units is None
    budget.settle("a", 90)
    again = Budget.from_json(json.loads(json.dumps(Budget(limit=95, deducted=budget.deducted).to_json())))
    assert not again.decide("c", 6).allowed and again.decide("c", 5).allowed


@pytest.mark.parametrize("limit", [-1, "10", True, float("nan")])
def test_budget_limit_must_be_units(limit) -> None:
    with pytest.raises(ValueError, match="budget limit must be a number of units >= 0"):
        Budget(limit=limit)


def test_plan_within_budget_admits_what_fits_in_order_and_says_why_the_rest_is_not_generated() -> None:
    requests = [
        {"prompt": "a", "model_name": "kling-v2-1", "n": 2},  # 4
        {"prompt": "b", "model_name": "kling-v2-1", "resolution": "2k"},  # 4
        {"prompt": "c", "model_name": "kling-v2-1", "n": 2, "resolution": "2k"},  # 8: does not fit
        {"prompt": "d", "model_name": "kling-v1"},  # kling-v1: 1, still fits after c did not
    ]

    plan = plan_within_budget(requests, 10)

    assert [request["prompt"] for request in plan.admitted] == ["a", "b", "d"]
    assert plan.estimated_units == 9.0
    [left_out] = plan.not_generated
    assert left_out["request"]["prompt"] == "c" and left_out["estimated_units"] == 8.0
    assert left_out["reason"].startswith("over budget: 0 deducted + 8 in flight + 8 estimated")
    assert json.loads(json.dumps(plan.to_json()))["limit"] == 10


def test_plan_counts_what_was_already_spent() -> None:
    plan = plan_within_budget(
        [{"prompt": "a", "model_name": "kling-v1"}, {"prompt": "b", "model_name": "kling-v1"}], 3, spent=2
    )
    assert [r["prompt"] for r in plan.admitted] == ["a"]
