"""Every example DAG under a real ``airflow dags test`` against the simulator, and their import hygiene.

Each test runs ``airflow`` in a subprocess with its own AIRFLOW_HOME: the database is migrated once
into a template home, and each test gets a copy (``sql_alchemy_conn`` is always explicit, so a copy
uses its own database file).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from airflow_provider_kling.assets import EXTRA_KEYS
from airflow_provider_kling.storage import safe_name
from airflow_provider_kling.testing import KlingSimulator

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags_examples"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
#: The example DAGs read this; small, so a run against the simulator takes seconds.
POLL_INTERVAL = "0.2"
DATE = "2025-06-01"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXAMPLE_DAGS = {
    "kling_scheduled_batch",
    "kling_scheduled_batch_deferrable",
    "kling_scheduled_batch_operator",
    "kling_taskflow",
    "kling_sensor",
    "kling_decorator",
    "kling_gallery",
    "kling_product_campaign",
    "kling_catalogue_with_approval",
    "kling_product_video",
    "kling_catalogue_fire_and_forget",
    "kling_catalogue_on_callback",
    "kling_catalogue_callback_sweep",
}


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "KLING_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


@dataclass
class AirflowRun:
    """One ``airflow`` command's outcome."""

    returncode: int
    output: str


@dataclass
class AirflowHome:
    """A migrated AIRFLOW_HOME of this test, with the simulator as ``kling_default``."""

    home: Path
    output_dir: Path
    env: dict[str, str] = field(repr=False)

    def run(self, *args: str, timeout: float = 240) -> AirflowRun:
        done = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return AirflowRun(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home-template")
    done = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=airflow_env(home), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.fixture(scope="module")
def examples_simulator_server() -> Iterator[KlingSimulator]:
    """This module's simulator: image tasks take half a second, so waiting really happens."""
    with KlingSimulator(api_key="examples-key", latency=0.5) as simulator:
        yield simulator


@pytest.fixture
def kling_simulator(examples_simulator_server: KlingSimulator) -> Iterator[KlingSimulator]:
    """The module's simulator with no tasks or counters from an earlier test."""
    examples_simulator_server.reset()
    yield examples_simulator_server


@pytest.fixture
def airflow_home(migrated_home: Path, tmp_path: Path, kling_simulator: KlingSimulator) -> AirflowHome:
    home = tmp_path / "airflow-home"
    shutil.copytree(migrated_home, home)
    output_dir = tmp_path / "images"
    env = airflow_env(
        home,
        AIRFLOW_CONN_KLING_DEFAULT=kling_simulator.airflow_conn_json(),
        KLING_OUTPUT_DIR=str(output_dir),
        KLING_POLL_INTERVAL=POLL_INTERVAL,
    )
    return AirflowHome(home=home, output_dir=output_dir, env=env)


def expected_catalogue_prompts() -> list[str]:
    """The catalogue's prompts as they should read on DATE."""
    with (DAGS_FOLDER / "prompts" / "catalogue.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    logical_date = dt.datetime.fromisoformat(DATE)
    return [jinja2.Template(row["prompt"]).render(ds=DATE, logical_date=logical_date) for row in rows]


def catalogue_names() -> list[str]:
    with (DAGS_FOLDER / "prompts" / "catalogue.csv").open(newline="", encoding="utf-8") as handle:
        return [row["name"] for row in csv.DictReader(handle)]


def created(simulator: KlingSimulator) -> int:
    """How many image tasks the simulator was asked to create (each one is a paid generation)."""
    return int(simulator.counters(simulator.api_key)["creates"])


def assert_png(path: Path) -> None:
    assert path.is_file(), f"missing image {path}"
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"


def assert_dag_run_succeeded(airflow_home: AirflowHome, dag_id: str) -> str:
    run = airflow_home.run("dags", "test", dag_id, DATE)
    assert run.returncode == 0, run.output[-6000:]
    return run.output


@pytest.mark.parametrize("dag_id", ["kling_scheduled_batch", "kling_scheduled_batch_deferrable"])
def test_scheduled_batch_stores_each_prompts_image_with_manifest_and_contact_sheet(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator, dag_id: str
) -> None:
    output = assert_dag_run_succeeded(airflow_home, dag_id)

    prompts = expected_catalogue_prompts()
    kling_tasks = {task["task_id"]: task for task in kling_simulator.tasks()}
    assert created(kling_simulator) == len(prompts)  # one paid generation per prompt
    # One manifest per run, in the run's folder next to its images.
    (manifest_path,) = (airflow_home.output_dir / DATE / dag_id).glob("*/manifest.json")
    folder = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    assert folder.name == safe_name(manifest["run_id"])
    assert manifest["dag_id"] == dag_id
    assert manifest["date"] == DATE
    assert [entry["prompt"] for entry in manifest["prompts"]] == prompts
    assert [entry["name"] for entry in manifest["prompts"]] == catalogue_names()
    assert "[error" not in output  # reading the mapped results asks for none past the last
    sheet = (folder / "contact_sheet.html").read_text()
    # Units per prompt and the run's total: what the simulator deducted.
    deducted = [
        float(kling_tasks[entry["kling_task_id"]]["final_unit_deduction"]) for entry in manifest["prompts"]
    ]
    assert [entry["units"] for entry in manifest["prompts"]] == deducted
    # kling-v3, the example's model: 2 units an image at the simulator.
    assert manifest["total_units"] == sum(deducted) == 2 * len(prompts)
    assert f"{2 * len(prompts)} units</p>" in sheet
    for entry in manifest["prompts"]:
        assert entry["task_status"] == "succeed"
        assert kling_tasks[entry["kling_task_id"]]["request"]["prompt"] == entry["prompt"]
        assert len(entry["files"]) == 1
        for file in entry["files"]:
            assert not Path(file).is_absolute()
            assert_png(folder / file)
            assert f'src="{file}"' in sheet
    if dag_id.endswith("_deferrable"):
        assert "running trigger in line" in output


def test_scheduled_batch_operator_runs_the_catalogue_in_one_trigger_with_manifest_and_contact_sheet(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator
) -> None:
    output = assert_dag_run_succeeded(airflow_home, "kling_scheduled_batch_operator")

    prompts = expected_catalogue_prompts()
    assert created(kling_simulator) == len(prompts)  # one paid generation per row
    (manifest_path,) = (airflow_home.output_dir / DATE / "kling_scheduled_batch_operator").glob(
        "*/generate_catalogue_manifest.json"
    )
    folder = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    with (DAGS_FOLDER / "prompts" / "catalogue.csv").open(newline="", encoding="utf-8") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    assert [(row["key"], row["prompt"], row["status"]) for row in manifest["items"]] == [
        (name, prompt, "succeeded") for name, prompt in zip(names, prompts, strict=True)
    ]
    sheet = (folder / "generate_catalogue_contact_sheet.html").read_text()
    for row, name in zip(manifest["items"], names, strict=True):
        (file,) = row["files"]
        assert file.endswith(f"/generate_catalogue_{name}_0.png")
        assert_png(folder / Path(file).name)
        assert f'src="{Path(file).name}"' in sheet
    assert "running trigger in line" in output
    assert f"{len(prompts)} of {len(prompts)} done" in output


def load_example(name: str) -> Any:
    """An example DAG file as a module, imported in this process."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", DAGS_FOLDER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scheduled_and_manual_runs_on_the_same_day_keep_their_own_manifest(tmp_path: Path) -> None:
    batch = load_example("kling_scheduled_batch")
    dag = SimpleNamespace(dag_id="kling_scheduled_batch")
    runs = {
        "scheduled__2025-06-01T00:00:00+00:00": "a scheduled lamp",
        "manual__2025-06-01T09:30:00+00:00": "a manual lamp",
    }
    for run_id, prompt in runs.items():
        result = {
            "prompt": prompt,
            "task_id": "1",
            "task_status": "succeed",
            "model_name": "kling-v1",
            "images": [],
        }
        batch.write_manifest.function([result], f"file://{tmp_path}/{DATE}", dag=dag, run_id=run_id, ds=DATE)

    folder = tmp_path / DATE / "kling_scheduled_batch"
    manifests = [json.loads(path.read_text()) for path in folder.glob("*/manifest.json")]
    assert {manifest["run_id"]: manifest["prompts"][0]["prompt"] for manifest in manifests} == runs
    for run_id in runs:
        assert (folder / safe_name(run_id) / "contact_sheet.html").is_file()


def recorded_asset_events(home: Path) -> list[dict[str, Any]]:
    """Every asset event in the Airflow metadata database of ``home``, as the scheduler reads them."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT asset.name, asset.uri, event.extra, event.source_dag_id, event.source_run_id, "
            "event.source_task_id, event.source_map_index, event.timestamp "
            "FROM asset_event AS event JOIN asset ON asset.id = event.asset_id ORDER BY event.id"
        ).fetchall()
    keys = ("name", "uri", "extra", "source_dag_id", "source_run_id", "source_task_id", "source_map_index")
    return [
        {**dict(zip(keys, row, strict=False)), "extra": json.loads(row[2]), "timestamp": row[7]}
        for row in rows
    ]


def metadata_rows(home: Path, query: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(query).fetchall()


def triggering_events(events: list[dict[str, Any]]) -> Any:
    """``triggering_asset_events`` as a task of an asset-triggered run gets it, built from stored events."""
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    return TriggeringAssetEventsAccessor.build(
        AssetEventDagRunReferenceResult(
            asset={"name": event["name"], "uri": event["uri"], "extra": {}},
            extra=event["extra"],
            source_dag_id=event["source_dag_id"],
            source_run_id=event["source_run_id"],
            source_task_id=event["source_task_id"],
            source_map_index=event["source_map_index"],
            source_aliases=[],
            timestamp=dt.datetime.fromisoformat(event["timestamp"]).replace(tzinfo=dt.UTC),
        )
        for event in events
    )


def test_batch_run_records_the_asset_event_that_queues_the_gallery_and_the_gallery_shows_it(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator
) -> None:
    # Unpaused from the start, as a deployed consumer is: Airflow queues runs only for active DAGs.
    airflow_home.env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    assert_dag_run_succeeded(airflow_home, "kling_scheduled_batch")

    (event,) = recorded_asset_events(airflow_home.home)
    assert (event["name"], event["uri"]) == (
        "kling_catalogue_images",
        "x-kling://kling_scheduled_batch/images",
    )
    assert (event["source_dag_id"], event["source_task_id"]) == ("kling_scheduled_batch", "write_manifest")
    extra = event["extra"]
    assert set(extra) == {*EXTRA_KEYS, "manifest", "names"}
    assert sorted(extra["names"]) == sorted(catalogue_names())  # the catalogue row behind each task
    assert extra["run_id"] == event["source_run_id"]
    assert extra["output_uri"] == f"file://{airflow_home.output_dir}/{DATE}"
    prompts = expected_catalogue_prompts()
    assert sorted(extra["kling_task_ids"]) == sorted(task["task_id"] for task in kling_simulator.tasks())
    assert extra["image_count"] == len(extra["paths"]) == len(prompts)
    assert extra["model_names"] == ["kling-v3"]  # the example's model
    for path in extra["paths"]:
        assert_png(Path(path.removeprefix("file://")))
    results = [
        json.loads(value)
        for (value,) in metadata_rows(
            airflow_home.home,
            "SELECT value FROM xcom WHERE task_id = 'generate_images' AND key = 'return_value'",
        )
    ]
    assert len(results) == len(prompts)
    assert extra["units"] == pytest.approx(sum(float(result["final_unit_deduction"]) for result in results))
    assert extra["units"] > 0
    manifest = json.loads(Path(extra["manifest"].removeprefix("file://")).read_text())
    assert manifest["run_id"] == extra["run_id"]
    assert kling_simulator.api_key not in json.dumps(extra)
    # The scheduler creates the consumer's run from this queue.
    queued = metadata_rows(airflow_home.home, "SELECT target_dag_id FROM asset_dag_run_queue")
    assert sorted(queued) == [("kling_gallery",), ("kling_product_video",)]

    gallery = load_example("kling_gallery")
    assert gallery.CATALOGUE_IMAGES == load_example("kling_scheduled_batch").CATALOGUE_IMAGES
    runs = gallery.new_images.function(triggering_asset_events=triggering_events([event]))
    (page,) = gallery.build_gallery.function(runs)

    assert page == f"file://{airflow_home.output_dir}/{DATE}/gallery.html"
    html = Path(page.removeprefix("file://")).read_text()
    folder = f"file://{airflow_home.output_dir}/{DATE}/"
    for path in extra["paths"]:
        assert f'src="{path.removeprefix(folder)}"' in html
    for prompt in prompts:
        assert f"<figcaption>{prompt}</figcaption>" in html
    # A second batch run's event adds its images; the first run's stay.
    later = {**event, "source_run_id": "manual__later", "extra": {**extra, "run_id": "manual__later"}}
    gallery.build_gallery.function(
        gallery.new_images.function(triggering_asset_events=triggering_events([later]))
    )
    index = json.loads((airflow_home.output_dir / DATE / "gallery.json").read_text())
    assert [run["run_id"] for run in index] == [extra["run_id"], "manual__later"]


def test_product_video_turns_each_catalogue_image_into_a_stored_video_and_a_sheet_that_plays_them(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator
) -> None:
    assert_dag_run_succeeded(airflow_home, "kling_scheduled_batch")
    images = kling_simulator.tasks(kling_simulator.api_key)

    output = assert_dag_run_succeeded(airflow_home, "kling_product_video")  # by hand: the newest event
    assert "[error" not in output

    (folder,) = (airflow_home.output_dir / DATE / "kling_product_video").iterdir()
    videos = sorted(folder.glob("product_video_*_0.mp4"))
    assert len(videos) == len(images) == len(expected_catalogue_prompts())
    for video in videos:
        assert video.read_bytes()[4:8] == b"ftyp"
    assert len({video.read_bytes() for video in videos}) == len(videos)  # each shows its own product
    sheet = (folder / "video_sheet.html").read_text()
    assert sheet.count("<video ") == len(videos)
    for video in videos:
        assert f'src="{video.name}"' in sheet
    for name in catalogue_names():  # each video's caption names its catalogue row
        assert f"<figcaption><b>{name}</b>: 5 s" in sheet
    sent = [task["request"] for task in kling_simulator.tasks(kling_simulator.api_key) if task not in images]
    image_urls = {task["task_result"]["images"][0]["url"] for task in images}
    assert len(sent) == len(videos)  # one paid create per catalogue image
    assert {request["image"] for request in sent} == image_urls  # each image is a first frame
    assert {request["duration"] for request in sent} == {"5"}


def test_gallery_skips_a_run_whose_events_list_no_new_image() -> None:
    from airflow.providers.common.compat.sdk import AirflowSkipException

    gallery = load_example("kling_gallery")
    with pytest.raises(AirflowSkipException):
        gallery.new_images.function(triggering_asset_events={})


def test_taskflow_prompt_reaches_the_operator_through_xcom(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator
) -> None:
    output = assert_dag_run_succeeded(airflow_home, "kling_taskflow")

    (kling_task,) = kling_simulator.tasks()
    assert kling_task["request"]["prompt"].startswith("Watercolour postcard of ")
    assert "June light" in kling_task["request"]["prompt"]
    (image,) = (airflow_home.output_dir / DATE / "kling_taskflow").glob("*/generate_image_0.*")
    assert_png(image)
    assert f"Kling task {kling_task['task_id']} (succeed)" in output


def test_decorator_expands_one_deferred_kling_task_per_city(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator
) -> None:
    output = assert_dag_run_succeeded(airflow_home, "kling_decorator")

    cities = ["Lisbon", "Kyoto", "Valparaiso"]
    kling_tasks = kling_simulator.tasks()
    assert created(kling_simulator) == len(cities)  # one paid generation per mapped instance
    assert sorted(task["request"]["prompt"] for task in kling_tasks) == sorted(
        f"Art deco travel poster of {city}, bold flat colours, {DATE}" for city in cities
    )
    assert {task["request"]["aspect_ratio"] for task in kling_tasks} == {"2:3"}
    stored = sorted((airflow_home.output_dir / DATE / "kling_decorator").glob("*/poster_*"))
    assert [path.name for path in stored] == [f"poster_{index}_0.png" for index in range(len(cities))]
    for path in stored:
        assert_png(path)
    assert "running trigger in line" in output
    for task in kling_tasks:
        assert f"Kling task {task['task_id']} (succeed)" in output


def test_sensor_waits_for_the_submitted_task_and_images_are_kept(
    airflow_home: AirflowHome, kling_simulator: KlingSimulator
) -> None:
    assert_dag_run_succeeded(airflow_home, "kling_sensor")

    (kling_task,) = kling_simulator.tasks()
    assert created(kling_simulator) == 1
    assert kling_task["request"]["prompt"].endswith(DATE)
    folder = airflow_home.output_dir / DATE / "kling_sensor"
    stored = sorted(folder.iterdir())
    assert [path.name for path in stored] == [f"{kling_task['task_id']}_{index}.png" for index in (0, 1)]
    for path in stored:
        assert_png(path)


_IMPORT_WITHOUT_NETWORK = """
import json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network used while importing a DAG file")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse

from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dag_ids": sorted(bag.dag_ids), "import_errors": bag.import_errors}))
"""


def test_example_dags_import_without_errors_or_network(airflow_home: AirflowHome) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT_NETWORK, str(DAGS_FOLDER)],
        env=airflow_home.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    bag = json.loads(done.stdout.strip().splitlines()[-1])
    assert bag["import_errors"] == {}
    assert set(bag["dag_ids"]) == EXAMPLE_DAGS


def test_airflow_lists_no_import_errors_for_the_examples(airflow_home: AirflowHome) -> None:
    reserialized = airflow_home.run("dags", "reserialize")
    assert reserialized.returncode == 0, reserialized.output[-4000:]

    listed = airflow_home.run("dags", "list-import-errors", "-o", "json")
    assert listed.returncode == 0, listed.output[-4000:]
    assert json.loads(listed.output.strip().splitlines()[-1]) == []
    dags = airflow_home.run("dags", "list", "-o", "json")
    assert {dag["dag_id"] for dag in json.loads(dags.output.strip().splitlines()[-1])} == EXAMPLE_DAGS
