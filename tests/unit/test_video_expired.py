"""A resumed video task whose video Kling has purged: recognised as gone (HTTP 403, 404 or 410 from
the CDN), so it fails at once with what to do instead of failing on every Airflow retry, and
``regenerate_expired=True`` creates the next generation and stores its video.

Old code read ``result["images"]`` to decide, found none for a video task, and left every retry to
fail the same way (and ``regenerate_expired`` did nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_kling.errors import KlingResultUnavailableError
from airflow_provider_kling.operators.video import KlingTextToVideoOperator
from tests.unit.task_context import DictTaskStateStore
from tests.unit.test_fault_matrix import run_try, run_with_airflow_retries


def make_operator(**kwargs: Any) -> KlingTextToVideoOperator:
    kwargs.setdefault("task_id", "video")
    kwargs.setdefault("prompt", "a linen shirt turning slowly")
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("timeout", 10)
    with DAG("kling_video_expired", schedule=None):
        return KlingTextToVideoOperator(**kwargs)


def creates(sim: Any) -> int:
    return int(sim.counters(sim.api_key)["creates"])


@pytest.fixture
def created(kling_connection: Any) -> DictTaskStateStore:
    """A video task created by a try that did not wait: it succeeds, nothing of it is stored."""
    kling_connection.set_progress("immediate")
    store = DictTaskStateStore()
    run_try(make_operator(wait_for_completion=False), store)
    return store


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_purged_video_on_resume_fails_at_once_and_says_how_to_regenerate(
    kling_connection, created, tmp_path, status
):
    kling_connection.image_fault("expired", status=status)  # every download of it, from now on

    outcomes = run_with_airflow_retries(lambda: make_operator(output_path=str(tmp_path)), 3, created)

    assert len(outcomes) == 1  # no retry: none could fetch a video that is gone
    (error,) = outcomes
    assert isinstance(error, AirflowFailException)
    assert "The videos of resumed Kling task" in str(error)
    assert "purges them after 30 days" in str(error) and "regenerate_expired=True" in str(error)
    assert creates(kling_connection) == 1
    assert not list(tmp_path.rglob("*.mp4"))


def test_an_unreachable_video_is_left_to_airflow_retries(kling_connection, created, tmp_path):
    kling_connection.image_fault("html", k=1)  # a 200 that is no video: not gone, just bad this time

    _xcom, outcome = run_try(make_operator(output_path=str(tmp_path)), created)

    assert isinstance(outcome, KlingResultUnavailableError)  # retryable: the next try stores it
    _xcom, stored = run_try(make_operator(output_path=str(tmp_path)), created)
    assert Path(stored["videos"][0]["path"].removeprefix("file://")).exists()
    assert creates(kling_connection) == 1


def test_regenerate_expired_creates_the_next_generation_and_stores_its_video(
    kling_connection, created, tmp_path
):
    (first,) = kling_connection.tasks()
    # The old task's video is gone: the store's download and the expiry check's both answer 410.
    kling_connection.image_fault("expired", k=2, status=410)

    _xcom, regenerated = run_try(make_operator(output_path=str(tmp_path), regenerate_expired=True), created)

    assert isinstance(regenerated, dict), regenerated
    assert creates(kling_connection) == 2
    assert regenerated["task_id"] != first["task_id"]
    assert regenerated["external_task_id"].endswith("-2")
    path = Path(regenerated["videos"][0]["path"].removeprefix("file://"))
    assert path.name == "video_0.mp4" and path.read_bytes()[4:8] == b"ftyp"


def test_the_expired_fault_takes_only_a_gone_status():
    from airflow_provider_kling.testing.faults import ImageFault

    with pytest.raises(ValueError, match=r"status= one of \(403, 404, 410\) \(got 500\)"):
        ImageFault("expired", params={"status": 500})
