"""The neighbouring endpoints in real Airflow: the product campaign example under ``airflow dags
test`` (one test per endpoint on one run), and an expand task whose worker is killed with SIGKILL
mid-wait, resumed without a second create when the task runs again."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kling.testing import KlingSimulator, make_png

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
DATE = "2025-06-01"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ENDPOINT_TASKS = {
    "generations": ("product_shot", "model_photo"),
    "expand": ("banner",),
    "virtual-try-on": ("try_on",),
    "multi-image2image": ("scene",),
    "omni-image": ("storyboard",),
}


def polled(simulator: KlingSimulator) -> bool:
    """The simulator has a task that was created, and asked about since."""
    counters = simulator.counters(simulator.api_key)
    return counters["creates"] >= 1 and counters["queries"] + counters["lists"] >= 1


def env_for(home: Path, dags: Path, simulator: KlingSimulator, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "KLING_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_CONN_KLING_DEFAULT=simulator.airflow_conn_json(),
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


@pytest.fixture(scope="module")
def simulator() -> Iterator[KlingSimulator]:
    with KlingSimulator(api_key="endpoints-key", latency=0.3) as sim:
        yield sim


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory, simulator: KlingSimulator) -> Path:
    home = tmp_path_factory.mktemp("airflow-home-endpoints")
    env = env_for(home, REPO / "dags_examples", simulator)
    done = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.fixture(scope="module")
def campaign(
    migrated_home: Path, simulator: KlingSimulator, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One run of the product campaign example; each test below checks one endpoint of it."""
    simulator.reset()
    output = tmp_path_factory.mktemp("campaign-images")
    env = env_for(
        migrated_home,
        REPO / "dags_examples",
        simulator,
        KLING_OUTPUT_DIR=str(output),
        KLING_POLL_INTERVAL="0.2",
    )
    run = subprocess.run(
        [AIRFLOW, "dags", "test", "kling_product_campaign", DATE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:]
    (folder,) = (output / DATE / "kling_product_campaign").iterdir()
    tasks = simulator.tasks(simulator.api_key)
    return {"log": log, "folder": folder, "tasks": tasks}


def stored(campaign: dict[str, Any], task_id: str) -> list[Path]:
    return sorted(campaign["folder"].glob(f"{task_id}_*.png"))


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    return struct.unpack(">II", data[16:24])


def sent_to(campaign: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The requests the simulator accepted that carry ``key`` (each endpoint has its own fields)."""
    return [task["request"] for task in campaign["tasks"] if key in task["request"]]


def test_campaign_generations_make_the_product_shot_and_the_model(campaign):
    prompts = sorted(
        request["prompt"] for request in sent_to(campaign, "aspect_ratio") if "resolution" in request
    )
    assert len(prompts) == 2 and prompts[0].startswith("Full-length photo")
    for task_id in ENDPOINT_TASKS["generations"]:
        (path,) = stored(campaign, task_id)
        assert png_size(path.read_bytes()) in ((512, 512), (384, 512))


def test_campaign_expand_grows_the_stored_product_shot_to_a_banner(campaign):
    (request,) = sent_to(campaign, "left_expansion_ratio")
    (product_shot,) = stored(campaign, "product_shot")
    assert base64.b64decode(request["image"]) == product_shot.read_bytes()  # the stored file, not a URL
    (banner,) = stored(campaign, "banner")
    width, height = png_size(banner.read_bytes())
    assert round(width / height, 1) == round(21 / 9, 1)


def test_campaign_try_on_dresses_the_stored_model_in_the_stored_garment(campaign):
    (request,) = sent_to(campaign, "human_image")
    assert base64.b64decode(request["human_image"]) == stored(campaign, "model_photo")[0].read_bytes()
    assert base64.b64decode(request["cloth_image"]) == stored(campaign, "product_shot")[0].read_bytes()
    assert request["model_name"] == "kolors-virtual-try-on-v1-5"
    assert len(stored(campaign, "try_on")) == 1
    assert "running trigger in line" in campaign["log"]  # deferred: polled at the try-on path


def test_campaign_multi_image_sets_both_subjects_in_a_scene(campaign):
    (request,) = sent_to(campaign, "subject_image_list")
    assert len(request["subject_image_list"]) == 2
    assert len(stored(campaign, "scene")) == 1


def test_campaign_omni_image_makes_a_three_image_series(campaign):
    (request,) = sent_to(campaign, "image_list")
    assert request["result_type"] == "series" and request["series_amount"] == 3
    assert [path.name for path in stored(campaign, "storyboard")] == [f"storyboard_{i}.png" for i in range(3)]
    assert "storyboard: 3 image(s)" in campaign["log"]


def test_campaign_pays_once_per_step_and_never_logs_the_key(campaign, simulator):
    assert len(campaign["tasks"]) == sum(len(tasks) for tasks in ENDPOINT_TASKS.values())
    assert simulator.api_key not in campaign["log"]


def kill_mid_wait_then_rerun(
    simulator: KlingSimulator, env: dict[str, str], dag_id: str, task_id: str, log_dir: Path
) -> tuple[dict[str, Any], str]:
    """Run ``dag_id`` under ``airflow dags test``, SIGKILL it (its whole process group) once its one
    Kling task exists and is still running, then run ``task_id`` again in the same DAG run.

    Returns the Kling task the first run created (as the simulator describes it) and the rerun's output.
    """
    first_log = log_dir / "first.log"
    with first_log.open("w") as out:
        first = subprocess.Popen(
            [AIRFLOW, "dags", "test", dag_id, DATE],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        # mid-wait: the task has been created and polled
        while not polled(simulator):
            assert first.poll() is None, first_log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the task never created and polled its Kling task"
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    (created,) = simulator.tasks(simulator.api_key)
    assert created["task_status"] != "succeed"
    simulator.advance(to="succeed")  # it ends while no worker watches
    match = re.search(r"run_id=(manual__\S+)", first_log.read_text())
    assert match is not None, first_log.read_text()[-3000:]
    again = subprocess.run(
        [AIRFLOW, "tasks", "test", dag_id, task_id, match.group(1)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return created, again.stdout + again.stderr


@pytest.fixture
def resume_home(migrated_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "airflow-home"
    shutil.copytree(migrated_home, home)
    return home


def test_sigkill_mid_wait_then_rerun_resumes_the_same_expand_task(simulator, resume_home, tmp_path):
    simulator.reset()
    simulator.set_progress("manual")  # the task runs until the test ends it, however slow the machine
    source = tmp_path / "source.png"
    source.write_bytes(make_png("a stored photo", 0, 400, 400))
    env = env_for(
        resume_home,
        REPO / "tests" / "dags",
        simulator,
        KLING_TEST_OUTPUT=str(tmp_path / "images"),
        KLING_TEST_POLL_INTERVAL="0.2",
        KLING_TEST_INPUT_IMAGE=f"file://{source}",
    )
    try:
        created, output = kill_mid_wait_then_rerun(
            simulator, env, "kling_expand_resume_after_kill", "expand", tmp_path
        )
    finally:
        simulator.set_progress("timed")

    assert f"Resuming Kling task {created['task_id']}" in output, output[-3000:]
    assert simulator.counters(simulator.api_key)["creates"] == 1
    (banner,) = (tmp_path / "images" / "kling_expand_resume_after_kill").rglob("expand_0.png")
    width, height = png_size(banner.read_bytes())
    assert round(width / height, 2) == round(16 / 9, 2)
