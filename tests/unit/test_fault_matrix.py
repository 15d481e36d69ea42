"""The fault matrix of issue 9: one test per way a pipeline could pay twice (or return images of a
prompt it was not given), each against the simulator, each asserting how many tasks Kling made
(the simulator's create count), what XCom holds and what the error says.

| fault | creates, old code | creates now |
|---|---|---|
| bare hook create, answer held past the read timeout | 2 | 1 |
| bare hook create, connection reset after processing | 2 | 1 |
| bare hook create, 200 with an HTML body after processing | 2 | 1 |
| operator create lost at a host that ignores external ids | 2 | 1, clear failure |
| content-policy refusal with retries=3 (4 tries) | 4 | 1, no retry |
| prompt and n edited, task cleared | 1 (old image) | 2 (new image) |
| resumed task's images purged, nothing stored | 1, every retry fails | 1, fails without retry |

Old-code figures were measured by running this module on the code before the change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException
from airflow.sdk import DAG

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.request import XCOM_KLING_TASK_ID
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from tests.unit.fakes import FakeClock
from tests.unit.task_context import DictTaskStateStore, RecordingTaskInstance, make_context

PROMPT = "a lighthouse in a storm"
#: Short enough that a held create answer times out at once; the simulator holds it for longer.
READ_TIMEOUT = 0.5
HOLD_SECONDS = 2.0


@pytest.fixture
def clock() -> FakeClock:
    """The hooks' clock: retry waits recorded instead of slept."""
    return FakeClock()


@pytest.fixture
def sim(kling_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The simulator, behind a connection with a short read timeout."""
    use_connection(kling_simulator, monkeypatch)
    return kling_simulator


def use_connection(sim: Any, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    conn = json.loads(sim.airflow_conn_json())
    conn["extra"] = {"read_timeout": READ_TIMEOUT, **extra}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))


def creates(sim: Any) -> int:
    return int(sim.counters(sim.api_key)["creates"])


def make_operator(**kwargs: Any) -> KlingImageGenerationOperator:
    kwargs.setdefault("task_id", "generate")
    kwargs.setdefault("prompt", PROMPT)
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    with DAG("kling_fault_matrix", schedule=None):
        return KlingImageGenerationOperator(**kwargs)


def run_try(operator: KlingImageGenerationOperator, store: DictTaskStateStore | None = None) -> Any:
    """One Airflow try of the task instance: its XCom and its result (or the exception it raised)."""
    ti = RecordingTaskInstance()
    context = make_context(ti, task_state_store=store) if store is not None else make_context(ti)
    try:
        return ti.xcom, operator.execute(context)
    except BaseException as exc:
        return ti.xcom, exc


def run_with_airflow_retries(make: Any, retries: int, store: DictTaskStateStore) -> list[Any]:
    """Tries as Airflow runs them: a retryable error leads to the next try, up to ``retries`` more."""
    outcomes = []
    for _ in range(retries + 1):
        _xcom, outcome = run_try(make(), store)
        outcomes.append(outcome)
        if not isinstance(outcome, BaseException) or isinstance(
            outcome, AirflowFailException | AirflowSkipException
        ):
            break
    return outcomes


# -- the hook, called without an external_task_id ------------------------------------------------


@pytest.mark.parametrize("mode", ["hold", "reset"])
def test_bare_hook_create_whose_answer_is_lost_returns_the_one_task_kling_made(sim, mode, clock):
    sim.lose_next_create_answers(1, mode=mode, hold_seconds=HOLD_SECONDS)

    task = KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)

    assert creates(sim) == 1
    [made] = sim.tasks(sim.api_key)
    assert task.task_id == made["task_id"]
    assert made["request"]["external_task_id"].startswith("kling-")


def test_bare_hook_create_answered_with_html_returns_the_one_task_kling_made(sim, clock):
    sim.garble_next_create_answers(1)

    task = KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)

    assert creates(sim) == 1
    assert task.task_id == sim.tasks(sim.api_key)[0]["task_id"]


def test_create_refused_before_processing_is_resent_and_makes_one_task(sim, clock):
    sim.rate_limit_next(1)
    KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)
    sim.fail_next(1, status=503)  # maintenance, 5001: refused before processing
    KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)

    assert creates(sim) == 2  # one per call


def test_create_that_cannot_connect_makes_no_task_and_says_nothing_was_sent(
    monkeypatch, kling_simulator, clock
):
    import socket

    from airflow_provider_kling.errors import KlingConnectError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = {"conn_type": "kling", "host": f"http://127.0.0.1:{port}/kling", "password": "k" * 12}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps({**conn, "extra": {"max_retries": 1}}))

    with pytest.raises(KlingConnectError, match="nothing was sent"):
        KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)


def test_5xx_before_processing_at_a_host_known_to_honour_ids_is_resent_once(
    kling_simulator, monkeypatch, clock
):
    use_connection(kling_simulator, monkeypatch, external_task_id_support="yes")
    kling_simulator.fail_next(1, status=500)  # the simulator fails it before processing

    KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)

    assert creates(kling_simulator) == 1


def test_5xx_with_nothing_to_prove_the_host_honours_ids_fails_without_resending(sim, clock):
    from airflow_provider_kling.errors import KlingCreateOutcomeUnknownError

    sim.fail_next(1, status=500)

    with pytest.raises(KlingCreateOutcomeUnknownError) as raised:
        KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)

    assert creates(sim) == 0
    assert "external_task_id_support" in str(raised.value)
    assert raised.value.airflow_retryable is False


def test_5xx_is_resent_once_another_task_shows_the_host_finds_tasks_by_external_id(sim, clock):
    KlingHook(clock=clock).create_task(model_name="kling-v1", prompt="an earlier picture", n=1)
    sim.fail_next(1, status=500)

    KlingHook(clock=clock).create_task(model_name="kling-v1", prompt=PROMPT, n=1)

    assert creates(sim) == 2


# -- the operator ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["hold", "reset", "garble"])
def test_operator_create_whose_answer_is_lost_resumes_the_one_task(sim, fault):
    if fault == "garble":
        sim.garble_next_create_answers(1)
    else:
        sim.lose_next_create_answers(1, mode=fault, hold_seconds=HOLD_SECONDS)

    xcom, result = run_try(make_operator(), DictTaskStateStore())

    assert creates(sim) == 1
    assert result["task_status"] == "succeed"
    assert xcom[XCOM_KLING_TASK_ID] == result["task_id"] == sim.tasks(sim.api_key)[0]["task_id"]


def test_operator_create_lost_at_a_host_that_ignores_external_ids_fails_clearly_after_one_task(sim):
    sim.set_ignore_external_task_id(True)
    sim.lose_next_create_answers(1, mode="hold", hold_seconds=HOLD_SECONDS)
    store = DictTaskStateStore()

    outcomes = run_with_airflow_retries(make_operator, retries=3, store=store)

    assert creates(sim) == 1
    assert len(outcomes) == 1  # no Airflow retry
    [error] = outcomes
    assert isinstance(error, AirflowFailException)
    message = str(error)
    assert "may have reached Kling" in message
    assert "airflow-" in message  # the external task id it was sent with
    assert "KlingTaskSensor" in message and "clear this Airflow task" in message
    assert "kling_task_id" not in store.values


def test_host_that_ignores_external_ids_is_detected_logged_once_and_a_retry_resumes_from_the_store(
    sim, capsys
):
    sim.set_ignore_external_task_id(True)
    sim.set_latency(0.3)
    store = DictTaskStateStore()
    xcom, first = run_try(make_operator(wait_for_completion=False), store)

    xcom, retried = run_try(make_operator(), store)

    assert creates(sim) == 1
    assert retried["task_id"] == first["task_id"] == xcom[XCOM_KLING_TASK_ID]
    printed = capsys.readouterr()
    assert (printed.out + printed.err).count("ignores external_task_id") == 1


def test_content_policy_refusal_with_retries_is_one_paid_task_and_no_retry(sim):
    store = DictTaskStateStore()

    outcomes = run_with_airflow_retries(lambda: make_operator(prompt=f"{PROMPT} #fail"), 3, store)
    _xcom, cleared = run_try(make_operator(prompt=f"{PROMPT} #fail"), store)

    assert creates(sim) == 1
    assert len(outcomes) == 1
    for error in (outcomes[0], cleared):
        assert isinstance(error, AirflowFailException)
        assert "risk control" in str(error) and "not generated again" in str(error)


def test_content_policy_refusal_with_on_content_policy_skip_skips_the_task(sim):
    xcom, outcome = run_try(make_operator(prompt=f"{PROMPT} #fail", on_content_policy="skip"))

    assert isinstance(outcome, AirflowSkipException)
    assert "risk control" in str(outcome)
    assert creates(sim) == 1
    assert xcom[XCOM_KLING_TASK_ID] == sim.tasks(sim.api_key)[0]["task_id"]


def test_other_kling_side_failures_regenerate_only_up_to_max_regenerations(sim):
    store = DictTaskStateStore()

    outcomes = run_with_airflow_retries(
        lambda: make_operator(prompt=f"{PROMPT} #error", max_regenerations=1), 5, store
    )
    _xcom, cleared = run_try(make_operator(prompt=f"{PROMPT} #error", max_regenerations=1), store)

    assert creates(sim) == 2  # the first task and one regeneration
    assert len(outcomes) == 2
    assert not isinstance(outcomes[0], AirflowFailException)  # left to Airflow's retry
    for error in (outcomes[1], cleared):
        assert isinstance(error, AirflowFailException)
        assert "max_regenerations=1" in str(error)
    external_ids = sorted(task["request"]["external_task_id"] for task in sim.tasks(sim.api_key))
    assert external_ids[1] == external_ids[0] + "-2"


def test_edited_request_gets_its_own_task_and_an_unchanged_one_resumes(sim, tmp_path):
    store = DictTaskStateStore()
    xcom, first = run_try(make_operator(output_path=str(tmp_path)), store)

    edited_operator = {"prompt": "a lighthouse at dawn", "n": 3, "output_path": str(tmp_path)}
    _xcom, edited = run_try(make_operator(**edited_operator), store)
    xcom, again = run_try(make_operator(**edited_operator), store)

    assert creates(sim) == 2
    assert edited["task_id"] != first["task_id"]
    assert edited["prompt"] == "a lighthouse at dawn"
    assert len(edited["images"]) == 3
    assert again["task_id"] == edited["task_id"] == xcom[XCOM_KLING_TASK_ID]
    newest = sim.tasks(sim.api_key)[0]
    assert (newest["request"]["prompt"], newest["request"]["n"]) == ("a lighthouse at dawn", 3)


def test_state_store_entry_of_another_request_is_ignored(sim):
    store = DictTaskStateStore()
    run_try(make_operator(wait_for_completion=False), store)
    sim.set_ignore_external_task_id(True)  # only the store could make it resume

    _xcom, edited = run_try(make_operator(prompt="a lighthouse at dawn"), store)

    assert creates(sim) == 2
    assert sim.tasks(sim.api_key)[0]["task_id"] == edited["task_id"]


def test_expired_images_on_resume_fail_without_retry_and_say_how_to_regenerate(sim, tmp_path):
    store = DictTaskStateStore()
    run_try(make_operator(wait_for_completion=False), store)  # the task exists, nothing is stored
    sim.set_image_ttl(0)  # ... and its images are purged

    outcomes = run_with_airflow_retries(lambda: make_operator(output_path=str(tmp_path)), 3, store)
    _xcom, cleared = run_try(make_operator(output_path=str(tmp_path)), store)

    assert creates(sim) == 1
    assert len(outcomes) == 1
    for error in (outcomes[0], cleared):
        assert isinstance(error, AirflowFailException)
        assert "purges them after 30 days" in str(error) and "regenerate_expired=True" in str(error)
    assert not list(tmp_path.rglob("*.png"))


def test_regenerate_expired_creates_the_next_generation_on_purpose(sim, tmp_path, monkeypatch):
    store = DictTaskStateStore()
    xcom, first = run_try(make_operator(wait_for_completion=False), store)
    sim.set_image_ttl(0)
    run_try(make_operator(output_path=str(tmp_path)), store)
    create = KlingHook.create_task

    def create_then_serve_images(hook: KlingHook, *args: Any, **kwargs: Any) -> Any:
        task = create(hook, *args, **kwargs)
        sim.set_image_ttl(None)  # the first task's images stay gone until the new one exists
        return task

    monkeypatch.setattr(KlingHook, "create_task", create_then_serve_images)

    xcom, regenerated = run_try(make_operator(output_path=str(tmp_path), regenerate_expired=True), store)
    sim.set_image_ttl(0)  # the new images are stored: a later clear needs no Kling image at all
    _xcom, again = run_try(make_operator(output_path=str(tmp_path), regenerate_expired=True), store)

    assert creates(sim) == 2
    assert regenerated["task_id"] != first["task_id"]
    assert xcom[XCOM_KLING_TASK_ID] == regenerated["task_id"]  # the new id, pushed when it existed
    assert regenerated["external_task_id"] == first["external_task_id"] + "-2"
    assert Path(regenerated["images"][0]["path"].removeprefix("file://")).exists()
    assert again["task_id"] == regenerated["task_id"]
