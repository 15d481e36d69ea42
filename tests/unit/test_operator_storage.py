"""The operator storing images to an S3 stand-in (moto in server mode on 127.0.0.1) and to a local folder.

The same scenarios run against both stores: both waiting modes, mapped instances, a retry that
finds what is stored, images that fail, and (S3) credentials, permission and missing buckets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_kling.errors import KlingResultUnavailableError
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from tests.unit.task_context import RecordingTaskInstance, first_trigger_event, make_context

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BUCKET = "kling-bucket"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port, for this module."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws_conn(endpoint: str, key: str = "testing", secret: str = "testing") -> str:  # noqa: S107
    return json.dumps(
        {
            "conn_type": "aws",
            "login": key,
            "password": secret,
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh bucket, ``aws_default`` pointing at moto, and no credentials anywhere else."""
    import boto3
    import requests
    from airflow.sdk.io import store

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_conn(moto_endpoint))
    monkeypatch.setattr(store, "_STORE_CACHE", {})  # each test attaches its connections afresh
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client


@dataclass
class Store:
    """Where a scenario stores: ``output_path`` and ``output_conn_id``, and what is there afterwards."""

    output_path: str
    output_conn_id: str | None
    objects: Callable[[], dict[str, bytes]]  # plain URI -> bytes

    def kwargs(self) -> dict[str, Any]:
        return {"output_path": self.output_path, "output_conn_id": self.output_conn_id}


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":

        def local_objects() -> dict[str, bytes]:
            return {f"file://{p}": p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

        return Store(str(tmp_path / "kling"), None, local_objects)
    client = request.getfixturevalue("s3")

    def s3_objects() -> dict[str, bytes]:
        listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {
            f"s3://{BUCKET}/{o['Key']}": client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in listed
        }

    return Store(f"s3://{BUCKET}/kling", "aws_default", s3_objects)


def make_operator(**kwargs: Any) -> KlingImageGenerationOperator:
    kwargs.setdefault("task_id", "generate")
    kwargs.setdefault("prompt", "a red bicycle on a beach")
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    with DAG("kling_store_dag", schedule=None):
        return KlingImageGenerationOperator(**kwargs)


def run_deferred(operator: KlingImageGenerationOperator, context: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    event = asyncio.run(first_trigger_event(deferred.value.trigger))
    return operator.execute_complete(context, event.payload)


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_mapped_run_stores_one_png_per_image_with_plain_uris(kling_connection, target, deferrable):
    results = []
    for map_index in (0, 1):
        operator = make_operator(n=2, deferrable=deferrable, **target.kwargs())
        context = make_context(RecordingTaskInstance(map_index=map_index))
        results.append(run_deferred(operator, context) if deferrable else operator.execute(context))

    paths = [image["path"] for result in results for image in result["images"]]
    objects = target.objects()
    assert sorted(objects) == sorted(paths)  # one object per image, nothing else (no .part)
    assert all(body.startswith(PNG_SIGNATURE) for body in objects.values())
    assert all("@" not in path for path in paths)
    assert {result["output_conn_id"] for result in results} == {target.output_conn_id}
    assert [Path(p).name for p in paths] == [
        "generate_0_0.png",
        "generate_0_1.png",
        "generate_1_0.png",
        "generate_1_1.png",
    ]


def test_retry_finds_what_is_stored_with_one_listing_and_fetches_nothing(kling_connection, target):
    from airflow_provider_kling import storage

    first = make_operator(n=3, **target.kwargs()).execute(make_context())
    images_served = kling_connection.counters(kling_connection.api_key)["images"]
    calls: list[str] = []
    real_find = storage.find_stored_files

    def counting_find(base, folder, prefix, media, names=None):
        fs = base.fs
        originals = {name: getattr(fs, name) for name in ("ls", "info", "exists", "open")}

        depth = [0]

        def spy(name):
            def call(*args, **kwargs):  # counts the calls storage makes, not the ones fsspec makes inside
                if not depth[0]:
                    calls.append(name)
                depth[0] += 1
                try:
                    return originals[name](*args, **kwargs)
                finally:
                    depth[0] -= 1

            return call

        for name in originals:
            setattr(fs, name, spy(name))
        try:
            return real_find(base, folder, prefix, media, names)
        finally:
            for name in originals:
                delattr(fs, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "find_stored_files", counting_find)
        again = make_operator(n=3, **target.kwargs()).execute(make_context())

    assert calls == ["ls"]
    assert kling_connection.counters(kling_connection.api_key)["images"] == images_served
    assert [i["path"] for i in again["images"]] == [i["path"] for i in first["images"]]


def test_junk_image_fails_retryably_after_the_others_are_stored(kling_connection, target):
    kling_connection.image_fault("html", k=1)

    with pytest.raises(KlingResultUnavailableError, match=r"1 image.*text/html") as raised:
        make_operator(n=3, **target.kwargs()).execute(make_context())

    assert raised.value.airflow_retryable
    assert len(target.objects()) == 2
    result = make_operator(n=3, **target.kwargs()).execute(make_context())  # the retry
    assert sorted(target.objects()) == sorted(i["path"] for i in result["images"])
    assert len(target.objects()) == 3


@pytest.mark.parametrize("mode", ["missing", "repeat"])
def test_missing_or_repeated_indices_lose_no_image(kling_connection, target, mode):
    kling_connection.set_image_index_mode(mode)

    result = make_operator(n=3, **target.kwargs()).execute(make_context())

    assert len({i["path"] for i in result["images"]}) == 3
    assert len(target.objects()) == 3


def test_run_ids_that_sanitise_alike_get_their_own_files(kling_connection, target):
    slash = make_operator(**target.kwargs()).execute(make_context(RecordingTaskInstance(run_id="batch/1")))
    colon = make_operator(**target.kwargs()).execute(make_context(RecordingTaskInstance(run_id="batch:1")))

    assert slash["task_id"] != colon["task_id"]
    assert slash["images"][0]["path"] != colon["images"][0]["path"]
    assert len(target.objects()) == 2


def test_output_conn_id_is_templated():
    assert "output_conn_id" in KlingImageGenerationOperator.template_fields


def test_the_conn_in_the_uri_form_still_works_and_xcom_gets_the_plain_uri(kling_connection, s3):
    result = make_operator(output_path=f"s3://aws_default@{BUCKET}/kling").execute(make_context())

    assert result["images"][0]["path"].startswith(f"s3://{BUCKET}/kling/")
    assert result["output_conn_id"] == "aws_default"


def test_wrong_s3_credentials_fail_once_naming_the_connection_and_bucket(
    kling_connection, s3, moto_endpoint, monkeypatch
):
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    monkeypatch.setenv("AIRFLOW_CONN_AWS_WRONG", aws_conn(moto_endpoint, key="AKIAWRONGKEY", secret="nope"))
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto checks every key from now on
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)

    with pytest.raises(AirflowFailException) as failed:  # not retried: a retry cannot fix it
        make_operator(output_path=f"s3://{BUCKET}/kling", output_conn_id="aws_wrong").execute(make_context())

    message = str(failed.value)
    assert "'aws_wrong'" in message and f"'{BUCKET}'" in message
    assert "credentials" in message
    assert kling_connection.counters(kling_connection.api_key)["images"] == 0  # stopped before downloading


def test_a_missing_bucket_fails_once_naming_it(kling_connection, s3):
    with pytest.raises(
        AirflowFailException, match="bucket 'no-such-bucket' \\(s3\\) through connection 'aws_default'"
    ):
        make_operator(n=2, output_path="s3://no-such-bucket/kling", output_conn_id="aws_default").execute(
            make_context()
        )
