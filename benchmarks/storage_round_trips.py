"""S3 requests to store one Kling task's images, and to find them again on a retry.

Starts the Kling simulator and moto's S3 (server mode) on loopback, counts every HTTP request
the S3 stand-in receives, and prints requests per phase. Asserts nothing.

    .venv/bin/python benchmarks/storage_round_trips.py [images per task, default 4]
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import tempfile
import threading
from typing import Any

from airflow_provider_kling.lifecycle.poll import wait_for_task

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kling-bench-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(name, None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

BUCKET = "kling-bench"


class CountingApp:
    """WSGI middleware: counts requests by method."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            self.counts[environ["REQUEST_METHOD"]] += 1
        return self.app(environ, start_response)

    def take(self) -> dict[str, int]:
        with self.lock:
            counts = dict(self.counts)
            self.counts.clear()
        return counts


def main(n: int) -> None:
    import boto3
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.storage import store_task_outputs, to_storage_path
    from airflow_provider_kling.testing import KlingSimulator

    logging.disable(logging.WARNING)
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
    ).create_bucket(Bucket=BUCKET)
    app.take()

    with KlingSimulator() as simulator:
        os.environ["AIRFLOW_CONN_KLING_DEFAULT"] = simulator.airflow_conn_json()
        hook = KlingHook()
        task = hook.create_task(model_name="kling-v1", prompt="a lighthouse", n=n)
        task = wait_for_task(hook, task.task_id, poll_interval=0.05, timeout=30)
        base = to_storage_path(f"s3://{BUCKET}/kling", "aws_default")
        log = logging.getLogger("bench")

        def store() -> dict[str, int]:
            result = task.to_xcom()
            store_task_outputs(
                result,
                base,
                fetch=hook.iter_image_bytes,
                dag_id="bench",
                run_id="run/1",
                task_id="generate",
                map_index=None,
                log=log,
            )
            return app.take()

        first = store()
        retry = store()
        images_served = simulator.counters(simulator.api_key)["images"]
    server.shutdown()
    print(f"images per task: {n}; images downloaded from Kling over both passes: {images_served}")
    print(f"first try:  {sum(first.values())} S3 requests {first} ({sum(first.values()) / n:.2f} per image)")
    print(f"retry:      {sum(retry.values())} S3 requests {retry} (all images found stored)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
