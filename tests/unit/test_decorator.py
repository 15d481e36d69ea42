"""``@task.kling_image`` against the simulator, without an Airflow database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.decorators.kling import _KlingImageDecoratedOperator, kling_image_task
from airflow_provider_kling.lifecycle.request import XCOM_KLING_TASK_ID
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context
from tests.unit.test_operator import XCOM_KEYS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The operator's documented return value (tests/unit/test_operator.py checks the operator itself).


def decorated_operator(
    function: Any, *call_args: Any, **decorator_kwargs: Any
) -> _KlingImageDecoratedOperator:
    """One ``@task.kling_image`` task in a DAG of its own, called with ``call_args``."""
    decorator_kwargs.setdefault("poll_interval", 0.05)
    decorator_kwargs.setdefault("timeout", 30)
    with DAG("kling_decorator_test", schedule=None) as dag:
        task.kling_image(**decorator_kwargs)(function)(*call_args)
    (operator,) = dag.tasks
    assert isinstance(operator, _KlingImageDecoratedOperator)
    return operator


def created(simulator: Any) -> int:
    return int(simulator.counters(simulator.api_key)["creates"])


def test_task_kling_image_is_registered_through_provider_info() -> None:
    assert task.kling_image is kling_image_task


def test_returned_prompt_is_generated_stored_and_returned_like_the_operator(kling_connection, tmp_path):
    def lighthouse(ds: str | None = None) -> str:
        return f"a lighthouse at dawn, {ds}"

    operator = decorated_operator(lighthouse, output_path=str(tmp_path))
    ti = RecordingTaskInstance(task_id="lighthouse")

    result = operator.execute(make_context(ti))

    assert set(result) == XCOM_KEYS | {"output_conn_id"}
    assert result["task_status"] == "succeed"
    assert result["prompt"] == "a lighthouse at dawn, 2026-11-25"
    assert ti.xcom[XCOM_KLING_TASK_ID] == result["task_id"]
    (image,) = result["images"]
    path = Path(image["path"].removeprefix("file://"))
    assert path.name == "lighthouse_0.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    json.dumps(result)
    assert created(kling_connection) == 1


def test_returned_fields_override_the_decorator_and_reach_kling(kling_connection):
    def poster(city: str) -> dict[str, Any]:
        return {"prompt": f"travel poster of {city}", "n": 2, "aspect_ratio": "3:4"}

    operator = decorated_operator(poster, "Lisbon", model_name="kling-v2-1", n=1, aspect_ratio="16:9")

    result = operator.execute(make_context())

    (kling_task,) = kling_connection.tasks()
    assert kling_task["request"]["prompt"] == "travel poster of Lisbon"
    assert kling_task["request"]["n"] == 2
    assert kling_task["request"]["aspect_ratio"] == "3:4"
    assert kling_task["request"]["model_name"] == "kling-v2-1"  # from the decorator, not overridden
    assert result["model_name"] == "kling-v2-1"
    assert len(result["images"]) == 2


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "must return a prompt (str) or a dict of request fields, got NoneType"),
        ({"prompt": "a cat", "output_path": "/tmp"}, "unknown request fields ['output_path']"),
        ({"aspect_ratio": "1:1"}, "without 'prompt'"),
        ({"prompt": "a cat", "n": 20}, "n"),
        ("   ", "prompt"),
    ],
)
def test_bad_return_fails_without_retry_before_any_http_call(kling_connection, returned, message):
    operator = decorated_operator(lambda: returned, task_id="bad")

    with pytest.raises(AirflowFailException) as failed:
        operator.execute(make_context())

    assert message in str(failed.value)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_prompt_argument_to_the_decorator_is_refused_when_the_dag_is_parsed() -> None:
    with pytest.raises(TypeError, match="takes the prompt from the function's return value"):
        decorated_operator(lambda: "a cat", prompt="a dog")


def test_deferred_task_resumes_with_the_request_without_calling_the_function_again(
    kling_connection, tmp_path
):
    kling_connection.set_latency(0.3)
    calls: list[str] = []

    def harbour(ds: str | None = None) -> dict[str, Any]:
        calls.append("called")
        return {"prompt": f"a harbour at night, {ds}", "aspect_ratio": "16:9"}

    context = make_context(RecordingTaskInstance(task_id="harbour"))
    with pytest.raises(TaskDeferred) as deferred:
        decorated_operator(harbour, deferrable=True, output_path=str(tmp_path)).execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    assert deferred.value.method_name == "execute_complete"

    # The resumed task is a fresh operator from the parsed DAG, as on another worker.
    resumed = decorated_operator(harbour, deferrable=True, output_path=str(tmp_path))
    result = resumed.resume_execution(
        deferred.value.method_name, {"event": event.payload, **(deferred.value.kwargs or {})}, context
    )

    assert calls == ["called"]
    assert result["prompt"] == "a harbour at night, 2026-11-25"
    assert result["task_id"] == context["ti"].xcom[XCOM_KLING_TASK_ID]
    assert Path(result["images"][0]["path"].removeprefix("file://")).read_bytes().startswith(PNG_SIGNATURE)
    assert created(kling_connection) == 1


def run_mapped(mapped: Any, map_index: int) -> dict[str, Any]:
    """Unmap one instance of a mapped task as the task runner does, then execute it."""
    context = make_context(
        RecordingTaskInstance(task_id=mapped.task_id, map_index=map_index),
        dag=mapped.dag,
        dag_run=SimpleNamespace(conf={}),
        params={},
    )
    mapped.render_template_fields(context)
    result: dict[str, Any] = context["task"].execute(context)
    return result


def test_expand_makes_one_kling_task_per_mapped_value(kling_connection, tmp_path):
    def poster(city: str) -> str:
        return f"travel poster of {city}"

    with DAG("kling_decorator_expand", schedule=None):
        posters = task.kling_image(poll_interval=0.05, output_path=str(tmp_path))(poster).expand(
            city=["Lisbon", "Kyoto"]
        )

    results = [run_mapped(posters.operator, index) for index in (0, 1)]

    assert [result["prompt"] for result in results] == ["travel poster of Lisbon", "travel poster of Kyoto"]
    assert results[0]["external_task_id"] != results[1]["external_task_id"]
    names = [Path(result["images"][0]["path"]).name for result in results]
    assert names == ["poster_0_0.png", "poster_1_0.png"]
    assert created(kling_connection) == 2


def test_expand_kwargs_maps_the_function_arguments(kling_connection):
    def poster(city: str, style: str) -> dict[str, Any]:
        return {"prompt": f"{style} poster of {city}"}

    with DAG("kling_decorator_expand_kwargs", schedule=None):
        posters = task.kling_image(poll_interval=0.05)(poster).expand_kwargs(
            [{"city": "Lisbon", "style": "art deco"}, {"city": "Kyoto", "style": "ukiyo-e"}]
        )

    results = [run_mapped(posters.operator, index) for index in (0, 1)]

    assert [result["prompt"] for result in results] == [
        "art deco poster of Lisbon",
        "ukiyo-e poster of Kyoto",
    ]


def test_the_factory_makes_a_decorator_of_another_endpoint_in_one_line(kling_connection, tmp_path):
    from airflow_provider_kling.decorators.kling import make_kling_task_decorator
    from airflow_provider_kling.operators.endpoints import KlingVirtualTryOnOperator

    decorated_class, kling_try_on = make_kling_task_decorator(KlingVirtualTryOnOperator, "kling_try_on")
    kling_connection.set_progress("immediate")

    def outfit(garment: str) -> dict[str, Any]:
        return {
            "human_image": "https://example.com/model.png",
            "cloth_image": f"https://example.com/{garment}",
        }

    with DAG("kling_decorator_factory", schedule=None) as dag:
        kling_try_on(poll_interval=0.05, output_path=str(tmp_path))(outfit)("shirt.png")
    (operator,) = dag.tasks
    assert isinstance(operator, decorated_class) and isinstance(operator, KlingVirtualTryOnOperator)

    result = operator.execute(make_context(RecordingTaskInstance(task_id="outfit")))

    (sent,) = kling_connection.tasks()
    assert sent["request"]["cloth_image"] == "https://example.com/shirt.png"
    assert result["request_kind"] == "virtual-try-on"
    assert Path(result["images"][0]["path"].removeprefix("file://")).read_bytes().startswith(PNG_SIGNATURE)


def test_a_factory_decorator_refuses_a_returned_field_its_operator_does_not_have(kling_connection):
    from airflow_provider_kling.decorators.kling import make_kling_task_decorator
    from airflow_provider_kling.operators.endpoints import KlingVirtualTryOnOperator

    _, kling_try_on = make_kling_task_decorator(KlingVirtualTryOnOperator, "kling_try_on")
    with DAG("kling_decorator_factory_bad", schedule=None) as dag:
        kling_try_on(task_id="bad")(
            lambda: {"human_image": "https://x/h.png", "cloth_image": "https://x/c.png", "n": 2}
        )()
    (operator,) = dag.tasks

    with pytest.raises(AirflowFailException, match=r"@task.kling_try_on .*unknown request fields \['n'\]"):
        operator.execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0
    with pytest.raises(TypeError, match="takes the human_image from the function's return value"):
        with DAG("kling_decorator_factory_arg", schedule=None):
            kling_try_on(task_id="arg", human_image="https://x/h.png")(lambda: {})()


def test_kind_runs_that_kinds_operator_with_the_decorators_arguments(kling_connection, tmp_path):
    from airflow_provider_kling.operators.endpoints import KlingVirtualTryOnOperator

    kling_connection.set_progress("immediate")

    def outfit(garment: str) -> dict[str, Any]:
        return {
            "human_image": "https://example.com/model.png",
            "cloth_image": f"https://example.com/{garment}",
        }

    with DAG("kling_decorator_kind", schedule=None) as dag:
        task.kling_image(kind="virtual-try-on", poll_interval=0.05, output_path=str(tmp_path))(outfit)(
            "a.png"
        )
    (operator,) = dag.tasks
    assert isinstance(operator, KlingVirtualTryOnOperator)
    assert operator.custom_operator_name == "@task.kling_image"

    result = operator.execute(make_context(RecordingTaskInstance(task_id="outfit")))

    (sent,) = kling_connection.tasks()
    assert sent["request"]["cloth_image"] == "https://example.com/a.png"
    assert result["request_kind"] == "virtual-try-on"
    assert Path(result["images"][0]["path"].removeprefix("file://")).read_bytes().startswith(PNG_SIGNATURE)


def test_every_request_kind_has_the_one_operator_a_decorator_runs_for_it() -> None:
    from airflow_provider_kling.decorators.kling import _declared_kinds, _operator_modules, operator_for_kind
    from airflow_provider_kling.models.requests import REQUEST_KINDS

    for kind in REQUEST_KINDS:
        assert operator_for_kind(kind).request_kind == kind
    declared = _declared_kinds(_operator_modules())  # every operator module is imported by now
    assert {kind: len(operators) for kind, operators in declared.items()} == dict.fromkeys(REQUEST_KINDS, 1)


def test_an_unknown_kind_is_refused_when_the_dag_is_parsed_naming_the_kinds() -> None:
    with pytest.raises(ValueError, match=r"unknown Kling request kind 'sketch': one of .*virtual-try-on"):
        task.kling_image(kind="sketch")


def test_a_kind_of_other_media_fails_before_the_function_runs_or_any_http_call(kling_connection):
    calls: list[str] = []

    def teaser() -> str:
        calls.append("called")
        return "a teaser"

    with DAG("kling_decorator_other_media", schedule=None) as dag:
        task.kling_image(kind="text2video")(teaser)()
    (operator,) = dag.tasks

    with pytest.raises(AirflowFailException, match="makes images, but kind 'text2video' makes videos"):
        operator.execute(make_context())
    assert calls == []
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0
