"""KlingSpendApprovalOperator against the simulator, with the events Airflow's HITL machinery sends
on resume (a person's Approve or Reject, or the timeout default): the question's content, no
question under the threshold, downstream skipped on "no", and a clear parse-time error without HITL."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import ImageGenerationRequest
from airflow_provider_kling.operators import approval
from airflow_provider_kling.operators.approval import XCOM_SPEND_ESTIMATE, KlingSpendApprovalOperator
from airflow_provider_kling.testing import make_png
from tests.unit.task_context import RecordingTaskInstance, make_context

PHOTO = base64.b64encode(make_png("a studio photo", 0, 400, 400)).decode()
#: 12 cheap prompts, 2 dear ones and an expand: 12 x 1 + 2 x 16 + 2 = 46 units at the stand-in prices.
REQUESTS: list[Any] = [
    *({"prompt": f"a plain mug {i}", "model_name": "kling-v1"} for i in range(12)),
    *({"prompt": f"a poster | {i}", "model_name": "kling-v3", "resolution": "2k", "n": 4} for i in range(2)),
    {"kind": "expand", "image": PHOTO, "left_expansion_ratio": 0.5},
]


@dataclass
class TaskInstance:
    """The runtime task instance, as far as the HITL operators use it."""

    dag_id: str = "kling_spend_gate"
    task_id: str = "approve_spend"
    run_id: str = "manual__2026-12-03T00:00:00+00:00"
    map_index: int = -1
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert task_ids == self.task_id
        return self.xcom.get(key)


@pytest.fixture
def hitl_details(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the operator writes for the UI (the Execution API call, recorded instead of sent)."""
    from airflow.providers.standard.operators import hitl

    written: list[dict[str, Any]] = []
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **detail: written.append(detail))
    return written


def logs(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def make_gate(**kwargs: Any) -> KlingSpendApprovalOperator:
    kwargs.setdefault("requests", REQUESTS)
    kwargs.setdefault("threshold_units", 40)
    with DAG("kling_spend_gate", schedule=None):
        gate = KlingSpendApprovalOperator(task_id="approve_spend", **kwargs)
        gate >> EmptyOperator(task_id="batch")
    return gate


def context(gate: KlingSpendApprovalOperator, ti: TaskInstance | None = None) -> dict[str, Any]:
    ti = ti or TaskInstance()
    return {"ti": ti, "task_instance": ti, "task": gate, "run_id": ti.run_id}


def park(gate: KlingSpendApprovalOperator, ctx: dict[str, Any]) -> BaseException:
    """Run ``execute`` up to where the task waits for the answer (awaiting input, or deferred before 3.3)."""
    with pytest.raises(BaseException) as parked:
        gate.execute(ctx)
    assert type(parked.value).__name__ in ("TaskAwaitingInput", "TaskDeferred"), parked.value
    return parked.value


def waits_for(parked: BaseException) -> timedelta:
    """How long the parked task waits for an answer (3.3: awaiting input; before: the HITL trigger)."""
    if type(parked).__name__ == "TaskAwaitingInput":
        timeout = parked.timeout  # type: ignore[attr-defined]
        assert type(timeout) is timedelta  # Airflow 3.3 cannot send a pendulum Duration to its supervisor
        return timeout
    left = parked.trigger.timeout_datetime - datetime.now(UTC)  # type: ignore[attr-defined]
    return timedelta(minutes=round(left.total_seconds() / 60))


def answer(option: str, *, user: str | None = "admin", timed_out: bool = False) -> dict[str, Any]:
    """The resume event: the shape of Airflow's HITL trigger and of 3.3's response/timeout handlers."""
    return {
        "chosen_options": [option],
        "params_input": {},
        "responded_at": datetime.now(UTC),
        "responded_by_user": None if user is None else {"id": user, "name": user},
        "timedout": timed_out,
    }


def test_under_the_threshold_nothing_is_asked_and_the_run_goes_ahead(kling_connection, hitl_details, capsys):
    gate = make_gate(threshold_units=47)
    result = gate.execute(context(gate))

    assert hitl_details == []
    assert (result["approved"], result["asked"]) == (True, False)
    assert result["estimate"]["units"] == 46.0
    assert result["remaining_units"] == 10_000.0
    printed = logs(capsys)
    assert "under the threshold of 47 units: no approval asked" in printed
    assert "about 46 units for 15 requests (46 at stand-in prices, not your account's)" in printed


def test_over_the_threshold_the_question_shows_estimate_sources_units_left_and_costliest(
    kling_connection, hitl_details
):
    gate = make_gate(preview={"contact_sheet": "file:///previews/contact_sheet.html", "total": 4})
    ctx = context(gate)
    parked = park(gate, ctx)

    (detail,) = hitl_details
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Reject"]
    assert "About 46 units, 10000 units left" in detail["subject"]
    body = detail["body"]
    assert "**Estimate: about 46 units for 15 requests (46 at stand-in prices, not your account's).**" in body
    assert "**Units left in the account's online resource packs: 10000**" in body
    assert "Preview: [contact sheet](file:///previews/contact_sheet.html)" in body
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == 10
    assert rows[0].startswith(
        "| 12 | generations kling-v3 2k, 4 images: a poster \\| 0 | 16 | stand-in prices"
    )
    assert rows[2].startswith("| 14 | expand, 1 image | 2 |")
    assert body.endswith("Approve to run it. Reject, or no answer within 1 day, skips the run.")
    assert ctx["ti"].xcom[XCOM_SPEND_ESTIMATE]["estimate"]["units"] == 46.0
    assert waits_for(parked) == timedelta(hours=24)


def test_the_question_uses_prices_learnt_from_the_accounts_finished_tasks(kling_connection, hitl_details):
    kling_connection.set_progress("immediate")
    hook = KlingHook()
    created = hook.create_task(
        ImageGenerationRequest.build(model_name="kling-v3", prompt="an earlier poster", resolution="2k", n=1)
    )
    hook.wait_for_task(created.task_id, poll_interval=0.01, timeout=300)

    gate = make_gate(
        requests=[{"prompt": "a poster", "model_name": "kling-v3", "resolution": "2k", "n": 4}] * 3
    )
    park(gate, context(gate))

    body = hitl_details[0]["body"]
    assert "48 at prices learnt from this account's finished tasks" in body
    assert "stand-in" not in body
    assert "Units left in the account's online resource packs: 9996" in body


def test_a_preview_batch_teaches_the_price_of_exactly_what_each_of_its_items_bought(
    kling_connection, hitl_details, tmp_path
):
    from airflow_provider_kling.operators.batch import KlingBatchOperator

    kling_connection.set_progress("immediate")
    mixed = [
        {"key": "sketch", "prompt": "a sketch", "model_name": "kling-v1"},
        {"key": "poster", "prompt": "a poster", "model_name": "kling-v3", "resolution": "2k"},
    ]
    with DAG("kling_spend_gate_preview", schedule=None):
        preview = KlingBatchOperator(task_id="preview", requests=mixed, slots=2, output_path=str(tmp_path))
    summary = preview.execute(make_context(RecordingTaskInstance(dag_id="kling_spend_gate_preview")))
    rest = [{**mixed[0], "key": "sketch-2"}, {**mixed[0], "key": "sketch-3"}, {**mixed[1], "key": "poster-2"}]

    gate = make_gate(requests=rest, threshold_units=1, preview=summary)
    park(gate, context(gate))
    # Each at its own price (1 + 1 + 4); the account's task list alone teaches only the dearest
    # rate per image of image generation (4 + 4 + 4).
    body = hitl_details[0]["body"]
    assert "about 6 units for 3 requests (6 at prices learnt from this account's finished tasks)" in body
    assert f"Preview: [contact sheet]({summary['contact_sheet']})" in body

    without = make_gate(requests=rest, threshold_units=1)
    park(without, context(without))
    assert "about 12 units for 3 requests" in hitl_details[1]["body"]


def test_approve_lets_the_run_go_ahead(kling_connection, hitl_details, capsys):
    gate = make_gate()
    ctx = context(gate)
    park(gate, ctx)

    result = gate.execute_complete(ctx, answer("Approve"))

    assert (result["approved"], result["asked"], result["responded_by"]) == (True, True, "admin")
    assert result["estimate"]["units"] == 46.0
    assert "Kling spend approved by admin" in logs(capsys)


@pytest.mark.parametrize(
    ("event", "logged"),
    [
        (answer("Reject"), "Kling spend NOT approved: rejected by admin; the run downstream is skipped"),
        (
            answer("Reject", user=None, timed_out=True),
            "Kling spend NOT approved: no answer before the response timeout",
        ),
    ],
    ids=["rejected", "timed-out"],
)
def test_reject_or_no_answer_skips_the_run_downstream(kling_connection, hitl_details, capsys, event, logged):
    gate = make_gate()
    ctx = context(gate)
    park(gate, ctx)

    with pytest.raises(Exception) as skipped:
        gate.execute_complete(ctx, event)

    assert type(skipped.value).__name__ == "DownstreamTasksSkipped"
    assert skipped.value.tasks == ["batch"]
    assert logged in logs(capsys)


def test_an_unreadable_account_still_asks_and_says_the_units_left_are_unknown(kling_connection, hitl_details):
    class NoCosts(KlingHook):
        def get_account_costs(self, *args: Any, **kwargs: Any) -> Any:
            from airflow_provider_kling.errors import KlingPermissionError

            raise KlingPermissionError("no permission for this API", code=1103)

    gate = make_gate(learn_prices=False)
    gate.__dict__["hook"] = NoCosts()
    park(gate, context(gate))
    assert "**Units left in the account: unknown**" in hitl_details[0]["body"]


def test_a_request_without_any_price_fails_the_task_before_anything_is_asked(kling_connection, hitl_details):
    from airflow.providers.common.compat.sdk import AirflowFailException

    gate = make_gate(requests=[{"prompt": "x", "model_name": "kling-v9"}], learn_prices=False)
    with pytest.raises(
        AirflowFailException, match="Cannot estimate this run's units: no unit price for generations kling-v9"
    ):
        gate.execute(context(gate))
    assert hitl_details == []


def test_without_airflows_hitl_operators_the_gate_fails_at_parse_time_saying_what_to_install(monkeypatch):
    monkeypatch.setattr(approval, "_HITL_MISSING", "ImportError: No module named 'hitl'")
    with pytest.raises(
        ImportError, match=r"install apache-airflow>=3.1 and apache-airflow-providers-standard>=1\.12\.2"
    ):
        make_gate()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold_units": -1}, "threshold_units must be a number of units >= 0"),
        ({"defaults": "Approve"}, "its default is always Reject"),
        ({"response_timeout": timedelta(0)}, "response_timeout must be a positive timedelta"),
        ({"price_table": {"kling-v3": {"1k": 8}}}, "'kling-v3' is not a request kind"),
    ],
)
def test_bad_arguments_are_refused_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_gate(**kwargs)


def test_a_pendulum_duration_timeout_is_kept_as_a_plain_timedelta_airflow_can_send(
    kling_connection, hitl_details
):
    import pendulum

    gate = make_gate(response_timeout=pendulum.duration(hours=2))
    parked = park(gate, context(gate))
    # Airflow 3.3's task runner cannot send a pendulum Duration to its supervisor: the task would fail.
    assert type(gate.response_timeout) is timedelta and gate.response_timeout == timedelta(hours=2)
    assert waits_for(parked) == timedelta(hours=2)
