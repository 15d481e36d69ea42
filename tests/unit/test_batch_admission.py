"""The batch's slot admission: no I/O, so the decisions are tested one by one."""

from __future__ import annotations

from airflow_provider_kling.batch.admission import (
    CREATING,
    ERROR,
    FAILED,
    PENDING,
    REFUSED,
    RUNNING,
    SUCCEEDED,
    BatchAdmission,
    ItemProgress,
)
from airflow_provider_kling.errors import (
    KlingAccountError,
    KlingConnectError,
    KlingContentPolicyError,
    KlingCreateOutcomeUnknownError,
    KlingRateLimitError,
)


def batch(*weights: int, slots: int = 4, poll_interval: float = 1.0) -> BatchAdmission:
    items = [ItemProgress(key=str(i), n=n, external_task_id=f"ext-{i}") for i, n in enumerate(weights)]
    return BatchAdmission(items, slots=slots, poll_interval=poll_interval)


def task(status: str, task_id: str = "t", msg: str = "") -> dict:
    return {"task_id": task_id, "task_status": status, "task_status_msg": msg}


def test_admission_fills_the_budget_weighted_by_n_and_never_beyond():
    admission = batch(2, 1, 2, 1, 1, slots=4)

    first = admission.admit(0.0)

    assert [item.key for item in first] == ["0", "1", "3"]  # 2 + 1 + 1: item 2 (n=2) does not fit
    assert admission.in_use() == 4
    assert admission.admit(0.0) == []


def test_a_slot_is_refilled_only_once_an_item_has_ended():
    admission = batch(1, 1, 1, slots=2)
    a, b = admission.admit(0.0)
    admission.created(a, task("submitted", "ta"), 0.0)
    admission.created(b, task("submitted", "tb"), 0.0)
    assert admission.due_polls(0.5) == []

    due = admission.due_polls(1.0)
    admission.polled(due[0], task("processing", "ta"), 1.0)
    admission.polled(due[1], task("succeed", "tb"), 1.0)

    assert [item.key for item in admission.admit(1.0)] == ["2"]
    assert admission.items[1].status == SUCCEEDED


def test_a_1303_requeues_the_item_and_holds_the_budget_at_what_runs_for_a_cool_down():
    admission = batch(1, 1, 1, 1, slots=4)
    items = admission.admit(0.0)
    admission.created(items[0], task("submitted", "a"), 0.0)
    admission.created(items[1], task("submitted", "b"), 0.0)

    admission.create_failed(items[2], KlingRateLimitError("busy", code=1303), 0.0)
    admission.create_failed(items[3], KlingRateLimitError("busy", code=1303), 0.0)

    assert [item.status for item in items] == [RUNNING, RUNNING, PENDING, PENDING]
    assert admission.budget.rate_limited == 2
    assert admission.budget.available(1.0) == 2  # held at what runs: items 0 and 1
    assert admission.admit(1.0) == []
    # the cool-down doubled on the second 1303: 30 s then 60 s from t=0
    assert admission.budget.available(61.0) == 4
    assert [item.key for item in admission.admit(61.0)] == ["2", "3"]


def test_retry_after_longer_than_the_cool_down_is_honoured_exactly():
    admission = batch(1, slots=1)
    (item,) = admission.admit(0.0)
    admission.create_failed(item, KlingRateLimitError("busy", code=1303, retry_after=90), 0.0)

    assert admission.admit(89.0) == []
    assert [i.key for i in admission.admit(90.0)] == ["0"]


def test_refusals_are_recorded_and_other_failures_tell_apart():
    admission = batch(1, 1, 1, slots=3)
    a, b, c = admission.admit(0.0)

    admission.create_failed(a, KlingContentPolicyError("refused", code=1301), 0.0)
    admission.created(b, task("failed", "tb", "Failure to pass the risk control system"), 0.0)
    admission.created(c, task("failed", "tc", "internal error, please retry"), 0.0)

    assert [a.status, b.status, c.status] == [REFUSED, REFUSED, FAILED]
    assert admission.done()


def test_a_create_that_never_arrived_is_tried_again_later_and_an_unknown_outcome_is_not():
    admission = batch(1, 1, slots=2)
    a, b = admission.admit(0.0)

    admission.create_failed(a, KlingConnectError("no connection"), 0.0)
    admission.create_failed(b, KlingCreateOutcomeUnknownError("lost"), 0.0)

    assert (a.status, a.not_before) == (PENDING, 1.0)
    assert b.status == ERROR
    assert admission.admit(0.5) == []
    assert admission.admit(1.0) == [a] and a.status == CREATING


def test_an_account_error_stops_the_batch_but_running_items_are_still_followed():
    admission = batch(1, 1, 1, slots=2)
    a, b = admission.admit(0.0)
    admission.created(a, task("submitted", "ta"), 0.0)

    admission.create_failed(b, KlingAccountError("resource pack used up", code=1102), 0.0)

    assert admission.fatal and admission.items[2].status == ERROR
    assert admission.admit(5.0) == []
    assert admission.due_polls(5.0) == [a]
    admission.polled(a, task("succeed", "ta"), 5.0)
    assert admission.done()


def test_progress_line_counts_and_estimates():
    admission = batch(1, 1, 1, slots=2)
    a, b = admission.admit(0.0)
    admission.created(a, task("submitted", "ta"), 0.0)
    admission.created(b, task("submitted", "tb"), 0.0)
    admission.polled(a, task("succeed", "ta"), 10.0)

    line = admission.progress_line(10.0)

    assert line.startswith("1 of 3 done, 1 running, ETA 10s")
    assert "1 succeeded" in line


def test_item_progress_round_trips_through_json():
    item = ItemProgress(key="k", n=2, external_task_id="e", status=RUNNING, kling_task_id="t")
    assert ItemProgress.from_json(item.to_json()) == item


def test_a_running_task_is_polled_at_its_expected_end_then_often():
    admission = batch(1, 1, slots=2, poll_interval=10.0)
    a, b = admission.admit(0.0)
    admission.created(a, task("submitted", "ta"), 0.0)
    admission.created(b, task("submitted", "tb"), 0.0)
    assert b.next_poll == 10.0  # nothing known yet: the poll interval
    took_12s = {"created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:12+00:00"}

    assert admission.due_polls(10.0) == [a, b]
    admission.polled(a, {**task("succeed", "ta"), **took_12s}, 10.0)  # Kling's clock: 12 s
    admission.polled(b, task("processing", "tb"), 10.0)
    assert b.next_poll == 12.0  # at its expected end, not 10 s later

    admission.due_polls(12.0)
    admission.polled(b, task("processing", "tb"), 12.0)
    assert b.next_poll == 13.0  # past it: every tenth of the interval


def test_an_item_over_the_unit_budget_waits_while_units_are_in_flight_then_is_not_created():
    items = [
        ItemProgress(key=k, n=n, external_task_id=f"ext-{k}", model_name="kling-v1")
        for k, n in (("a", 2), ("b", 2))
    ]
    admission = BatchAdmission(items, slots=4, poll_interval=1.0, max_units=3)

    (a,) = admission.admit(0.0)  # b's 2 units on top of a's 2 in flight would pass 3
    assert items[1].status == PENDING
    admission.created(a, {**task("succeed", "ta"), "final_unit_deduction": "2"}, 1.0)

    assert admission.admit(1.0) == []
    assert items[1].status == "over_budget" and "over budget" in (items[1].message or "")
    assert admission.ledger.deducted_units == 2.0 and admission.done()


def test_retry_after_shorter_than_the_cool_down_is_all_the_budget_waits():
    admission = batch(1, slots=1)
    (item,) = admission.admit(0.0)
    admission.create_failed(item, KlingRateLimitError("busy", code=1303, retry_after=2), 0.0)

    assert admission.admit(1.9) == []
    assert [i.key for i in admission.admit(2.0)] == ["0"]


def test_create_backoff_after_errors_never_exceeds_the_poll_interval():
    admission = batch(1, slots=1, poll_interval=1.0)
    (item,) = admission.admit(0.0)
    now = 0.0
    for _ in range(6):  # the backoff doubles, but stops at the poll interval
        admission.create_failed(item, KlingConnectError("no connection"), now)
        assert item.not_before - now <= 1.0
        now = item.not_before
        assert admission.admit(now) == [item]


def test_an_item_still_queued_is_polled_less_often_as_the_poll_plan_backs_off():
    admission = batch(1, slots=1, poll_interval=2.0)
    (item,) = admission.admit(0.0)
    admission.created(item, task("submitted", "ta"), 0.0)
    first_step = item.next_poll

    admission.due_polls(first_step)
    admission.polled(item, task("submitted", "ta"), first_step)
    second_step = item.next_poll - first_step
    admission.due_polls(item.next_poll)
    admission.polled(item, task("processing", "ta"), item.next_poll)

    assert (first_step, second_step) == (2.0, 3.0)  # the plan's queued backoff: 1.5x
    assert item.queued_polls == 0  # processing: the backoff starts again
