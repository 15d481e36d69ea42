"""The lifecycle core: outcomes, the failure policy and the reconcile decision (no Airflow, no HTTP)."""

from __future__ import annotations

import pytest

from airflow_provider_kling.lifecycle.policy import FailurePolicy, Outcome, Verdict, outcome_of
from airflow_provider_kling.lifecycle.reconcile import (
    MAX_GENERATIONS_SCANNED,
    decide,
    newest_generation,
    run_scan,
)
from airflow_provider_kling.models.task import TaskStatus, task_from_data

REFUSAL = "Failure to pass the risk control system"


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("submitted", None, Outcome.RUNNING),
        ("processing", None, Outcome.RUNNING),
        ("succeed", None, Outcome.SUCCEEDED),
        (TaskStatus("succeeded"), None, Outcome.SUCCEEDED),  # the new-style spelling, as decoded
        ("failed", "internal error", Outcome.FAILED),
        ("failed", REFUSAL, Outcome.REFUSED),
    ],
)
def test_outcome_of_each_status(status, message, expected):
    assert outcome_of(status, message) is expected


def test_at_most_max_regenerations_plus_one_tasks_per_request():
    assert [FailurePolicy(max_regenerations=2).verdict(Outcome.FAILED, g) for g in (1, 2, 3)] == [
        Verdict.REGENERATE,
        Verdict.REGENERATE,
        Verdict.EXHAUSTED,
    ]
    assert FailurePolicy(max_regenerations=5).verdict(Outcome.REFUSED, 1) is Verdict.REFUSED
    with pytest.raises(ValueError, match="only given on a failed task"):
        FailurePolicy(max_regenerations=2).verdict(Outcome.SUCCEEDED, 1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"on_content_policy": "record"}, "on_content_policy must be one of fail, skip"),
        ({"max_regenerations": -1}, "max_regenerations must be an integer >= 0"),
        ({"max_regenerations": True}, "max_regenerations must be an integer >= 0"),
        ({"regenerate_expired": "yes"}, "regenerate_expired must be True or False"),
    ],
)
def test_policy_refuses_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        FailurePolicy(**kwargs)


def test_decide_creates_generation_one_when_nothing_exists():
    decision = decide("base", None, 0, FailurePolicy())
    assert (decision.action, decision.generation, decision.external_task_id) == ("create", 1, "base")


@pytest.mark.parametrize("status", ["submitted", "processing", "succeed"])
def test_decide_resumes_a_running_or_finished_generation(status):
    task = {"task_id": "t2", "task_status": status}
    decision = decide("base", task, 2, FailurePolicy())
    assert (decision.action, decision.generation, decision.external_task_id, decision.task) == (
        "resume",
        2,
        "base-2",
        task,
    )


def test_decide_regenerates_a_failure_within_the_bound_and_stops_after():
    failed = {"task_status": "failed", "task_status_msg": "internal error"}
    policy = FailurePolicy(max_regenerations=1)
    again = decide("base", failed, 1, policy)
    assert (again.action, again.generation, again.external_task_id) == ("create", 2, "base-2")
    stop = decide("base", failed, 2, policy)
    assert stop.action == "exhausted"
    assert "max_regenerations=1" in (stop.message or "")


def test_decide_never_regenerates_a_refused_request():
    refused = {"task_status": "failed", "task_status_msg": REFUSAL}
    decision = decide("base", refused, 1, FailurePolicy(max_regenerations=5))
    assert (decision.action, decision.message) == ("refused", REFUSAL)


def test_decide_reads_a_parsed_task_too():
    task = task_from_data(
        {"task_id": "t1", "task_status": "failed", "task_status_msg": REFUSAL}, "a task", None
    )
    assert decide("base", task, 1, FailurePolicy()).action == "refused"


def test_scan_finds_the_newest_generation_by_lookup_and_from_a_page():
    known = {"base": "g1", "base-2": "g2", "other": "x"}
    looked: list[str] = []

    def lookup(external_id: str) -> str | None:
        looked.append(external_id)
        return known.get(external_id)

    assert run_scan("base", lookup) == ("g2", 2)
    assert looked == ["base", "base-2", "base-3"]  # stops at the first generation not found
    assert newest_generation("base", known) == ("g2", 2)
    assert newest_generation("missing", known) == (None, 0)


def test_scan_is_bounded_on_a_host_that_answers_every_id():
    assert run_scan("base", lambda external_id: external_id) == (
        f"base-{MAX_GENERATIONS_SCANNED}",
        MAX_GENERATIONS_SCANNED,
    )


class FakeHook:
    """Kling's tasks by external id and by task id; creates are recorded."""

    def __init__(self, *tasks: dict) -> None:
        self.tasks = {task["task_info"]["external_task_id"]: task for task in tasks}
        self.created: list[str] = []

    def find_task_by_external_id(self, external_id, endpoint, api_style="v1"):
        task = self.tasks.get(external_id)
        return task_from_data(task, "test") if task else None

    def find_task(self, task_id, endpoint, api_style="v1"):
        return next((task_from_data(t, "test") for t in self.tasks.values() if t["task_id"] == task_id), None)

    def create_task(self, request):
        self.created.append(request.external_task_id)
        return task_from_data(
            kling_task(f"t{len(self.created) + 10}", request.external_task_id, "submitted"), "test"
        )


class Store(dict):
    def set(self, key, value):
        self[key] = value


def kling_task(task_id: str, external_id: str, status: str, message: str | None = None) -> dict:
    return {
        "task_id": task_id,
        "task_status": status,
        "task_status_msg": message,
        "task_info": {"external_task_id": external_id},
        "created_at": 1,
        "updated_at": 2,
    }


def request_tasks(hook, store=None, **policy):
    import logging

    from airflow_provider_kling.lifecycle.request import RequestTasks
    from airflow_provider_kling.models.requests.generations import ImageGenerationRequest

    request = ImageGenerationRequest.build(model_name="kling-v1", prompt="a fox", n=1, external_task_id="req")
    pushed: list[str] = []
    tasks = RequestTasks(
        hook,
        request,
        FailurePolicy(**policy),
        store=store,
        push_task_id=pushed.append,
        log=logging.getLogger(),
    )
    return tasks, pushed


def test_request_tasks_resume_the_newest_generation_found_by_external_id_and_remember_it():
    hook = FakeHook(
        kling_task("t1", "req", "failed", "internal error"), kling_task("t2", "req-2", "processing")
    )
    store = Store()
    tasks, pushed = request_tasks(hook, store)

    decision = tasks.reconcile()

    assert (decision.action, decision.generation, decision.task.task_id) == ("resume", 2, "t2")
    assert pushed == ["t2"] and store["kling_task_id"] == "t2" and store["kling_request"]["generation"] == 2
    assert hook.created == []


def test_request_tasks_take_the_store_hint_first_and_ignore_one_of_another_request():
    hook = FakeHook(kling_task("t1", "req", "succeed"))
    tasks, _ = request_tasks(hook, Store())
    fingerprint = tasks.fingerprint
    hinted, _ = request_tasks(
        hook, Store(kling_task_id="t1", kling_request={"fingerprint": fingerprint, "generation": 1})
    )
    assert hinted.reconcile().action == "resume"

    other = Store(kling_task_id="t9", kling_request={"fingerprint": "another", "generation": 4})
    tasks, _ = request_tasks(FakeHook(), other)
    decision = tasks.reconcile()
    assert (decision.action, decision.external_task_id) == ("create", "req")
    assert tasks.create(decision.generation).external_task_id == "req"


def test_request_tasks_regenerate_after_a_hinted_failure_beyond_what_the_scan_sees_then_stop():
    hook = FakeHook(
        kling_task("t1", "req", "failed", "internal error"), kling_task("t2", "x", "failed", "boom")
    )
    tasks, _ = request_tasks(hook, max_regenerations=2)
    hint = {"fingerprint": tasks.fingerprint, "generation": 2}
    tasks, _ = request_tasks(hook, Store(kling_task_id="t2", kling_request=hint), max_regenerations=2)
    assert (tasks.reconcile().action, tasks.reconcile().generation) == ("create", 3)

    tasks, _ = request_tasks(hook, Store(kling_task_id="t2", kling_request=hint), max_regenerations=1)
    decision = tasks.reconcile()
    assert decision.action == "exhausted" and "max_regenerations=1" in decision.message


def test_request_tasks_never_regenerate_a_refused_request():
    tasks, _ = request_tasks(FakeHook(kling_task("t1", "req", "failed", REFUSAL)), max_regenerations=5)

    assert tasks.reconcile().action == "refused"


def test_how_a_try_ends_is_decided_once_by_the_failure_policy():
    from airflow_provider_kling.errors import KlingServerError, task_failed_error
    from airflow_provider_kling.lifecycle.policy import Action

    refused = task_failed_error("t1", REFUSAL)
    failed = task_failed_error("t1", "internal error")
    assert FailurePolicy().ending(refused, 1).action is Action.FAIL
    assert FailurePolicy(on_content_policy="skip").ending(refused, 1).action is Action.SKIP
    assert FailurePolicy(max_regenerations=2).ending(failed, 2).action is Action.RETRY
    exhausted = FailurePolicy(max_regenerations=2).ending(failed, 3)
    assert exhausted.action is Action.FAIL and "max_regenerations=2" in exhausted.message
    assert FailurePolicy().ending(KlingServerError("busy")).action is Action.RETRY


def test_how_a_batch_ends_is_decided_by_the_same_policy():
    from airflow_provider_kling.lifecycle.policy import Action

    def ending(
        policy: FailurePolicy, not_done: list[tuple[str, int]], refused: int = 0, fatal: str | None = None
    ):
        return policy.batch_ending(not_done, refused, storage_errors=0, fatal=fatal, why="why", see="see")

    policy = FailurePolicy(max_regenerations=1)
    assert ending(policy, [("unfinished", 1)]).action is Action.RETRY  # a retry resumes it
    assert ending(policy, [("failed", 1)]).action is Action.RETRY  # a retry makes generation 2
    assert ending(policy, [("failed", 2)]).action is Action.FAIL  # exhausted: no retry helps
    assert ending(policy, [("error", 1)], fatal="balance").action is Action.FAIL
    assert ending(policy, [], refused=1).action is Action.FAIL
    assert ending(FailurePolicy(on_content_policy="skip"), [], refused=1) is None
    assert ending(policy, []) is None


def test_results_gone_are_regenerated_only_when_asked_and_none_was_stored():
    from airflow_provider_kling.lifecycle.policy import Action

    assert FailurePolicy(regenerate_expired=True).expired_ending("t1", "video", 0, "410") is None
    kept = FailurePolicy(regenerate_expired=True).expired_ending("t1", "video", 1, "410")
    assert kept is not None and kept.action is Action.FAIL and "1 video(s) were stored" in kept.message
    refused = FailurePolicy().expired_ending("t1", "image", 0, "404")
    assert (
        refused is not None and refused.action is Action.FAIL and "regenerate_expired=True" in refused.message
    )
