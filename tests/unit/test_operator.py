"""KlingImageGenerationOperator against the simulator, without an Airflow database."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred  # 3.1: airflow.exceptions
from airflow.sdk import DAG

from airflow_provider_kling.errors import (
    KlingResultUnavailableError,
    KlingTaskFailedError,
    KlingTaskTimeoutError,
)
from airflow_provider_kling.lifecycle.request import XCOM_KLING_TASK_ID
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.triggers.kling import KlingTaskTrigger
from tests.unit.task_context import (
    DictTaskStateStore,
    RecordingTaskInstance,
    first_trigger_event,
    make_context,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XCOM_KEYS = {
    "task_id",
    "task_status",
    "task_status_msg",
    "external_task_id",
    "request_kind",
    "model_name",
    "prompt",
    "created_at",
    "updated_at",
    "final_unit_deduction",
    "final_balance_deduction",
    "images",
}


def make_operator(dag_id: str = "kling_test_dag", **kwargs: Any) -> KlingImageGenerationOperator:
    kwargs.setdefault("task_id", "generate")
    kwargs.setdefault("prompt", "a red bicycle on a beach")
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    with DAG(dag_id, schedule=None, template_searchpath=kwargs.pop("template_searchpath", None)):
        return KlingImageGenerationOperator(**kwargs)


def test_execute_waits_stores_images_and_returns_documented_xcom(kling_connection, tmp_path):
    operator = make_operator(n=2, aspect_ratio="16:9", output_path=str(tmp_path))
    ti = RecordingTaskInstance()

    result = operator.execute(make_context(ti))

    assert set(result) == XCOM_KEYS | {"output_conn_id"}
    assert result["output_conn_id"] is None
    assert result["task_status"] == "succeed"
    assert result["model_name"] == "kling-v3"  # the default model
    assert ti.xcom[XCOM_KLING_TASK_ID] == result["task_id"]
    assert [image["index"] for image in result["images"]] == [0, 1]
    for image in result["images"]:
        path = Path(image["path"].removeprefix("file://"))
        assert path.is_relative_to(tmp_path)
        assert path.name == f"generate_{image['index']}.png"
        assert path.parent.name.startswith("manual__2026-11-25T00_00_00_00_00-")  # + hash of the run id
        assert path.read_bytes().startswith(PNG_SIGNATURE)
    json.dumps(result)  # XCom needs JSON
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_mapped_instances_get_distinct_files_and_external_ids(kling_connection, tmp_path):
    operator = make_operator(output_path=str(tmp_path))
    first = operator.execute(make_context(RecordingTaskInstance(map_index=0)))
    second = operator.execute(make_context(RecordingTaskInstance(map_index=1)))

    assert first["task_id"] != second["task_id"]
    assert first["external_task_id"] != second["external_task_id"]
    assert Path(first["images"][0]["path"]).name == "generate_0_0.png"
    assert Path(second["images"][0]["path"]).name == "generate_1_0.png"


def test_retry_resumes_existing_task_without_second_create(kling_connection, tmp_path):
    kling_connection.set_latency(0.5)
    context = make_context()
    # The first try creates the task and dies before it finishes (not waiting stands in for the crash).
    first = make_operator(wait_for_completion=False).execute(context)
    assert first["task_status"] in ("submitted", "processing")

    retried = make_operator(output_path=str(tmp_path)).execute(
        make_context(RecordingTaskInstance(try_number=2))
    )

    assert retried["task_id"] == first["task_id"]
    assert retried["task_status"] == "succeed"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_retry_reconnects_through_task_state_store(kling_connection):
    store = DictTaskStateStore()
    first = make_operator(wait_for_completion=False).execute(make_context(task_state_store=store))
    assert store.values["kling_task_id"] == first["task_id"]

    retried = make_operator().execute(make_context(task_state_store=store))

    assert retried["task_id"] == first["task_id"]
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_task_failed_on_kling_side_fails_with_message_and_retry_creates_a_new_one(kling_connection):
    operator = make_operator(prompt="a picture that breaks the generator #error")
    with pytest.raises(KlingTaskFailedError) as failed:
        operator.execute(make_context())
    assert failed.value.task_id in str(failed.value)
    assert "internal error" in str(failed.value)

    kling_connection.set_error_marker("")
    retried = make_operator(prompt="a picture that breaks the generator #error").execute(make_context())

    assert retried["task_status"] == "succeed"
    assert retried["task_id"] != failed.value.task_id
    assert retried["external_task_id"].endswith("-2")
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 2


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("n", {"n": 10}),
        ("prompt", {"prompt": "x" * 2501}),
        ("model_name", {"model_name": "kling-v9"}),
        ("aspect_ratio", {"aspect_ratio": "5:4"}),
    ],
)
def test_invalid_request_fails_before_any_http_call_naming_the_field(kling_connection, field, kwargs):
    operator = make_operator(**kwargs)

    with pytest.raises(AirflowFailException, match=field):
        operator.execute(make_context())

    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_bad_api_key_fails_without_airflow_retry_naming_the_connection(kling_connection, monkeypatch):
    conn = json.loads(kling_connection.airflow_conn_json())
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps({**conn, "password": "wrong-key"}))

    with pytest.raises(AirflowFailException, match="1002") as raised:
        make_operator().execute(make_context())

    message = str(raised.value)
    assert "Airflow connection 'kling_default'" in message
    assert "external_task_id=airflow-" in message and "[task_id=airflow-" not in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"on_content_policy": "ignore"}, "on_content_policy must be one of fail, skip"),
        ({"max_regenerations": -1}, "max_regenerations must be an integer >= 0"),
        ({"max_regenerations": True}, "max_regenerations must be an integer >= 0"),
    ],
)
def test_bad_failure_policy_is_refused_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_operator(**kwargs)


def test_default_external_id_carries_the_connection_namespace(kling_simulator, monkeypatch):
    conn = json.loads(kling_simulator.airflow_conn_json())
    conn["extra"] = {"external_task_id_namespace": "staging"}
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))

    result = make_operator().execute(make_context())

    assert result["external_task_id"].startswith("staging-airflow-")


def test_deadline_fails_with_task_id_and_how_to_resume(kling_connection):
    kling_connection.set_latency(30)
    with pytest.raises(KlingTaskTimeoutError) as timed_out:
        make_operator(timeout=0.2).execute(make_context())
    message = str(timed_out.value)
    assert timed_out.value.task_id and timed_out.value.task_id in message
    assert "KlingTaskSensor" in message


def test_deferrable_defers_to_trigger_and_completes_with_stored_images(kling_connection, tmp_path):
    kling_connection.set_latency(0.3)
    operator = make_operator(deferrable=True, output_path=str(tmp_path), poll_interval=0.05)
    context = make_context()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    trigger = deferred.value.trigger
    assert isinstance(trigger, KlingTaskTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert trigger.kling_task_id == context["ti"].xcom[XCOM_KLING_TASK_ID]
    event = asyncio.run(first_trigger_event(trigger))
    assert event.payload["status"] == "success"

    result = operator.execute_complete(context, event.payload)

    assert result["task_id"] == trigger.kling_task_id
    assert Path(result["images"][0]["path"].removeprefix("file://")).read_bytes().startswith(PNG_SIGNATURE)


def test_execute_complete_with_failed_event_raises_kling_message(kling_connection):
    operator = make_operator()
    event = {"status": "failed", "task_id": "42", "message": "Kling task 42 failed: internal error"}
    with pytest.raises(KlingTaskFailedError, match="internal error"):
        operator.execute_complete(make_context(), event)


def test_execute_complete_with_a_content_policy_failure_fails_without_retry(kling_connection):
    operator = make_operator()
    event = {"status": "failed", "task_id": "42", "message": "Kling task 42 failed: risk control"}
    with pytest.raises(AirflowFailException, match=r"risk control.*not generated again"):
        operator.execute_complete(make_context(), event)


def test_prompt_file_is_rendered_with_the_run_context(kling_connection, tmp_path):
    (tmp_path / "prompt.j2").write_text("a poster for {{ ds }} in {{ params.style }}")
    operator = make_operator(prompt="prompt.j2", template_searchpath=str(tmp_path), params={"style": "ink"})
    context = make_context(params={"style": "ink"})

    operator.render_template_fields(context)
    result = operator.execute(context)

    assert result["prompt"] == "a poster for 2026-11-25 in ink"


def test_images_already_stored_are_not_fetched_again_on_retry(kling_connection, tmp_path):
    first = make_operator(n=2, output_path=str(tmp_path)).execute(make_context())
    images_served = kling_connection.counters(kling_connection.api_key)["images"]

    again = make_operator(n=2, output_path=str(tmp_path)).execute(make_context())

    assert again["task_id"] == first["task_id"]
    assert [i["path"] for i in again["images"]] == [i["path"] for i in first["images"]]
    assert kling_connection.counters(kling_connection.api_key)["images"] == images_served


def test_images_stream_to_an_in_memory_fsspec_filesystem(kling_connection):
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach(protocol="memory", fs=MemoryFileSystem())
    result = make_operator(output_path=ObjectStoragePath("memory://bucket/kling")).execute(make_context())

    stored = ObjectStoragePath(result["images"][0]["path"])
    assert stored.protocol == "memory"
    assert stored.read_bytes().startswith(PNG_SIGNATURE)


def test_expired_image_fails_after_storing_what_it_can(kling_connection, tmp_path):
    kling_connection.set_image_ttl(0)
    with pytest.raises(KlingResultUnavailableError, match="could not be stored"):
        make_operator(output_path=str(tmp_path)).execute(make_context())
    assert not list(tmp_path.rglob("*.part"))


def test_api_key_is_in_no_log_record_and_no_xcom(kling_connection, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    ti = RecordingTaskInstance()
    kling_connection.fail_next(1, status=500)  # a retry path logs too
    result = make_operator(output_path=str(tmp_path)).execute(make_context(ti))

    key = kling_connection.api_key
    printed = capsys.readouterr()
    task_log = printed.out + printed.err  # Airflow's task logger (structlog) prints here
    assert f"Created Kling task {result['task_id']} (generations" in task_log
    assert key not in task_log
    assert all(key not in record.getMessage() for record in caplog.records)
    assert key not in json.dumps(result)
    assert key not in json.dumps(ti.xcom)
    assert key not in repr(make_operator().hook)


def test_operator_logs_each_poll_and_where_images_went(kling_connection, tmp_path, capsys):
    kling_connection.set_latency(0.2)
    make_operator(output_path=str(tmp_path)).execute(make_context())
    printed = capsys.readouterr()
    task_log = printed.out + printed.err
    assert "is processing after" in task_log or "is queued after" in task_log
    assert "succeeded after" in task_log
    assert "Stored 1 images of Kling task" in task_log and str(tmp_path) in task_log


def test_template_fields_cover_prompt_storage_and_connection():
    fields = set(KlingImageGenerationOperator.template_fields)
    assert {"prompt", "negative_prompt", "image", "model_name", "output_path", "external_task_id"} <= fields
    assert {"callback_url", "kling_conn_id"} <= fields
    assert {".txt", ".j2", ".jinja2"} <= set(KlingImageGenerationOperator.template_ext)


@pytest.mark.parametrize("field", ["poll_interval", "timeout"])
def test_non_positive_wait_settings_are_refused_when_the_dag_is_parsed(field):
    with pytest.raises(ValueError, match=f"{field} must be a positive number"):
        make_operator(**{field: 0})


def test_extra_link_points_at_the_first_generated_image(kling_connection):
    from airflow_provider_kling.operators.base import KlingResultLink

    operator = make_operator()
    assert KlingResultLink().get_link(operator, ti_key=None) == ""

    result = operator.execute(make_context())

    assert KlingResultLink().get_link(operator, ti_key=None) == result["images"][0]["url"]
    assert result["images"][0]["url"].startswith(kling_connection.root_url)
    assert any(isinstance(link, KlingResultLink) for link in operator.operator_extra_links)
