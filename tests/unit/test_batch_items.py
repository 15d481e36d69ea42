"""Batch requests: read from lists, CSV, JSONL and lines; validated before any HTTP call; identified."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.batch.items import build_items, format_of, parse_requests_text
from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.operators.batch import KlingBatchOperator
from tests.unit.task_context import RecordingTaskInstance, make_context


def make_batch(**kwargs):
    kwargs.setdefault("task_id", "batch")
    kwargs.setdefault("slots", 4)
    kwargs.setdefault("output_path", "/tmp/unused")
    with DAG("kling_batch_items", schedule=None):
        return KlingBatchOperator(**kwargs)


def test_prompts_and_dicts_take_the_operator_defaults_and_keys_default_to_positions():
    items = build_items(
        ["a fox", {"prompt": "a cat", "n": 2, "key": "cat"}], {"model_name": "kling-v2", "n": 1}, slots=4
    )

    assert [(i.number, i.key, i.n, i.request.model_name) for i in items] == [
        (0, "0", 1, "kling-v2"),
        (1, "cat", 2, "kling-v2"),
    ]


def test_csv_cells_are_typed_and_empty_cells_are_unset():
    rows = parse_requests_text(
        "key,prompt,n,aspect_ratio,image_fidelity\nsku-1,a lamp,2,16:9,\nsku-2,a desk,,,\n", "csv"
    )
    items = build_items(rows, {"model_name": "kling-v1", "n": 1}, slots=4)

    assert [(i.key, i.n, i.request.aspect_ratio) for i in items] == [("sku-1", 2, "16:9"), ("sku-2", 1, None)]


def test_jsonl_and_lines_and_format_from_the_file_name():
    assert parse_requests_text('{"prompt": "a"}\n\n{"prompt": "b", "key": "x"}\n', "jsonl") == [
        {"prompt": "a"},
        {"prompt": "b", "key": "x"},
    ]
    assert parse_requests_text("one\n\n two \n", "lines") == ["one", "two"]
    assert [format_of(name) for name in ("p.csv", "p.JSONL", "p.ndjson", "p.txt", "p.json")] == [
        "csv",
        "jsonl",
        "jsonl",
        "lines",
        None,
    ]


def test_every_bad_item_is_named_with_its_field_and_rule():
    with pytest.raises(KlingRequestValidationError) as caught:
        build_items(
            [
                "ok",
                {"prompt": "x", "n": 12},
                {"prompt": "y", "aspect_ratio": "5:4", "key": "k"},
                {"prompt": "z", "n": 3},
            ],
            {"model_name": "kling-v1", "n": 1},
            slots=2,
        )
    message = str(caught.value)
    assert "3 of the requests are invalid" in message
    assert "item 1 (key '1'): n: Input should be less than or equal to 9" in message
    assert "item 2 (key 'k'): aspect_ratio" in message
    assert "item 3 (key '3'): n=3 is more than slots=2" in message


def test_keys_must_be_unique_and_csv_needs_a_prompt_column():
    with pytest.raises(KlingRequestValidationError, match="key must be unique"):
        build_items(
            [{"prompt": "a", "key": "x"}, {"prompt": "b", "key": "x"}],
            {"model_name": "kling-v1", "n": 1},
            slots=1,
        )
    with pytest.raises(KlingRequestValidationError, match="'prompt' column"):
        parse_requests_text("text\nhello\n", "csv")
    with pytest.raises(KlingRequestValidationError, match="line 2: not valid JSON"):
        parse_requests_text('{"prompt": "a"}\n{oops\n', "jsonl")


def test_a_bad_batch_fails_before_any_http_call(kling_connection):
    operator = make_batch(requests=["fine", {"prompt": ""}])

    with pytest.raises(AirflowFailException, match=r"item 1 \(key '1'\): prompt"):
        operator.execute(make_context(RecordingTaskInstance(task_id="batch")))
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_each_item_has_its_own_external_id_stable_across_tries_and_new_when_edited(kling_connection):
    context = make_context(RecordingTaskInstance(task_id="batch"))
    first = make_batch(requests=["a fox", "a cat"]).build_items(context)
    again = make_batch(requests=["a fox", "a cat"]).build_items(context)
    edited = make_batch(requests=["a fox", "a dog"]).build_items(context)

    ids = [item.request.external_task_id for item in first]
    assert len(set(ids)) == 2
    assert ids == [item.request.external_task_id for item in again]
    assert edited[0].request.external_task_id == ids[0]
    assert edited[1].request.external_task_id != ids[1]


def test_operator_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="slots must be an integer >= 1"):
        make_batch(requests=["a"], slots=0)
    with pytest.raises(ValueError, match="output_path is required"):
        make_batch(requests=["a"], output_path=None)
    with pytest.raises(ValueError, match="on_content_policy must be one of fail, skip"):
        make_batch(requests=["a"], on_content_policy="record")
    assert make_batch(requests="prompts/catalogue.csv").requests_format == "csv"


def test_an_item_key_changes_the_instance_hash_and_no_key_keeps_the_single_operators_ids():
    import hashlib

    from airflow_provider_kling.idempotency import instance_hash

    before = hashlib.sha256(b"d\x1fr\x1ft\x1f-1").hexdigest()[:16]  # the single operator's ids
    assert instance_hash("d", "r", "t", None) == before
    assert len({instance_hash("d", "r", "t", None, key) for key in ("0", "1", "lamp")} | {before}) == 4
