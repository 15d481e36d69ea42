"""``make demo``: run the scheduled batch and product video example DAGs once, end to end, in a
throwaway Airflow.

Starts the Kling simulator on a free loopback port (or, with ``KLING_API_KEY`` set, uses Kling
itself: ``KLING_BASE_URL`` optional), runs ``airflow dags test kling_scheduled_batch <date>`` (one
mapped task per prompt), ``airflow dags test kling_scheduled_batch_operator <date>`` (the
catalogue in one batch task) and ``airflow dags test kling_product_video <date>`` (a product video
of each catalogue image the first run stored: it reads that run's asset event) in a fresh
``build/demo/airflow-home``, and prints what they made (counted from the stored files) and, last,
the contact sheets to open and the addresses of the Kling view (``airflow standalone`` on that
home). Exits non-zero when a DAG run fails or a file is missing.

    python scripts/demo.py [YYYY-MM-DD]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from airflow_provider_kling.ui import URL_PREFIX as UI_PREFIX

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "build" / "demo"
DAG_ID = "kling_scheduled_batch"
BATCH_DAG_ID = "kling_scheduled_batch_operator"
VIDEO_DAG_ID = "kling_product_video"
POOL, POOL_SLOTS = "kling_slots", os.environ.get("KLING_SLOTS", "4")
#: ``airflow standalone``'s address by default (``[api] base_url``).
UI = "http://localhost:8080"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow(env: dict[str, str], *args: str, log: Path | None = None) -> int:
    """Run one ``airflow`` command; its output goes to ``log`` (and the terminal) or is kept quiet."""
    if log is None:
        done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode:
            print(done.stdout + done.stderr, file=sys.stderr)
        return done.returncode
    with (
        log.open("w") as sink,
        subprocess.Popen(  # noqa: S603
            [AIRFLOW, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            sink.write(line)
            print(line, end="", flush=True)
    return proc.returncode


def airflow_env(conn_json: str, output_dir: str, poll_interval: str) -> dict[str, str]:
    home = DEMO / "airflow-home"
    shutil.rmtree(home, ignore_errors=True)  # a fresh home each time: a second run never collides
    home.mkdir(parents=True)
    env = dict(os.environ)
    env.pop("AIRFLOW_VAR_KLING_OUTPUT_DIR", None)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags_examples"),
        AIRFLOW_CONN_KLING_DEFAULT=conn_json,
        KLING_OUTPUT_DIR=output_dir,
        KLING_POLL_INTERVAL=poll_interval,
        PYTHONWARNINGS="ignore",
    )
    return env


@dataclass
class Made:
    """What one example DAG's run left, for the closing summary."""

    rows: int = 0
    images: int = 0
    videos: int = 0
    #: Each page to open: (what it shows, its path).
    sheets: list[tuple[str, Path]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def newest(folder: Path, pattern: str) -> Path | None:
    """The newest file matching ``pattern`` under ``folder``: this run's (one folder per run)."""
    found = sorted(folder.glob(pattern), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def local(file: str) -> Path:
    return Path(file.removeprefix("file://"))


def mapped_batch(output_dir: str, date: str) -> Made:
    """The mapped image tasks' run: its manifest, images and contact sheet."""
    manifest_path = newest(Path(output_dir) / date / DAG_ID, "*/manifest.json")
    if manifest_path is None:
        return Made(problems=[f"{DAG_ID} wrote no manifest under {Path(output_dir) / date / DAG_ID}"])
    manifest = json.loads(manifest_path.read_text())
    files = [manifest_path.parent / file for entry in manifest["prompts"] for file in entry["files"] if file]
    return Made(
        rows=len(manifest["prompts"]),
        images=sum(file.is_file() for file in files),
        sheets=[("images, one task per row", manifest_path.parent / "contact_sheet.html")],
        problems=[f"missing {file}" for file in files if not file.is_file()]
        or ([] if files else ["no image"]),
    )


def batch_operator(output_dir: str, date: str) -> Made:
    """The batch operator's run: its manifest, images and contact sheet."""
    manifest_path = newest(Path(output_dir) / date / BATCH_DAG_ID, "*/generate_catalogue_manifest.json")
    if manifest_path is None:
        return Made(problems=[f"{BATCH_DAG_ID} wrote no manifest under {Path(output_dir) / date}"])
    manifest = json.loads(manifest_path.read_text())
    files = [local(file) for item in manifest["items"] for file in item.get("files") or () if file]
    problems = [] if set(manifest["counts"]) == {"succeeded"} else [f"{BATCH_DAG_ID}: {manifest['counts']}"]
    return Made(
        images=sum(file.is_file() for file in files),
        sheets=[
            (
                "images, the catalogue in one batch task",
                manifest_path.with_name("generate_catalogue_contact_sheet.html"),
            )
        ],
        problems=problems + [f"missing {file}" for file in files if not file.is_file()],
    )


def product_videos(output_dir: str, date: str) -> Made:
    """The product video run: its MP4 files and video sheet."""
    sheet = newest(Path(output_dir) / date / VIDEO_DAG_ID, "*/video_sheet.html")
    if sheet is None:
        return Made(problems=[f"{VIDEO_DAG_ID} wrote no video_sheet.html under {Path(output_dir) / date}"])
    videos = [path for path in sheet.parent.glob("*.mp4") if path.stat().st_size]
    return Made(
        videos=len(videos),
        sheets=[("videos, one per catalogue image", sheet)],
        problems=[] if videos else ["no video"],
    )


def report(output_dir: str, date: str, seconds: float) -> int:
    """What the three runs made, counted from the files they stored, and the pages to open last."""
    if "://" in output_dir:
        dags = ", ".join((DAG_ID, BATCH_DAG_ID, VIDEO_DAG_ID))
        print(f"\nDone in {seconds:.0f}s. Output under {output_dir}/{date}/ ({dags})")
        return 0
    runs = [
        mapped_batch(output_dir, date),
        batch_operator(output_dir, date),
        product_videos(output_dir, date),
    ]
    rows, images, videos = runs[0].rows, sum(run.images for run in runs), sum(run.videos for run in runs)
    print(f"\nDone in {seconds:.0f}s: {rows} catalogue rows made {images} images and {videos} videos.")
    for problem in (problem for run in runs for problem in run.problems):
        print(f"  PROBLEM: {problem}", file=sys.stderr)
    print("Open the contact sheets:")
    for what, sheet in (sheet for run in runs for sheet in run.sheets):
        print(f"  {what + ':':45} {sheet.as_uri()}")
    print_view(DEMO / "airflow-home")
    return 1 if any(run.problems for run in runs) else 0


def print_view(home: Path) -> None:
    """How to see the runs in the Kling view of Airflow's UI (``airflow standalone`` on this home)."""
    runs = []
    if (home / "airflow.db").exists():  # the default database (not when AIRFLOW__DATABASE__* is set)
        with sqlite3.connect(home / "airflow.db") as db:
            runs = db.execute("SELECT dag_id, run_id FROM dag_run ORDER BY dag_id, run_id").fetchall()
    print(
        "Or see them in Airflow's UI, the Kling view (docs/ui.rst): run\n"
        f"  AIRFLOW_HOME={home} AIRFLOW__CORE__DAGS_FOLDER={REPO / 'dags_examples'} airflow standalone\n"
        f"log in (password in {home / 'simple_auth_manager_passwords.json.generated'}) and open"
    )
    print(f"  {'the Kling page:':45} {UI}/plugin/kling-nav   (the view alone: {UI}{UI_PREFIX}/)")
    for dag_id, run_id in runs:
        tab = f"{UI}/dags/{dag_id}/runs/{quote(run_id, safe='')}/plugin/kling-dag_run"
        print(f"  {dag_id + ' run:':45} {tab}")


def main(argv: list[str]) -> int:
    date = argv[0] if argv else dt.datetime.now(dt.UTC).date().isoformat()
    output_dir = os.environ.get("KLING_OUTPUT_DIR") or str(DEMO / "images")
    api_key = os.environ.get("KLING_API_KEY")
    started = time.monotonic()
    simulator = None
    if api_key:
        host = os.environ.get("KLING_BASE_URL", "")
        print(f"Using Kling itself at {host or 'the default host'} (KLING_API_KEY is set): this is billed.")
        conn_json = json.dumps({"conn_type": "kling", "host": host, "password": api_key})
        poll_interval = os.environ.get("KLING_POLL_INTERVAL", "10")
    else:
        from airflow_provider_kling.testing import KlingSimulator

        simulator = KlingSimulator(api_key=secrets.token_hex(16), latency=1.0, slots=int(POOL_SLOTS)).start()
        print(f"Kling simulator on {simulator.base_url} (each task takes 1 s, {POOL_SLOTS} slots)")
        conn_json = simulator.airflow_conn_json()
        poll_interval = os.environ.get("KLING_POLL_INTERVAL", "0.5")
    try:
        env = airflow_env(conn_json, output_dir, poll_interval)
        print(f"AIRFLOW_HOME={env['AIRFLOW_HOME']}; migrating the database...", flush=True)
        if airflow(env, "db", "migrate"):
            return 1
        # --include-deferred: a deferred task keeps its pool slot, as its Kling task keeps its slots.
        pool = [POOL, POOL_SLOTS, "Concurrent Kling image slots of the account", "--include-deferred"]
        if airflow(env, "pools", "set", *pool):
            return 1
        print(f"Running: airflow dags test {DAG_ID} {date}", flush=True)
        rc = airflow(env, "dags", "test", DAG_ID, date, log=DEMO / "dags-test.log")
        if not rc:
            print(f"Running: airflow dags test {BATCH_DAG_ID} {date}", flush=True)
            rc = airflow(env, "dags", "test", BATCH_DAG_ID, date, log=DEMO / "dags-test-batch-operator.log")
        if not rc:
            # Reads the catalogue asset's newest event: the images kling_scheduled_batch stored above.
            print(f"Running: airflow dags test {VIDEO_DAG_ID} {date}", flush=True)
            rc = airflow(env, "dags", "test", VIDEO_DAG_ID, date, log=DEMO / "dags-test-product-video.log")
    finally:
        if simulator is not None:
            simulator.stop()
    if rc:
        print(f"\nA DAG run failed (exit {rc}); its output is in {DEMO}/dags-test*.log", file=sys.stderr)
        return rc
    return report(output_dir, date, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
