"""The operator's asset outlets, asset events and OpenLineage facets, against the simulator (no database)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, Asset, AssetAlias, ObjectStoragePath, task
from airflow.sdk.exceptions import TaskDeferred
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_kling.assets import EXTRA_KEYS
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context


def make_operator(
    operator_class: type[KlingImageGenerationOperator] = KlingImageGenerationOperator, **kwargs: Any
) -> KlingImageGenerationOperator:
    kwargs.setdefault("task_id", "generate")
    if operator_class is KlingImageGenerationOperator:
        kwargs.setdefault("prompt", "a paper lantern in the rain")
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    with DAG("kling_assets_dag", schedule=None):
        return operator_class(**kwargs)


def run(operator: KlingImageGenerationOperator, context: dict[str, Any], *, deferrable: bool) -> dict:
    if not deferrable:
        return operator.execute(context)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    return operator.execute_complete(context, event.payload)


def asset_context() -> tuple[dict[str, Any], OutletEventAccessors]:
    events = OutletEventAccessors()
    return make_context(RecordingTaskInstance(task_id="generate"), outlet_events=events), events


@pytest.mark.parametrize(
    ("output_path", "uri"),
    [
        ("s3://aws_default@bucket/kling/", "s3://bucket/kling"),
        ("/data/kling", "file:///data/kling"),
        (ObjectStoragePath("file:///data/kling"), "file:///data/kling"),
    ],
)
def test_a_static_output_path_becomes_the_asset_outlet(output_path, uri):
    assert make_operator(output_path=output_path).outlets == [Asset(uri)]


@pytest.mark.parametrize("output_path", [None, "s3://bucket/{{ ds }}", "relative/images"])
def test_no_outlet_is_derived_from_a_path_unknown_at_parse_time(output_path):
    assert make_operator(output_path=output_path).outlets == []


def test_no_outlet_is_derived_from_an_xcom_output_path():
    @task
    def folder() -> str:
        return "/data/kling"

    with DAG("kling_assets_xcom", schedule=None):
        operator = KlingImageGenerationOperator(
            task_id="generate", prompt="a lantern", output_path=folder(), poll_interval=0.05
        )
    assert operator.outlets == []


def test_the_derived_outlet_is_serialized_with_the_dag_but_a_mapped_task_has_none():
    """What the scheduler learns at parse time: why mapped tasks must declare their outlets."""
    from airflow.serialization import serialized_objects

    with DAG("kling_assets_serialized", schedule=None) as dag:
        KlingImageGenerationOperator(task_id="single", prompt="a lantern", output_path="s3://bucket/kling")
        KlingImageGenerationOperator.partial(task_id="mapped", output_path="s3://bucket/kling").expand(
            prompt=["a lantern", "a kite"]
        )
    serializer = getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG
    tasks = {task["__var"]["task_id"]: task["__var"] for task in serializer.to_dict(dag)["dag"]["tasks"]}

    (outlet,) = tasks["single"]["outlets"]
    assert outlet["__var"]["uri"] == "s3://bucket/kling"
    assert not tasks["mapped"].get("outlets")


def test_declared_outlets_are_kept():
    alias = AssetAlias("kling_images")
    assert make_operator(output_path="/data/kling", outlets=[alias]).outlets == [alias]


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_stored_images_are_described_on_the_derived_assets_event(kling_connection, tmp_path, deferrable):
    operator = make_operator(n=2, output_path=str(tmp_path), deferrable=deferrable)
    context, events = asset_context()

    result = run(operator, context, deferrable=deferrable)

    (asset,) = operator.outlets
    assert asset.uri == f"file://{tmp_path}"
    extra = events[asset].extra
    assert set(extra) == set(EXTRA_KEYS)
    assert extra["kling_task_ids"] == [result["task_id"]]
    assert extra["model_names"] == ["kling-v3"]
    assert extra["image_count"] == 2
    assert extra["paths"] == [image["path"] for image in result["images"]]
    assert all(Path(path.removeprefix("file://")).is_file() for path in extra["paths"])
    assert extra["output_uri"] == f"file://{tmp_path}"
    assert (extra["dag_id"], extra["task_id"]) == ("kling_assets_dag", "generate")
    assert extra["run_id"] == context["run_id"]
    assert extra["units"] == float(result["final_unit_deduction"]) > 0  # the simulator deducts units
    text = json.dumps(extra)  # an event's extra is stored as JSON
    assert kling_connection.api_key not in text


def test_an_alias_outlet_resolves_to_the_rendered_output_folder(kling_connection, tmp_path):
    alias = AssetAlias("kling_images")
    operator = make_operator(output_path="{{ params.folder }}", outlets=[alias])
    operator.output_path = str(tmp_path / "2026-11-25")  # as rendered at run time
    context, events = asset_context()

    result = operator.execute(context)

    (alias_event,) = events[alias].asset_alias_events
    assert alias_event.dest_asset_key.uri == f"file://{tmp_path}/2026-11-25"
    assert alias_event.extra["kling_task_ids"] == [result["task_id"]]
    assert alias_event.extra["paths"] == [image["path"] for image in result["images"]]


def test_without_output_path_a_declared_asset_still_names_the_kling_task(kling_connection):
    asset = Asset("s3://bucket/reviewed")
    operator = make_operator(outlets=[asset, AssetAlias("kling_images")])
    context, events = asset_context()

    result = operator.execute(context)

    extra = events[asset].extra
    assert extra["kling_task_ids"] == [result["task_id"]]
    assert (extra["image_count"], extra["paths"], extra["output_uri"]) == (1, [], None)
    assert events[AssetAlias("kling_images")].asset_alias_events == []  # nothing stored to point at


def test_openlineage_facets_name_the_output_folder_and_the_kling_task(kling_connection, tmp_path):
    pytest.importorskip("airflow.providers.openlineage")
    from openlineage.client.serde import Serde

    operator = make_operator(n=2, output_path=str(tmp_path))
    context, _ = asset_context()
    result = operator.execute(context)

    lineage = operator.get_openlineage_facets_on_complete(context["ti"])

    (output,) = lineage.outputs
    assert (output.namespace, output.name) == ("file", str(tmp_path))
    facet = json.loads(Serde.to_json(lineage.run_facets["kling"]))
    assert facet["kling_task_ids"] == [result["task_id"]]
    assert facet["model_names"] == ["kling-v3"]
    assert facet["image_count"] == 2
    assert facet["units"] == float(result["final_unit_deduction"])
    assert kling_connection.api_key not in Serde.to_json(lineage.run_facets["kling"])


def test_the_decorator_derives_the_outlet_and_builds_facets_too(kling_connection, tmp_path):
    pytest.importorskip("airflow.providers.openlineage")

    def lantern() -> str:
        return "a paper lantern, watercolour"

    with DAG("kling_assets_decorator", schedule=None) as dag:
        task.kling_image(output_path=str(tmp_path), poll_interval=0.05, timeout=30)(lantern)()
    (operator,) = dag.tasks
    assert operator.outlets == [Asset(f"file://{tmp_path}")]
    context, events = asset_context()

    result = operator.execute(context)

    assert events[operator.outlets[0]].extra["kling_task_ids"] == [result["task_id"]]
    lineage = operator.get_openlineage_facets_on_complete(context["ti"])
    assert lineage.run_facets["kling"].kling_task_ids == [result["task_id"]]


def test_without_waiting_the_facets_name_the_kling_task_and_no_output(kling_connection, tmp_path):
    pytest.importorskip("airflow.providers.openlineage")
    operator = make_operator(output_path=str(tmp_path), wait_for_completion=False)
    context, events = asset_context()

    result = operator.execute(context)

    lineage = operator.get_openlineage_facets_on_complete(context["ti"])
    assert lineage.run_facets["kling"].kling_task_ids == [result["task_id"]]
    assert lineage.outputs == []
    assert events[operator.outlets[0]].extra == {}  # nothing made yet: Airflow records a bare event


def test_an_endpoint_operator_inherits_the_outlet_and_the_event(kling_connection, tmp_path):
    from airflow_provider_kling.operators.endpoints import KlingVirtualTryOnOperator
    from airflow_provider_kling.testing import make_png

    images = {}
    for name, size in (("model", (360, 480)), ("shirt", (400, 400))):
        images[name] = tmp_path / "in" / f"{name}.png"
        images[name].parent.mkdir(exist_ok=True)
        images[name].write_bytes(make_png(name, 0, *size))
    operator = make_operator(
        operator_class=KlingVirtualTryOnOperator,
        human_image=f"file://{images['model']}",
        cloth_image=f"file://{images['shirt']}",
        output_path=str(tmp_path / "out"),
    )
    assert operator.outlets == [Asset(f"file://{tmp_path}/out")]
    context, events = asset_context()

    result = operator.execute(context)

    extra = events[operator.outlets[0]].extra
    assert extra["kling_task_ids"] == [result["task_id"]]
    assert extra["model_names"] == ["kolors-virtual-try-on-v1"]
    assert extra["paths"] == [image["path"] for image in result["images"]]
