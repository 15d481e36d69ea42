"""lifecycle/poll.py: the poll step, the error budget and the deadline, without I/O or a real clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_kling.errors import (
    KlingAuthError,
    KlingServerError,
    KlingTaskFailedError,
    KlingTaskTimeoutError,
)
from airflow_provider_kling.lifecycle.poll import (
    DEFER_GRACE_SECONDS,
    MIN_REQUEST_SECONDS,
    PollPlan,
    defer_timeout,
    status_words,
    time_left,
)
from airflow_provider_kling.models.task import KlingTask


def task(status: str, **fields: object) -> KlingTask:
    return KlingTask.model_validate({"task_id": "42", "task_status": status, **fields})


def plan(**changes: Any) -> PollPlan:
    return PollPlan(**{"task_id": "42", "poll_interval": 10.0, "deadline": 100.0, "started": 0.0, **changes})


def test_step_is_the_interval_once_processing_and_grows_while_queued_up_to_three_intervals():
    waiting = plan()
    steps = []
    for _ in range(5):
        waiting.saw(task("submitted"))
        steps.append(waiting.step())
    waiting.saw(task("processing"))

    assert steps == [10.0, 15.0, 22.5, 30.0, 30.0]
    assert waiting.step() == 10.0


def test_next_delay_never_reaches_past_the_deadline():
    waiting = plan(deadline=24.0)
    waiting.saw(task("processing"))

    assert waiting.next_delay(now=0.0) == 10.0
    assert waiting.next_delay(now=20.0) == 4.0


def test_at_the_deadline_the_wait_ends_with_a_timeout_naming_task_status_and_last_error():
    waiting = plan(deadline=5.0)
    waiting.saw(task("processing"))
    waiting.failed(KlingServerError("maintenance", http_status=503, code=5001))

    with pytest.raises(KlingTaskTimeoutError) as raised:
        waiting.next_delay(now=5.0)

    assert raised.value.task_id == "42"
    assert "'processing'" in str(raised.value)
    assert "maintenance" in str(raised.value)


def test_a_task_never_read_times_out_as_could_not_be_read():
    waiting = plan(deadline=1.0)
    waiting.failed(KlingServerError("down", http_status=500))

    with pytest.raises(KlingTaskTimeoutError, match="could not be read"):
        waiting.next_delay(now=2.0)


def test_retryable_poll_errors_are_tolerated_up_to_the_budget_and_an_answer_resets_it():
    waiting = plan(max_poll_errors=2)
    error = KlingServerError("down", http_status=500)
    waiting.failed(error)
    waiting.failed(error)
    waiting.saw(task("processing"))
    waiting.failed(error)
    waiting.failed(error)

    with pytest.raises(KlingServerError):
        waiting.failed(error)


def test_an_error_no_retry_can_fix_ends_the_wait_at_once():
    with pytest.raises(KlingAuthError):
        plan().failed(KlingAuthError("bad key", http_status=401, code=1002))


def test_a_failed_task_raises_with_klings_reason():
    with pytest.raises(KlingTaskFailedError, match="risk control"):
        plan().saw(task("failed", task_status_msg="risk control"))


def test_saw_says_whether_the_status_changed():
    waiting = plan()
    assert [waiting.saw(task(s)) for s in ("submitted", "submitted", "processing", "processing")] == [
        True,
        False,
        True,
        False,
    ]


def test_status_words_read_as_english():
    assert [status_words(task(s)) for s in ("submitted", "processing", "succeed", "failed")] == [
        "is queued",
        "is processing",
        "succeeded",
        "failed",
    ]


def test_request_timeout_is_clamped_to_the_time_left_with_a_floor_for_the_last_look():
    assert time_left(None, now=0.0, ceiling=60.0) == 60.0
    assert time_left(100.0, now=0.0, ceiling=60.0) == 60.0
    assert time_left(100.0, now=97.5, ceiling=60.0) == 2.5
    assert time_left(100.0, now=100.0, ceiling=60.0) == MIN_REQUEST_SECONDS


def test_defer_timeout_outlasts_the_deadline_by_the_grace():
    assert defer_timeout(600) == timedelta(seconds=600 + DEFER_GRACE_SECONDS)


def test_an_answer_is_logged_once_per_status_and_only_succeed_ends_the_wait():
    import logging

    log = logging.getLogger("test_polling.answered")
    lines: list[tuple[int, str]] = []
    log.addHandler(handler := logging.Handler())
    handler.emit = lambda record: lines.append((record.levelno, record.getMessage()))  # type: ignore[method-assign]
    log.setLevel(logging.DEBUG)
    waiting = plan()
    answers = [waiting.answered(task(s), log, now) for s, now in (("processing", 5), ("processing", 15))]
    assert answers == [False, False]
    assert waiting.answered(task("succeed"), log, 25) is True
    assert lines == [
        (logging.INFO, "Kling task 42 is processing after 5s"),
        (logging.DEBUG, "Kling task 42 is processing after 15s"),
        (logging.INFO, "Kling task 42 succeeded after 25s"),
    ]
    with pytest.raises(KlingTaskFailedError):
        waiting.answered(task("failed", task_status_msg="internal error"), log, 35)


def test_one_poll_step_polls_at_the_expected_end_and_often_past_it():
    from airflow_provider_kling.lifecycle.poll import poll_step

    assert poll_step(5.0, now=100.0) == 5.0
    assert poll_step(5.0, now=100.0, expected_end=102.0) == 2.0  # at the expected end, not later
    assert poll_step(5.0, now=100.0, expected_end=150.0) == 5.0  # never longer than the interval
    assert poll_step(5.0, now=100.0, expected_end=99.0) == 0.5  # past it: a fraction of the interval
    assert [poll_step(10.0, 0.0, queued_polls=k) for k in (1, 2, 3, 9)] == [10.0, 15.0, 22.5, 30.0]


def test_the_batch_gives_an_item_up_on_the_same_error_budget_as_a_single_wait():
    from airflow_provider_kling.batch.admission import RUNNING, UNFINISHED, BatchAdmission, ItemProgress
    from airflow_provider_kling.lifecycle.poll import DEFAULT_MAX_POLL_ERRORS

    plan = PollPlan("42", poll_interval=1.0, deadline=1e9, started=0.0)
    item = ItemProgress(key="a", n=1, external_task_id="ext-a", model_name="kling-v1", status=RUNNING)
    admission = BatchAdmission([item], slots=1, poll_interval=1.0)
    for _ in range(DEFAULT_MAX_POLL_ERRORS):
        plan.failed(KlingServerError("busy"))
        admission.poll_failed(item, KlingServerError("busy"), 0.0)
    assert item.status == RUNNING
    with pytest.raises(KlingServerError):
        plan.failed(KlingServerError("busy"))
    admission.poll_failed(item, KlingServerError("busy"), 0.0)
    assert item.status == UNFINISHED
