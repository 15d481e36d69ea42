"""One query for many tasks: ``GET /tasks`` and ``POST /tasks`` built and read (``models/task_query.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_kling.errors import KlingRequestValidationError, KlingResponseError
from airflow_provider_kling.models.task import task_from_data
from airflow_provider_kling.models.task_query import (
    MAX_TASK_IDS,
    TaskSearch,
    chunks,
    records_of,
    tasks_by_ids_params,
)

V1_TASK = {"task_id": "1", "task_status": "processing", "task_info": {"external_task_id": "a"}}
NEW_RECORD = {"id": "2", "status": "succeeded", "outputs": [{"image": {"url": "https://e.com/0.png"}}]}


def test_chunks_are_20_ids_at_most_each_id_once_in_order() -> None:
    ids = [str(i) for i in range(45)] + ["3", "44"]
    parts = list(chunks(ids))
    assert [len(part) for part in parts] == [20, 20, 5]
    assert [task_id for part in parts for task_id in part] == [str(i) for i in range(45)]


def test_chunk_size_beyond_klings_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="size must be from 1 to 20"):
        list(chunks(["a"], 21))


def test_params_join_ids_with_commas() -> None:
    assert tasks_by_ids_params(["a", "b", "a"]) == {"task_ids": "a,b"}
    assert tasks_by_ids_params(["x"], external=True) == {"external_task_ids": "x"}


@pytest.mark.parametrize(
    ("ids", "rule"),
    [
        ([], "at least one id"),
        ([str(i) for i in range(MAX_TASK_IDS + 1)], "at most 20 ids in one query"),
        (["a,b"], "without commas"),
        (["a b"], "without commas or whitespace"),
    ],
)
def test_params_refuse_what_kling_would_refuse(ids: list[str], rule: str) -> None:
    with pytest.raises(KlingRequestValidationError, match=rule):
        tasks_by_ids_params(ids)


def test_an_answer_holds_v1_and_new_style_tasks_alike() -> None:
    first, second = [task_from_data(record, "a task") for record in records_of([V1_TASK, NEW_RECORD])]
    assert (first.task_id, first.task_status, first.external_task_id) == ("1", "processing", "a")
    assert (second.task_id, second.task_status, second.images[0].url) == (
        "2",
        "succeed",
        "https://e.com/0.png",
    )


@pytest.mark.parametrize("data", [[], None])
def test_unknown_ids_answer_no_tasks(data: Any) -> None:
    assert records_of(data) == []


def test_an_answer_that_is_not_a_list_is_unreadable() -> None:
    with pytest.raises(KlingResponseError, match="without a list of tasks"):
        records_of({"result": []})


def test_search_body_leaves_unset_fields_out_and_sends_times_in_ms() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    body = TaskSearch(start_time=start, end_time=1_800_000_000_000, limit=500, status="failed").to_json()
    assert body == {
        "start_time": 1_796_083_200_000,
        "end_time": 1_800_000_000_000,
        "limit": 500,
        "filters": {"status": "failed"},
    }
    assert TaskSearch().to_json() == {"limit": 100}


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"limit": 501}, "limit: must be from 1 to 500"),
        ({"limit": 0}, "limit: must be from 1 to 500"),
        ({"status": "succeed"}, "status: must be one of"),
        ({"product_type": "audio"}, "product_type: must be one of video, image, try_on"),
        ({"start_time": 2, "end_time": 1}, "start_time: must not be after end_time"),
        ({"start_time": datetime(2026, 12, 1)}, "start_time must be timezone-aware"),
        ({"end_time": -1}, "end_time must be a timezone-aware datetime or Unix milliseconds >= 0"),
    ],
)
def test_search_refuses_what_kling_would_refuse(fields: dict[str, Any], rule: str) -> None:
    with pytest.raises(KlingRequestValidationError, match=rule):
        TaskSearch(**fields)
