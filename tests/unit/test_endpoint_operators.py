"""The endpoint operators on the generation operator's lifecycle, against the simulator: images
read from the user's storage, resume without a second create, storage and the XCom result."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_kling.operators.endpoints import (
    KlingExpandImageOperator,
    KlingMultiImageOperator,
    KlingOmniImageOperator,
    KlingVirtualTryOnOperator,
)
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.testing import make_png
from tests.unit.task_context import (
    DictTaskStateStore,
    RecordingTaskInstance,
    first_trigger_event,
    make_context,
)
from tests.unit.test_operator_storage import moto_endpoint, s3  # noqa: F401  (fixtures)

SQUARE = make_png("a linen shirt on white", 0, 400, 400)
PORTRAIT = make_png("a model standing", 0, 360, 480)


def make(operator_class: type, **kwargs: Any) -> Any:
    kwargs.setdefault("task_id", "edit")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_endpoints_dag", schedule=None):
        return operator_class(**kwargs)


@pytest.fixture
def stored(tmp_path: Path) -> dict[str, Path]:
    files = {"square": tmp_path / "in" / "shirt.png", "portrait": tmp_path / "in" / "model.png"}
    files["square"].parent.mkdir()
    files["square"].write_bytes(SQUARE)
    files["portrait"].write_bytes(PORTRAIT)
    return files


def png_size(path: str) -> tuple[int, int]:
    data = ObjectStoragePath(path).read_bytes()
    return struct.unpack(">II", data[16:24])


def test_try_on_reads_both_images_from_storage_and_stores_the_result(kling_connection, stored, tmp_path):
    kling_connection.set_progress("immediate")
    operator = make(
        KlingVirtualTryOnOperator,
        human_image=f"file://{stored['portrait']}",
        cloth_image=ObjectStoragePath(f"file://{stored['square']}"),
        output_path=str(tmp_path / "out"),
    )

    result = operator.execute(make_context())

    (sent,) = kling_connection.tasks()
    assert base64.b64decode(sent["request"]["human_image"]) == PORTRAIT  # sent as bare base64
    assert base64.b64decode(sent["request"]["cloth_image"]) == SQUARE
    assert result["request_kind"] == "virtual-try-on"
    assert result["model_name"] == "kolors-virtual-try-on-v1"
    assert result["prompt"] is None
    (image,) = result["images"]
    assert Path(image["path"].removeprefix("file://")).read_bytes().startswith(b"\x89PNG")


def test_expand_to_a_banner_ratio_from_a_stored_xcom_image(kling_connection, stored, tmp_path):
    kling_connection.set_progress("immediate")
    earlier_result_image = {
        "index": 0,
        "url": "https://cdn.example/0.png",
        "path": f"file://{stored['square']}",
    }
    operator = make(
        KlingExpandImageOperator,
        image=earlier_result_image,
        to_aspect_ratio="21:9",
        prompt="more beach",
        output_path=str(tmp_path / "out"),
    )

    result = operator.execute(make_context())

    (sent,) = kling_connection.tasks()
    assert sent["request"]["left_expansion_ratio"] == sent["request"]["right_expansion_ratio"] == 0.6667
    assert sent["request"]["up_expansion_ratio"] == sent["request"]["down_expansion_ratio"] == 0
    width, height = png_size(result["images"][0]["path"])
    assert round(width / height, 1) == round(21 / 9, 1)


def test_multi_image_and_omni_take_lists_of_stored_images(kling_connection, stored, tmp_path):
    kling_connection.set_progress("immediate")
    multi = make(
        KlingMultiImageOperator,
        task_id="multi",
        subject_image_list=[f"file://{stored['square']}", f"file://{stored['portrait']}"],
        scene_image=f"file://{stored['square']}",
        n=2,
        output_path=str(tmp_path / "out"),
    ).execute(make_context(RecordingTaskInstance(task_id="multi")))
    omni = make(
        KlingOmniImageOperator,
        task_id="omni",
        prompt="<<<image_1>>> on a poster",
        image_list=[{"image": f"file://{stored['square']}"}],
        model_name="kling-v3-omni",
        result_type="series",
        series_amount=3,
        output_path=str(tmp_path / "out"),
    ).execute(make_context(RecordingTaskInstance(task_id="omni")))

    assert len(multi["images"]) == 2 and all(image["path"] for image in multi["images"])
    assert len(omni["images"]) == 3 and all(image["path"] for image in omni["images"])
    bodies = {task["request"].get("model_name"): task["request"] for task in kling_connection.tasks()}
    assert base64.b64decode(bodies["kling-v3-omni"]["image_list"][0]["image"]) == SQUARE
    assert [base64.b64decode(s["subject_image"]) for s in bodies["kling-v2"]["subject_image_list"]] == [
        SQUARE,
        PORTRAIT,
    ]


def test_retry_resumes_the_expand_task_without_a_second_create(kling_connection, stored, tmp_path):
    kling_connection.set_progress("manual")
    store = DictTaskStateStore()
    kwargs = dict(
        image=f"file://{stored['square']}", up_expansion_ratio=0.5, output_path=str(tmp_path / "out")
    )
    first = make(KlingExpandImageOperator, timeout=0.1, **kwargs)
    with pytest.raises(Exception, match="past its deadline"):
        first.execute(make_context(task_state_store=store))
    kling_connection.advance(to="succeed")

    result = make(KlingExpandImageOperator, **kwargs).execute(make_context(task_state_store=store))

    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert result["task_status"] == "succeed"


def test_bad_stored_image_fails_before_any_http_call_naming_the_field(kling_connection, tmp_path):
    small = tmp_path / "small.png"
    small.write_bytes(make_png("tiny", 0, 200, 200))
    operator = make(
        KlingVirtualTryOnOperator, human_image=f"file://{small}", cloth_image=f"file://{tmp_path}/none.png"
    )

    with pytest.raises(AirflowFailException) as caught:
        operator.execute(make_context())

    assert "human_image" in str(caught.value) and "300" in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_missing_stored_image_names_the_field_and_the_uri(kling_connection, stored, tmp_path):
    operator = make(
        KlingVirtualTryOnOperator,
        human_image=f"file://{stored['portrait']}",
        cloth_image=f"file://{tmp_path}/none.png",
    )

    with pytest.raises(AirflowFailException, match=r"cloth_image: no image file at file://.*none\.png"):
        operator.execute(make_context())


def test_generation_operator_image_also_reads_from_storage(kling_connection, stored):
    kling_connection.set_progress("immediate")
    operator = make(
        KlingImageGenerationOperator,
        prompt="restyle it",
        model_name="kling-v2-1",
        image=f"file://{stored['square']}",
    )

    result = operator.execute(make_context())

    (sent,) = kling_connection.tasks()
    assert base64.b64decode(sent["request"]["image"]) == SQUARE
    assert result["request_kind"] == "generations"  # every kind's XCom result names its kind


def test_expand_refuses_ratios_and_to_aspect_ratio_together():
    with pytest.raises(ValueError, match="either to_aspect_ratio or"):
        make(
            KlingExpandImageOperator,
            image="https://x/y.png",
            to_aspect_ratio="21:9",
            left_expansion_ratio=0.1,
        )


def test_deferred_try_on_is_polled_at_its_endpoint_by_the_trigger(kling_connection, stored, tmp_path):
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred

    kling_connection.set_latency(0.2)
    operator = make(
        KlingVirtualTryOnOperator,
        human_image=f"file://{stored['portrait']}",
        cloth_image=f"file://{stored['square']}",
        deferrable=True,
        output_path=str(tmp_path / "out"),
    )
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["endpoint"] == "/v1/images/kolors-virtual-try-on"

    event = asyncio.run(first_trigger_event(trigger))
    result = operator.execute_complete(context, event.payload)

    assert event.payload["status"] == "success"
    assert result["request_kind"] == "virtual-try-on" and result["images"][0]["path"]
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_images_read_from_s3_through_output_conn_id_and_local_files_beside_them(
    kling_connection, stored, request
):
    from tests.unit.test_operator_storage import BUCKET

    client = request.getfixturevalue("s3")

    kling_connection.set_progress("immediate")
    client.put_object(Bucket=BUCKET, Key="in/shirt.png", Body=SQUARE)
    operator = make(
        KlingVirtualTryOnOperator,
        human_image=f"file://{stored['portrait']}",  # local, while the output store is S3
        cloth_image=f"s3://{BUCKET}/in/shirt.png",
        output_path=f"s3://{BUCKET}/out",
        output_conn_id="aws_default",
    )

    result = operator.execute(make_context())

    (sent,) = kling_connection.tasks()
    assert base64.b64decode(sent["request"]["cloth_image"]) == SQUARE
    assert base64.b64decode(sent["request"]["human_image"]) == PORTRAIT
    (image,) = result["images"]
    key = image["path"].removeprefix(f"s3://{BUCKET}/")
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read().startswith(b"\x89PNG")


def test_an_unknown_storage_scheme_fails_at_once_naming_the_field(kling_connection):
    operator = make(KlingExpandImageOperator, image="nosuchfs://bucket/a.png", up_expansion_ratio=0.5)

    with pytest.raises(AirflowFailException, match=r"image: cannot open nosuchfs://bucket/a\.png"):
        operator.execute(make_context())

    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


@pytest.mark.parametrize(
    ("operator_class", "kwargs", "refused"),
    [
        (
            KlingVirtualTryOnOperator,
            {"human_image": "https://x/h.png", "cloth_image": "https://x/c.png"},
            "negative_prompt",
        ),
        (KlingExpandImageOperator, {"image": "https://x/y.png"}, "image_reference"),
        (KlingOmniImageOperator, {"prompt": "a cat"}, "negative_prompt"),
        (KlingMultiImageOperator, {"subject_image_list": ["https://x/s.png"]}, "image_fidelity"),
    ],
)
def test_an_argument_the_endpoint_does_not_have_is_refused_naming_operator_and_argument(
    operator_class, kwargs, refused
):
    with pytest.raises(TypeError) as error:
        make(operator_class, **kwargs, **{refused: "x"})

    assert operator_class.__name__ in str(error.value)
    assert refused in str(error.value)


def test_try_on_refuses_image_generation_arguments_it_used_to_drop_silently():
    with pytest.raises(TypeError, match=r"KlingVirtualTryOnOperator.*\n.*negative_prompt.*resolution"):
        make(
            KlingVirtualTryOnOperator,
            human_image="https://x/h.png",
            cloth_image="https://x/c.png",
            negative_prompt="x",
            resolution="2k",
        )


def test_endpoint_operators_are_siblings_of_image_generation_on_one_base():
    from airflow_provider_kling.operators.base import KlingTaskOperator

    for operator_class in (
        KlingOmniImageOperator,
        KlingMultiImageOperator,
        KlingExpandImageOperator,
        KlingVirtualTryOnOperator,
    ):
        assert issubclass(operator_class, KlingTaskOperator)
        assert not issubclass(operator_class, KlingImageGenerationOperator)
    assert issubclass(KlingImageGenerationOperator, KlingTaskOperator)
