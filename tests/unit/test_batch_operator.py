"""KlingBatchOperator against the simulator: both modes, slots, refusals, retries."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.errors import KlingError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.operators.batch import XCOM_BATCH_SUMMARY, KlingBatchOperator
from airflow_provider_kling.triggers.batch import KlingBatchTrigger
from tests.unit.task_context import RecordingTaskInstance, make_context, run_trigger

SUMMARY_KEYS = {
    "total",
    "counts",
    "images_stored",
    "videos_stored",
    "audios_stored",
    "units",
    "manifest",
    "contact_sheet",
    "output_conn_id",
    "storage_errors",
    "rate_limited",
}


def make_batch(tmp_path: Path, **kwargs: Any) -> KlingBatchOperator:
    kwargs.setdefault("task_id", "batch")
    kwargs.setdefault("slots", 2)
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("progress_interval", 0.5)
    kwargs.setdefault("timeout", 60)
    kwargs.setdefault("output_path", str(tmp_path))
    with DAG("kling_batch", schedule=None):
        return KlingBatchOperator(**kwargs)


def context() -> dict[str, Any]:
    return make_context(RecordingTaskInstance(dag_id="kling_batch", task_id="batch"))


def stored_images(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.rglob("*.png"))


def manifest(summary: dict[str, Any]) -> dict[str, Any]:
    return json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())


def manifest_total(summary: dict[str, Any]) -> float:
    return sum(float(row["units"]) for row in manifest(summary)["items"] if row["units"] is not None)


def test_batch_creates_each_item_once_stores_images_and_returns_a_small_summary(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    requests = ["a red fox", {"prompt": "a blue whale", "n": 2, "key": "whale"}, "a green frog"]
    ctx = context()

    summary = make_batch(tmp_path, requests=requests).execute(ctx)

    assert set(summary) == SUMMARY_KEYS
    assert summary["counts"] == {"succeeded": 3}
    assert summary["images_stored"] == 4 and summary["rate_limited"] == 0
    assert ctx["ti"].xcom[XCOM_BATCH_SUMMARY] == summary
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 3
    assert stored_images(tmp_path) == [
        "batch_0_0.png",
        "batch_2_0.png",
        "batch_whale_0.png",
        "batch_whale_1.png",
    ]
    rows = manifest(summary)["items"]
    assert [(r["key"], r["status"], len(r["files"])) for r in rows] == [
        ("0", "succeeded", 1),
        ("whale", "succeeded", 2),
        ("2", "succeeded", 1),
    ]
    assert all(r["kling_task_id"] and r["prompt"] for r in rows)
    sheet = Path(summary["contact_sheet"].removeprefix("file://")).read_text()
    assert 'src="batch_whale_1.png"' in sheet and "a blue whale" in sheet


def test_slots_are_never_exceeded_so_kling_never_answers_1303(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    kling_connection.set_slots(3)

    summary = make_batch(
        tmp_path, requests=[{"prompt": f"p{i}", "n": 1 + i % 2} for i in range(8)], slots=3
    ).execute(context())

    assert summary["counts"] == {"succeeded": 8}
    assert summary["rate_limited"] == 0
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 8


def test_a_1303_from_another_pipeline_shrinks_the_budget_instead_of_failing_items(kling_connection, tmp_path):
    kling_connection.set_latency(0.5)
    kling_connection.set_slots(3)
    other_pipeline = KlingHook()
    other_pipeline.create_task(model_name="kling-v1", prompt="someone else's", n=2)

    summary = make_batch(tmp_path, requests=[f"p{i}" for i in range(4)], slots=3).execute(context())

    assert summary["counts"] == {"succeeded": 4}
    assert summary["rate_limited"] >= 1
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 5  # 4 items + the other one


def test_refused_items_are_recorded_and_fail_the_task_only_when_asked(kling_connection, tmp_path):
    requests = ["a calm lake", "something #fail", "a quiet street"]

    summary = make_batch(tmp_path / "record", requests=requests, on_content_policy="skip").execute(context())

    assert summary["counts"] == {"succeeded": 2, "refused": 1}
    refused = [r for r in manifest(summary)["items"] if r["status"] == "refused"]
    assert refused[0]["key"] == "1" and "risk control" in refused[0]["message"]
    kling_connection.reset()
    ctx = context()
    with pytest.raises(AirflowFailException, match="1 batch item"):
        make_batch(tmp_path / "fail", requests=requests).execute(ctx)  # on_content_policy="fail" by default
    assert ctx["ti"].xcom[XCOM_BATCH_SUMMARY]["counts"] == {"succeeded": 2, "refused": 1}


def test_a_retry_resumes_every_item_and_stores_nothing_twice(kling_connection, tmp_path):
    requests = [f"prompt {i}" for i in range(5)]
    make_batch(tmp_path, requests=requests).execute(context())
    first = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*.png"))

    summary = make_batch(tmp_path, requests=requests).execute(context())

    counters = kling_connection.counters(kling_connection.api_key)
    assert summary["counts"] == {"succeeded": 5}
    assert counters["creates"] == 5 and counters["images"] == 5
    assert sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*.png")) == first


def test_a_failed_item_fails_the_task_for_a_retry_that_regenerates_only_that_item(kling_connection, tmp_path):
    requests = ["fine", "broken #error"]
    with pytest.raises(KlingError, match="1 of 2 batch items did not succeed") as first_try:
        make_batch(tmp_path, requests=requests, max_regenerations=1).execute(context())
    assert first_try.value.airflow_retryable

    # the retry creates generation 2 of the failed item only; once it fails too, no retry can help
    for _ in range(2):
        with pytest.raises(AirflowFailException, match="max_regenerations=1"):
            make_batch(tmp_path, requests=requests, max_regenerations=1).execute(context())

    tasks = kling_connection.tasks(kling_connection.api_key)
    broken = sorted(t["task_info"]["external_task_id"] for t in tasks if "#error" in t["request"]["prompt"])
    assert len(broken) == 2 and broken[1] == broken[0] + "-2"  # generation 1 and 2; none after
    assert sum("#error" not in t["request"]["prompt"] for t in tasks) == 1


def test_deferrable_batch_runs_in_one_trigger_and_completes_on_the_worker(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    operator = make_batch(tmp_path, requests=[f"p{i}" for i in range(4)], deferrable=True)
    ctx = context()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0
    trigger = deferred.value.trigger
    assert kling_connection.api_key not in json.dumps(trigger.serialize())
    event = run_trigger(trigger)
    summary = operator.execute_complete(ctx, event)

    assert event["status"] == "done"
    assert summary["counts"] == {"succeeded": 4}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 4
    assert len(stored_images(tmp_path)) == 4


def test_a_restarted_trigger_resumes_created_items_without_creating_them_again(kling_connection, tmp_path):
    kling_connection.set_latency(0.3)
    operator = make_batch(tmp_path, requests=[f"p{i}" for i in range(4)], deferrable=True)
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    _, kwargs = deferred.value.trigger.serialize()

    async def run_until_two_created() -> None:
        trigger = KlingBatchTrigger(**kwargs)
        runner = asyncio.ensure_future(trigger.run().__anext__())
        while kling_connection.counters(kling_connection.api_key)["creates"] < 2:
            await asyncio.sleep(0.01)
        runner.cancel()  # the triggerer goes away mid-batch
        with pytest.raises(asyncio.CancelledError):
            await runner

    asyncio.run(run_until_two_created())
    event = run_trigger(KlingBatchTrigger(**kwargs))
    summary = operator.execute_complete(ctx, event)

    assert summary["counts"] == {"succeeded": 4}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 4


def test_credentials_kling_refuses_stop_the_batch_before_any_create_and_fail_without_retries(
    kling_simulator, monkeypatch, tmp_path
):
    conn = json.loads(kling_simulator.airflow_conn_json())
    conn["password"] = "not-the-key"
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
    ctx = context()

    with pytest.raises(AirflowFailException, match="Kling stopped the batch") as failed:
        make_batch(tmp_path, requests=["a", "b", "c"]).execute(ctx)

    assert "not-the-key" not in str(failed.value)
    assert ctx["ti"].xcom[XCOM_BATCH_SUMMARY]["counts"] == {"error": 3}
    assert kling_simulator.counters() == {} or all(
        c["creates"] == 0 for c in kling_simulator.counters().values()
    )


def test_items_not_done_by_the_timeout_are_left_to_a_retry_that_resumes_them(kling_connection, tmp_path):
    kling_connection.set_progress("manual")  # nothing ends during the first try, however slow the machine
    requests = [f"p{i}" for i in range(3)]
    ctx = context()

    with pytest.raises(KlingError, match="3 of 3 batch items did not succeed") as first_try:
        make_batch(tmp_path, requests=requests, slots=2, timeout=2).execute(ctx)
    assert first_try.value.airflow_retryable
    assert ctx["ti"].xcom[XCOM_BATCH_SUMMARY]["counts"] == {"unfinished": 3}
    rows = manifest(ctx["ti"].xcom[XCOM_BATCH_SUMMARY])["items"]
    assert [bool(row["kling_task_id"]) for row in rows] == [True, True, False]  # 2 slots: the third waited

    kling_connection.advance(to="succeed")
    kling_connection.set_progress("timed")
    summary = make_batch(tmp_path, requests=requests, slots=2, timeout=30).execute(context())

    assert summary["counts"] == {"succeeded": 3}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 3


def test_max_units_stops_creating_once_the_estimates_would_pass_it_and_a_retry_stays_within(
    kling_connection, tmp_path
):
    requests = [f"p{i}" for i in range(5)] + [{"prompt": "two images", "n": 2, "key": "pair"}]

    summary = make_batch(tmp_path, requests=requests, slots=2, max_units=4, model_name="kling-v1").execute(
        context()
    )

    assert summary["counts"] == {"succeeded": 4, "over_budget": 2}
    assert summary["units"] == 4.0
    deducted = sum(
        float(task["final_unit_deduction"]) for task in kling_connection.tasks(kling_connection.api_key)
    )
    assert manifest_total(summary) == deducted == summary["units"]
    rows = {row["key"]: row for row in manifest(summary)["items"]}
    assert rows["4"]["status"] == "over_budget" and "over budget" in rows["4"]["message"]
    assert rows["pair"]["kling_task_id"] is None
    again = make_batch(tmp_path, requests=requests, slots=2, max_units=4, model_name="kling-v1").execute(
        context()
    )
    assert again["counts"] == {"succeeded": 4, "over_budget": 2}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 4


def test_batch_records_an_asset_event_for_its_output_folder_with_what_it_made(kling_connection, tmp_path):
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    batch = make_batch(tmp_path, requests=["a red kite", "a blue kite"])
    (outlet,) = batch.outlets
    assert outlet == Asset(f"file://{tmp_path}")
    events = OutletEventAccessors()
    ctx = make_context(RecordingTaskInstance(dag_id="kling_batch", task_id="batch"), outlet_events=events)

    summary = batch.execute(ctx)

    extra = events[outlet].extra
    created = {task["task_id"] for task in kling_connection.tasks(kling_connection.api_key)}
    assert set(extra["kling_task_ids"]) == created and len(created) == 2
    assert extra["image_count"] == summary["images_stored"] == 2
    assert extra["units"] == summary["units"]
    assert all(path.startswith(f"file://{tmp_path}/") for path in extra["paths"])
    assert kling_connection.api_key not in json.dumps(extra)


def test_batch_openlineage_facets_name_the_output_folder_and_the_kling_tasks(kling_connection, tmp_path):
    pytest.importorskip("airflow.providers.openlineage")
    batch = make_batch(tmp_path, requests=["a green kite"])
    batch.execute(context())

    lineage = batch.get_openlineage_facets_on_complete(None)

    (output,) = lineage.outputs
    assert (output.namespace, output.name) == ("file", str(tmp_path))
    assert len(lineage.run_facets["kling"].kling_task_ids) == 1


def test_a_batch_of_another_endpoint_reads_stored_images_holds_its_slots_and_resumes(
    kling_connection, tmp_path
):
    """Virtual try-on items (1 slot each): storage URIs read as base64, manifest, contact sheet,
    asset event; deferred in one trigger; a retry resumes every item without a new create."""
    from airflow_provider_kling.testing import make_png

    person = make_png("a model standing", 0, 360, 480)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "model.png").write_bytes(person)
    requests = [
        {
            "key": f"look-{i}",
            "human_image": f"file://{tmp_path}/in/model.png",
            "cloth_image": f"https://x/{i}.png",
        }
        for i in range(3)
    ]
    out = tmp_path / "out"
    kling_connection.set_latency(0.2)
    operator = make_batch(out, requests=requests, request_kind="virtual-try-on", slots=2, deferrable=True)
    ctx = context()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    assert deferred.value.trigger.serialize()[1]["request_kind"] == "virtual-try-on"
    summary = operator.execute_complete(ctx, run_trigger(deferred.value.trigger))

    assert summary["counts"] == {"succeeded": 3}
    assert summary["rate_limited"] == 0  # 1 slot per task: never more than 2 running
    tasks = kling_connection.tasks(kling_connection.api_key)
    assert len(tasks) == 3
    assert all(base64.b64decode(task["request"]["human_image"]) == person for task in tasks)
    assert {task["request"]["model_name"] for task in tasks} == {"kolors-virtual-try-on-v1"}
    rows = manifest(summary)["items"]
    assert [(r["key"], r["status"], r["n"], len(r["files"])) for r in rows] == [
        (f"look-{i}", "succeeded", 1, 1) for i in range(3)
    ]
    assert Path(summary["contact_sheet"].removeprefix("file://")).read_text().count("<img") == 3
    assert stored_images(out) == [f"batch_look-{i}_0.png" for i in range(3)]

    again = make_batch(out, requests=requests, request_kind="virtual-try-on", slots=2).execute(context())

    assert again["counts"] == {"succeeded": 3}
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 3


def test_a_batch_refuses_a_default_its_request_kind_does_not_have(kling_connection, tmp_path):
    operator = make_batch(
        tmp_path,
        requests=[{"image": "https://x/y.png", "left_expansion_ratio": 0.5}],
        request_kind="expand",
        negative_prompt="blur",
    )

    with pytest.raises(AirflowFailException, match="negative_prompt: a expand request has no such field"):
        operator.execute(context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_a_batch_of_expand_items_counts_n_slots_and_names_a_bad_item(kling_connection, tmp_path):
    requests = [
        {"image": "https://x/a.png", "left_expansion_ratio": 0.5, "n": 2},
        {"image": "https://x/b.png", "up_expansion_ratio": 3},
    ]

    with pytest.raises(AirflowFailException, match=r"item 1 \(key '1'\): up_expansion_ratio"):
        make_batch(tmp_path, requests=requests, request_kind="expand").execute(context())

    summary = make_batch(tmp_path, requests=requests[:1], request_kind="expand").execute(context())
    assert summary["counts"] == {"succeeded": 1} and summary["images_stored"] == 2


def test_batch_and_single_operators_share_the_policy_vocabulary_defaults_and_grace(
    kling_connection, tmp_path
):
    import inspect

    from airflow_provider_kling.lifecycle.poll import defer_timeout
    from airflow_provider_kling.operators.base import KlingOperatorBase, KlingTaskOperator

    # the batch takes the policy arguments from the one base, with the same names and defaults; it
    # composes the lifecycle, not the single operator (whose arguments it would have to refuse)
    assert issubclass(KlingBatchOperator, KlingOperatorBase)
    assert not issubclass(KlingBatchOperator, KlingTaskOperator)
    own = inspect.signature(KlingBatchOperator.__init__).parameters
    assert not {"on_content_policy", "max_regenerations", "kling_conn_id", "output_conn_id"} & set(own)
    assert inspect.signature(KlingOperatorBase.__init__).parameters["on_content_policy"].default == "fail"
    with pytest.raises(TypeError, match="regenerate_expired"):
        make_batch(tmp_path, requests=["a"], regenerate_expired=True)
    assert make_batch(tmp_path, requests=["a"], on_content_policy="skip").on_content_policy == "skip"
    with pytest.raises(TaskDeferred) as deferred:
        make_batch(tmp_path, requests=["a"], deferrable=True, timeout=100).execute(context())
    assert deferred.value.timeout == defer_timeout(100)
    trigger_args = deferred.value.trigger.serialize()[1]
    assert trigger_args["progress_every"] == 0.5  # the operator's progress_interval
    assert trigger_args["on_content_policy"] == "fail"  # the failure policy reaches the trigger


def test_progress_interval_has_one_default_in_operator_runner_and_trigger():
    import inspect

    from airflow_provider_kling.batch.admission import DEFAULT_PROGRESS_INTERVAL
    from airflow_provider_kling.batch.runner import BatchRunner

    for function in (
        KlingBatchOperator.__init__,
        BatchRunner.__init__,
        KlingBatchTrigger.__init__,
    ):
        parameters = inspect.signature(function).parameters
        name = "progress_interval" if "progress_interval" in parameters else "progress_every"
        assert parameters[name].default == DEFAULT_PROGRESS_INTERVAL, function
