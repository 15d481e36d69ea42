"""Subject completion (``/v1/general/ai-multi-shot``): three sets of three angles read as nine
images and stored; its rules refused before any HTTP call, the UNCONFIRMED price estimated at the
higher figure, worker, deferred, batch and a lost create answer, against the simulator's own rules."""

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

from airflow_provider_kling.errors import KlingInvalidRequestError, KlingRequestValidationError
from airflow_provider_kling.estimates import purchase_of
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import SubjectCompletionRequest
from airflow_provider_kling.models.task import task_from_v1
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.subject import KlingSubjectCompletionOperator
from airflow_provider_kling.testing import make_png
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

FRONT = "https://example.com/front.png"


def make(**kwargs: Any) -> KlingSubjectCompletionOperator:
    kwargs.setdefault("task_id", "angles")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_subject_dag", schedule=None):
        return KlingSubjectCompletionOperator(**kwargs)


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_the_sets_of_angles_are_read_as_nine_images_in_order():
    sets = [{"index": s, "url_1": f"u{s}1", "url_2": f"u{s}2", "url_3": f"u{s}3"} for s in range(3)]
    task = task_from_v1({"task_id": "t", "task_status": "succeed", "task_result": {"images": sets}}, "t")

    assert [(image.index, image.url) for image in task.images][:4] == [
        (0, "u01"),
        (1, "u02"),
        (2, "u03"),
        (3, "u11"),
    ]
    assert len(task.images) == 9


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "element_frontal_image: Field required"),
        ({"element_frontal_image": "not an image!"}, "element_frontal_image: "),
        ({"element_frontal_image": FRONT, "prompt": "x"}, "prompt: Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_refused_naming_the_field(fields, message):
    with pytest.raises(
        KlingRequestValidationError, match="Invalid Kling subject-completion request"
    ) as caught:
        SubjectCompletionRequest.build(**fields)
    assert message in str(caught.value)


def test_a_small_image_is_refused_before_any_http_call(kling_connection):
    small = base64.b64encode(make_png("tiny", 0, 100, 100)).decode()
    with pytest.raises(AirflowFailException, match=r"element_frontal_image: .*300"):
        make(element_frontal_image=small).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_the_estimate_takes_the_higher_of_the_two_published_prices():
    purchase = purchase_of(SubjectCompletionRequest.build(element_frontal_image=FRONT))
    assert (purchase.quantity, purchase.per) == (1, "task")
    assert SubjectCompletionRequest.stand_in_prices["*"]["*"] == 20.0


def test_the_nine_angles_are_stored_on_the_worker(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")

    result = make(element_frontal_image=FRONT, output_path=str(tmp_path)).execute(make_context())

    paths = [local(image["path"]) for image in result["images"]]
    assert [path.name for path in paths] == [f"angles_{n}.png" for n in range(9)]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths)
    assert len({path.read_bytes() for path in paths}) == 9
    assert float(result["final_unit_deduction"]) == pytest.approx(20)


def test_deferred_the_task_is_polled_at_its_endpoint_and_stored_on_resume(kling_connection, tmp_path):
    kling_connection.set_latency(0.2)
    operator = make(element_frontal_image=FRONT, deferrable=True, output_path=str(tmp_path))
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.trigger.serialize()[1]["endpoint"] == "/v1/general/ai-multi-shot"

    result = operator.execute_complete(
        context, asyncio.run(first_trigger_event(deferred.value.trigger)).payload
    )

    assert len(result["images"]) == 9 and all(local(image["path"]).is_file() for image in result["images"])


def test_a_lost_create_answer_holds_one_paid_task(kling_connection):
    kling_connection.set_progress("immediate")
    kling_connection.lose_next_create_answers(1, mode="reset")

    task = KlingHook().create_task(
        SubjectCompletionRequest.build(element_frontal_image=FRONT, external_task_id="s-1")
    )

    assert task.external_task_id == "s-1"
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
    assert len(kling_connection.tasks()) == 1


def test_a_batch_stores_each_subjects_angles(kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    with DAG("kling_subject_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind="subject-completion",
            requests=[
                {"element_frontal_image": FRONT},
                {"element_frontal_image": "https://example.com/b.png"},
            ],
            slots=2,
            poll_interval=0.05,
            timeout=60,
            output_path=str(tmp_path),
        )

    summary = batch.execute(
        make_context(RecordingTaskInstance(dag_id="kling_subject_batch", task_id="batch"))
    )

    assert summary["counts"] == {"succeeded": 2}
    manifest = json.loads(local(summary["manifest"]).read_text())
    assert [len(row["files"]) for row in manifest["items"]] == [9, 9]


def test_the_simulator_refuses_what_kling_refuses_even_when_the_client_would_send_it(kling_connection):
    hook = KlingHook()
    with pytest.raises(KlingInvalidRequestError, match="element_frontal_image: is required"):
        hook._run(
            hook.call("POST", "/v1/general/ai-multi-shot", body={"callback_url": "https://example.com/cb"})
        )
