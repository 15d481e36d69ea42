"""The video endpoints in real Airflow (``airflow dags test``): every endpoint on the worker and
deferred, an image chained into image-to-video and extend through plain XCom; and a text-to-video
task whose worker is killed with SIGKILL mid-wait, resumed without a second create."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_kling.testing import KlingSimulator, mp4
from tests.e2e.test_endpoint_dags import AIRFLOW, DATE, REPO, env_for, kill_mid_wait_then_rerun

VIDEO_TASKS = {
    "clip": "image2video",
    "longer": "video-extend",
    "teaser": "text2video",
    "runway": "omni-video",
    "duo": "multi-image2video",
}


@pytest.fixture(scope="module")
def simulator() -> Iterator[KlingSimulator]:
    with KlingSimulator(api_key="video-key", latency=0.3) as sim:
        yield sim


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory, simulator: KlingSimulator) -> Path:
    home = tmp_path_factory.mktemp("airflow-home-video")
    env = env_for(home, REPO / "tests" / "dags", simulator)
    done = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.fixture
def home(migrated_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "airflow-home"
    shutil.copytree(migrated_home, copy)
    return copy


def run_dag(dag_id: str, home: Path, simulator: KlingSimulator, output: Path) -> str:
    env = env_for(
        home,
        REPO / "tests" / "dags",
        simulator,
        KLING_TEST_OUTPUT=str(output),
        KLING_TEST_POLL_INTERVAL="0.1",
    )
    run = subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, DATE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:]
    return log


@pytest.mark.parametrize("dag_id", ["kling_video_endpoints", "kling_video_endpoints_deferred"])
def test_every_video_endpoint_stores_its_mp4_once(dag_id, simulator, home, tmp_path):
    simulator.reset()
    output = tmp_path / "videos"

    log = run_dag(dag_id, home, simulator, output)

    (folder,) = (output / dag_id).iterdir()
    for task_id in VIDEO_TASKS:
        (video,) = folder.glob(f"{task_id}_0.mp4")
        assert [box for box, _, _ in mp4.read_boxes(video.read_bytes())] == [b"ftyp", b"moov", b"mdat"]
    assert (folder / "teaser_0_watermarked.mp4").is_file()
    tasks = simulator.tasks(simulator.api_key)
    assert len(tasks) == 1 + len(VIDEO_TASKS)  # one paid create per task
    requests = [task["request"] for task in tasks]
    (still,) = folder.glob("still_0.png")
    (clip,) = [r for r in requests if "image" in r and "video_id" not in r]
    assert base64.b64decode(clip["image"]) == still.read_bytes()  # the stored image, through XCom
    (extend,) = [r for r in requests if "video_id" in r]
    clip_task = next(t for t in tasks if t["request"] == clip)
    assert extend["video_id"] == clip_task["task_result"]["videos"][0]["id"]
    (teaser,) = [r for r in requests if r.get("duration") == "10"]
    assert teaser["prompt"] == f"a linen shirt in the wind, {DATE}"
    if dag_id.endswith("deferred"):
        assert "running trigger in line" in log
    assert simulator.api_key not in log


def test_sigkill_mid_wait_then_rerun_resumes_the_same_video_task(simulator, home, tmp_path):
    simulator.reset()
    simulator.set_latency(6)
    env = env_for(
        home,
        REPO / "tests" / "dags",
        simulator,
        KLING_TEST_OUTPUT=str(tmp_path / "videos"),
        KLING_TEST_POLL_INTERVAL="0.2",
    )
    try:
        created, output = kill_mid_wait_then_rerun(
            simulator, env, "kling_video_resume_after_kill", "video", tmp_path
        )
    finally:
        simulator.set_latency(0.3)

    assert f"Resuming Kling task {created['task_id']}" in output, output[-3000:]
    assert simulator.counters(simulator.api_key)["creates"] == 1
    (video,) = (tmp_path / "videos" / "kling_video_resume_after_kill").rglob("video_0.mp4")
    assert video.read_bytes()[4:8] == b"ftyp"
