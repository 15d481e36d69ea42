"""Both callback body shapes read into one record; default external ids read back into their parts."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kling.callbacks.events import (
    EVENT_EXTRA_KEYS,
    asset_for_callback,
    callback_asset_uri,
    event_extra,
)
from airflow_provider_kling.callbacks.records import CallbackBodyError, parse_callback
from airflow_provider_kling.idempotency import (
    default_external_task_id,
    generation_external_task_id,
    parse_external_task_id,
)
from airflow_provider_kling.models.task import TaskStatus

EXTERNAL = default_external_task_id(
    dag_id="d", run_id="r", task_id="t", map_index=None, fingerprint="0123456789ab", namespace="shop-a"
)


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_legacy_image_callback_is_read_by_the_task_model() -> None:
    record = parse_callback(
        body(
            task_id=860123456789012345,
            task_status="succeed",
            task_status_msg="",
            task_info={"external_task_id": EXTERNAL},
            final_unit_deduction="8",
            task_result={"images": [{"index": 0, "url": "https://cdn/0.png"}, {"url": "https://cdn/1.png"}]},
        )
    )

    assert record.task_id == "860123456789012345"
    assert record.status is TaskStatus.SUCCEED and record.is_final
    assert record.external_task_id == EXTERNAL
    assert record.result_urls == ("https://cdn/0.png", "https://cdn/1.png")
    assert (record.units, record.status_message, record.shape) == ("8", None, "v1")


def test_a_legacy_video_callback_lists_its_videos() -> None:
    record = parse_callback(
        body(
            task_id="7",
            task_status="succeed",
            task_result={"videos": [{"id": "v1", "url": "https://cdn/v.mp4", "duration": "5"}]},
            final_unit_deduction="10",
        )
    )

    assert (record.image_urls, record.video_urls) == ((), ("https://cdn/v.mp4",))


def test_a_new_style_record_maps_succeeded_outputs_and_unit_billing() -> None:
    record = parse_callback(
        body(
            id="1234567890",
            status="succeeded",
            message="",
            external_id=EXTERNAL,
            create_time=1781080778802,
            update_time=1781080794151,
            outputs=[
                {"video": {"id": "v", "url": "https://cdn/v.mp4", "duration": "5"}},
                {"image": {"url": "https://cdn/cover.png"}},
            ],
            billing=[
                {"charge_type": "unit", "amount": "2.5", "currency": None, "package_type": "video"},
                {"charge_type": "unit", "amount": "0.5"},
                {"charge_type": "cash", "amount": "0.30", "currency": "USD"},
            ],
        )
    )

    assert (record.task_id, record.status, record.shape) == ("1234567890", TaskStatus.SUCCEED, "model-path")
    assert record.external_task_id == EXTERNAL
    assert record.image_urls == ("https://cdn/cover.png",)
    assert record.video_urls == ("https://cdn/v.mp4",)
    assert record.units == "3"


def test_the_test_vectors_body_is_a_readable_new_style_record() -> None:
    record = parse_callback(
        b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
        b'"update_time":1781080794151}'
    )

    assert (record.task_id, record.status, record.result_urls, record.units) == (
        "1234567890",
        TaskStatus.SUCCEED,
        (),
        None,
    )


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"task_id": "1", "task_status": "processing"}, TaskStatus.PROCESSING),
        ({"id": "1", "status": "submitted"}, TaskStatus.SUBMITTED),
        ({"id": "1", "status": "failed", "message": "risk control"}, TaskStatus.FAILED),
    ],
)
def test_statuses_are_the_task_models(fields: dict[str, object], status: TaskStatus) -> None:
    record = parse_callback(body(**fields))

    assert record.status is status
    assert record.is_final is status.is_final


def test_a_failed_callback_carries_its_message() -> None:
    record = parse_callback(body(id="1", status="failed", message="risk control"))

    assert record.status_message == "risk control"


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"task_id": "1", "task_status": "exploded"}', b'{"status": "succeeded"}'],
    ids=["not-json", "not-object", "unknown-status", "no-id"],
)
def test_a_body_that_is_not_a_task_is_refused(raw: bytes) -> None:
    with pytest.raises(CallbackBodyError):
        parse_callback(raw)


def test_external_task_ids_read_back_into_namespace_fingerprint_and_generation() -> None:
    parts = parse_external_task_id(EXTERNAL)
    assert parts is not None
    assert (parts.namespace, parts.fingerprint, parts.generation) == ("shop-a", "0123456789ab", 1)
    assert len(parts.instance_hash) == 16

    third = parse_external_task_id(generation_external_task_id(EXTERNAL, 3))
    assert third is not None and (third.namespace, third.generation) == ("shop-a", 3)

    bare = EXTERNAL.removeprefix("shop-a-")
    assert parse_external_task_id(bare) == parse_external_task_id(EXTERNAL).__class__(
        namespace=None, instance_hash=parts.instance_hash, fingerprint="0123456789ab", generation=1
    )


@pytest.mark.parametrize("other", [None, "", "kling-0123", "my-own-id", EXTERNAL + "-1", EXTERNAL + "x"])
def test_ids_this_provider_did_not_make_have_no_parts(other: str | None) -> None:
    assert parse_external_task_id(other) is None


def test_event_extra_carries_ids_status_urls_units_and_the_request_fingerprint() -> None:
    record = parse_callback(
        body(
            task_id="9",
            task_status="succeed",
            task_info={"external_task_id": EXTERNAL},
            final_unit_deduction="8",
            task_result={"images": [{"index": 0, "url": "https://cdn/0.png"}]},
        )
    )

    extra = event_extra(record, conn_id="kling_default", webhook_id="msg_1")

    assert tuple(extra) == EVENT_EXTRA_KEYS
    assert extra["kling_task_id"] == "9"
    assert (extra["namespace"], extra["fingerprint"]) == ("shop-a", "0123456789ab")
    assert (extra["status"], extra["units"]) == ("succeed", "8")
    assert (extra["image_urls"], extra["video_urls"]) == (["https://cdn/0.png"], [])
    json.dumps(extra)  # an event's extra is JSON


def test_the_asset_is_the_connections_default_its_extra_or_a_name_under_the_connection() -> None:
    assert asset_for_callback("kling_default", {}, None) == "kling://kling_default/tasks"
    assert asset_for_callback("k", {"callback_asset": "s3://b/kling-events"}, None) == "s3://b/kling-events"
    assert asset_for_callback("k", {"callback_asset": "s3://b/x"}, "shop-a") == "kling://k/shop-a"
    assert callback_asset_uri("k") == "kling://k/tasks"


@pytest.mark.parametrize("name", ["../tasks", "a/b", "x" * 65, "-lead", "s3://bucket"])
def test_a_query_cannot_name_an_asset_outside_the_connections_space(name: str) -> None:
    with pytest.raises(ValueError, match="callback asset name"):
        asset_for_callback("k", {}, name)


def test_the_receiver_url_names_the_connection_and_the_pipeline_asset() -> None:
    from airflow_provider_kling.callbacks.events import receiver_url

    assert receiver_url("https://airflow.example/", "kling_default") == (
        "https://airflow.example/kling/callbacks/kling_default"
    )
    assert (
        receiver_url("http://127.0.0.1:8080", "k", "shop-a")
        == "http://127.0.0.1:8080/kling/callbacks/k?asset=shop-a"
    )
    with pytest.raises(ValueError, match="callback asset name"):
        receiver_url("http://h", "k", "a/b")
