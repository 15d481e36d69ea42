"""Every driver runs the same lifecycle: for every request kind (``models.requests.REQUEST_KINDS``,
so a new or merged kind is picked up here), the worker and the deferred path leave the same XCom
and spend, field by field, and a batch of the kind succeeds on the worker and in the triggerer."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

import airflow_provider_kling.operators as operators_package
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.models.requests import REQUEST_KINDS
from airflow_provider_kling.models.requests.lip_sync import FaceScanRequest
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.batch import KlingBatchOperator
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

URL = "https://example.com/a.png"

#: The fields of one small valid request of each kind (a kind's own defaults fill the rest).
#: ``video_id`` is filled with a video the simulator made (see :func:`fields_of`).
EXAMPLES: dict[str, dict[str, Any]] = {
    "generations": {"prompt": "a fox"},
    "omni-image": {"prompt": "a fox"},
    "multi-image2image": {"subject_image_list": [{"subject_image": URL}]},
    "expand": {"image": URL, "left_expansion_ratio": 0.5},
    "virtual-try-on": {"human_image": URL, "cloth_image": URL},
    "text2video": {"prompt": "a fox runs"},
    "image2video": {"first_frame": URL},
    "omni-video": {"prompt": "a fox runs", "aspect_ratio": "1:1"},
    "video-extend": {"video_id": None, "prompt": "it keeps running"},
    "multi-image2video": {"image_list": [{"image": URL}, {"image": URL}], "prompt": "they dance"},
    "video-effects": {"effect_scene": "bloombloom", "image": URL},
    "text-to-audio": {"prompt": "rain on a roof", "duration": 3.5},
    "video-to-audio": {"video_url": "https://example.com/a.mp4", "bgm_prompt": "jazz"},
    "motion-control": {"image": URL, "video": "https://example.com/a.mp4", "character_orientation": "image"},
    "avatar": {"image": URL, "audio_id": "tts-1"},
    "lip-sync": {
        "session_id": None,
        "face_id": "0",
        "audio_id": "tts-1",
        "sound_end_time": 3000,
        "sound_insert_time": 0,
    },
    "text-to-speech": {"text": "hello there", "voice_id": "oversea_male1"},
    "subject-completion": {"element_frontal_image": URL},
}
#: XCom fields that name one task rather than describe it (they differ between two tasks).
IDENTITY = {
    "task_id",
    "external_task_id",
    "created_at",
    "updated_at",
    "url",
    "watermark_url",
    "wav_url",
    "id",
    "path",
}
#: What a result describes that must not depend on how the task waited (spend above all).
SPEND = ("final_unit_deduction", "final_balance_deduction")


def operator_classes() -> dict[str, type[KlingTaskOperator]]:
    """Each request kind's own single operator, wherever it is declared."""
    for module in pkgutil.iter_modules(operators_package.__path__):
        importlib.import_module(f"{operators_package.__name__}.{module.name}")
    found: dict[str, type[KlingTaskOperator]] = {}
    todo = list(KlingTaskOperator.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        kind = getattr(cls, "request_kind", None)
        if kind in REQUEST_KINDS and cls.__module__.startswith("airflow_provider_kling.operators"):
            found.setdefault(kind, cls)
    return found


def fields_of(kind: str) -> dict[str, Any]:
    if kind not in EXAMPLES:
        pytest.fail(f"request kind {kind!r} has no example here: add one to EXAMPLES")
    fields = dict(EXAMPLES[kind])
    if "session_id" in fields:  # a face scan's session (lip sync)
        fields["session_id"] = KlingHook().answer(FaceScanRequest.build(video_url=URL)).session_id
    if "video_id" in fields:  # a video the simulator made (Kling extends only its own videos)
        hook = KlingHook()
        source = hook.create_task(REQUEST_KINDS["text2video"].build(prompt="a source clip"))
        fields["video_id"] = (
            wait_for_task(
                hook,
                source.task_id,
                poll_interval=0.02,
                timeout=10,
                endpoint=REQUEST_KINDS["text2video"].path,
            )
            .videos[0]
            .id
        )
    return fields


def without_identity(value: Any) -> Any:
    """``value`` with every field that names one task (ids, times, URLs, paths) left out."""
    if isinstance(value, dict):
        return {k: without_identity(v) for k, v in value.items() if k not in IDENTITY}
    if isinstance(value, list):
        return [without_identity(v) for v in value]
    return value


def run_single(kind: str, fields: dict[str, Any], out: Path, *, deferrable: bool, task_id: str) -> Any:
    with DAG("kling_lifecycle_drivers", schedule=None):
        operator = operator_classes()[kind](
            task_id=task_id,
            poll_interval=0.02,
            timeout=20,
            output_path=str(out),
            deferrable=deferrable,
            **fields,
        )
    context = make_context(RecordingTaskInstance(dag_id="kling_lifecycle_drivers", task_id=task_id))
    if not deferrable or getattr(REQUEST_KINDS[kind], "answers_at_once", False):  # nothing to wait for
        return operator.execute(context)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    return operator.execute_complete(context, event.payload)


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
def test_worker_and_deferred_results_agree_field_by_field_spend_included(kind, kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    fields = fields_of(kind)
    kling_connection.set_progress("timed")
    kling_connection.set_latency(0.1)  # still running at the create: the deferred path really defers

    worker = run_single(kind, fields, tmp_path / "worker", deferrable=False, task_id="on_worker")
    deferred = run_single(kind, fields, tmp_path / "deferred", deferrable=True, task_id="deferred")

    assert set(worker) == set(deferred)
    for name in sorted(set(worker) - IDENTITY):
        assert without_identity(deferred[name]) == without_identity(worker[name]), name
    assert worker["final_unit_deduction"] is not None, f"{kind}: the worker's units are unknown"
    for name in SPEND:
        assert deferred[name] == worker[name], name


def test_a_deferred_v1_task_is_completed_on_the_worker_with_one_query(kling_connection, tmp_path):
    kling_connection.set_latency(0.1)
    with DAG("kling_lifecycle_drivers", schedule=None):
        operator = operator_classes()["generations"](
            task_id="deferred", poll_interval=0.02, timeout=20, deferrable=True, prompt="a fox"
        )
    context = make_context(RecordingTaskInstance(dag_id="kling_lifecycle_drivers", task_id="deferred"))
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    kling_connection.reset_counters()

    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    in_triggerer = kling_connection.counters(kling_connection.api_key)["queries"]
    result = operator.execute_complete(context, event.payload)

    assert in_triggerer == 0, "the triggerer read the task through GET /tasks only"
    assert kling_connection.counters(kling_connection.api_key)["queries"] == 1
    assert result["final_balance_deduction"] is not None  # what /tasks lacks, added on the worker


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_a_batch_of_every_kind_succeeds_and_stores_its_results(kind, deferrable, kling_connection, tmp_path):
    kling_connection.set_progress("immediate")
    fields = fields_of(kind)
    kling_connection.set_latency(0.1)
    kling_connection.set_progress("timed")
    with DAG("kling_lifecycle_batch", schedule=None):
        batch = KlingBatchOperator(
            task_id="batch",
            request_kind=kind,
            requests=[{**fields, "key": "one"}, {**fields, "key": "two"}],
            slots=2,
            poll_interval=0.05,
            progress_interval=1,
            timeout=30,
            output_path=str(tmp_path),
            deferrable=deferrable,
        )
    context = make_context(RecordingTaskInstance(dag_id="kling_lifecycle_batch", task_id="batch"))
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            batch.execute(context)
        event = asyncio.run(first_trigger_event(deferred.value.trigger))
        summary = batch.execute_complete(context, event.payload)
    else:
        summary = batch.execute(context)

    assert summary["counts"] == {"succeeded": 2}
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    for row in manifest["items"]:
        assert row["files"] and all(Path(path.removeprefix("file://")).is_file() for path in row["files"])
        assert row["units"] is not None and row["balance"] is not None, row
