"""The batch operator's images, manifest and contact sheet in moto's S3 (server mode on loopback)."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import DAG

from airflow_provider_kling.operators.batch import KlingBatchOperator
from tests.unit.task_context import RecordingTaskInstance, make_context
from tests.unit.test_operator_storage import BUCKET, moto_endpoint, s3  # noqa: F401 (fixtures)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def objects(client: Any) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def run_batch() -> dict[str, Any]:
    with DAG("kling_batch_s3", schedule=None):
        operator = KlingBatchOperator(
            task_id="batch",
            requests=[{"prompt": "a lamp", "key": "lamp"}, {"prompt": "a mug", "key": "mug", "n": 2}],
            slots=4,
            poll_interval=0.05,
            output_path=f"s3://{BUCKET}/kling",
            output_conn_id="aws_default",
        )
    return operator.execute(make_context(RecordingTaskInstance(dag_id="kling_batch_s3", task_id="batch")))


def test_batch_stores_images_manifest_and_contact_sheet_in_s3_and_a_retry_stores_nothing_twice(
    kling_connection, request
):
    client = request.getfixturevalue("s3")
    summary = run_batch()

    stored = objects(client)
    images = sorted(key.rsplit("/", 1)[-1] for key in stored if key.endswith(".png"))
    assert images == ["batch_lamp_0.png", "batch_mug_0.png", "batch_mug_1.png"]
    assert all(stored[key].startswith(PNG_SIGNATURE) for key in stored if key.endswith(".png"))
    assert summary["manifest"].startswith(f"s3://{BUCKET}/kling/kling_batch_s3/")
    assert "@" not in summary["manifest"] and summary["output_conn_id"] == "aws_default"
    manifest_key = summary["manifest"].removeprefix(f"s3://{BUCKET}/")
    manifest = json.loads(stored[manifest_key])
    assert [row["files"] for row in manifest["items"]][1][1].endswith("batch_mug_1.png")
    sheet_key = summary["contact_sheet"].removeprefix(f"s3://{BUCKET}/")
    assert b'src="batch_mug_1.png"' in stored[sheet_key]

    again = run_batch()

    assert again["counts"] == {"succeeded": 2}
    assert kling_connection.counters(kling_connection.api_key)["images"] == 3  # nothing downloaded twice
    assert len(objects(client)) == len(stored)
