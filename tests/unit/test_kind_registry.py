"""A new Kling kind costs three package files: its name in ``kinds.py``, its request module and its
operator module. The request registry, the provider info and the task reader find it themselves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import airflow_provider_kling
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models import requests
from airflow_provider_kling.models.requests import REQUEST_KINDS, SubjectCompletionRequest

PROBE_REQUEST = """
from typing import Any, ClassVar

from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.models.api_style import ApiStyle
from airflow_provider_kling.models.requests.base import KlingTaskRequest


class ProbeRequest(KlingTaskRequest):
    kind: ClassVar[str] = RequestKind.PROBE
    paths: ClassVar[dict[ApiStyle, str]] = {ApiStyle.V1: "/v1/probe"}

    @classmethod
    def read_result(cls, result: dict[str, Any]) -> dict[str, Any]:
        if "probe_urls" not in result:
            return result
        return {**result, "images": [{"url": url} for url in result["probe_urls"]]}
"""
PROBE_OPERATOR = """
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import KlingTaskOperator


class KlingProbeOperator(KlingTaskOperator):
    request_kind = RequestKind.PROBE
"""
CHECK = """
import json
import airflow_provider_kling
from airflow_provider_kling.get_provider_info import get_provider_info
from airflow_provider_kling.models.requests import REQUEST_KINDS, ProbeRequest, endpoint_path
from airflow_provider_kling.models.task import task_from_v1

body = {"task_id": "t", "task_status": "succeed", "task_result": {"probe_urls": ["a", "b"]}}
task = task_from_v1(body, "t")
print(json.dumps({
    "file": airflow_provider_kling.__file__,
    "kinds": list(REQUEST_KINDS),
    "class": REQUEST_KINDS["probe"].__name__,
    "path": endpoint_path("probe"),
    "operators": get_provider_info()["operators"][0]["python-modules"],
    "images": [image.url for image in task.images],
}))
"""


def test_a_new_kind_needs_only_its_name_its_request_module_and_its_operator_module(tmp_path: Path) -> None:
    package = tmp_path / "airflow_provider_kling"
    shutil.copytree(
        Path(airflow_provider_kling.__file__).parent,
        package,
        ignore=shutil.ignore_patterns("__pycache__", "testing", "ui"),
    )
    kinds = package / "kinds.py"
    kinds.write_text(kinds.read_text() + '    PROBE = "probe"\n')
    (package / "models" / "requests" / "probe.py").write_text(PROBE_REQUEST)
    (package / "operators" / "probe.py").write_text(PROBE_OPERATOR)

    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)

    assert seen["file"].startswith(str(tmp_path))
    assert seen["kinds"] == [*REQUEST_KINDS, "probe"]
    assert (seen["class"], seen["path"]) == ("ProbeRequest", "/v1/probe")
    # after the other one-kind modules (its kind is the last), before the modules of no kind
    operators = seen["operators"]
    assert (
        operators.index("airflow_provider_kling.operators.probe")
        == operators.index("airflow_provider_kling.operators.subject") + 1
    )
    assert seen["images"] == ["a", "b"]  # its own result shape, read by its request class


def test_every_kind_has_its_request_class_importable_by_name_from_the_package() -> None:
    assert list(REQUEST_KINDS) == [str(kind) for kind in RequestKind]
    for cls in REQUEST_KINDS.values():
        assert getattr(requests, cls.__name__) is cls
        assert cls.__name__ in requests.__all__


def test_a_kinds_result_reader_leaves_other_shapes_alone() -> None:
    video = {"videos": [{"id": "v", "url": "u"}]}
    assert SubjectCompletionRequest.read_result(video) is video
    angles = {"images": [{"index": 1, "url_1": "a", "url_3": "c"}]}
    assert SubjectCompletionRequest.read_result(angles)["images"] == [
        {"index": 3, "url": "a"},
        {"index": 5, "url": "c"},
    ]
