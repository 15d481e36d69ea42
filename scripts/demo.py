"""``make demo``: run the scheduled batch and product video example DAGs once, end to end, in a
throwaway Airflow.

Starts the Kling simulator on a free loopback port (or, with ``KLING_API_KEY`` set, uses Kling
itself: ``KLING_BASE_URL`` optional), runs ``airflow dags test kling_scheduled_batch <date>`` (one
mapped task per prompt), ``airflow dags test kling_scheduled_batch_operator <date>`` (the
catalogue in one batch task) and ``airflow dags test kling_product_video <date>`` (a product video
of each catalogue image the first run stored: it reads that run's asset event) in a fresh
``build/demo/airflow-home``, and prints where the images, videos, manifests and contact sheets
are. Exits non-zero when a DAG run fails.

    python scripts/demo.py [YYYY-MM-DD]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "build" / "demo"
DAG_ID = "kling_scheduled_batch"
BATCH_DAG_ID = "kling_scheduled_batch_operator"
VIDEO_DAG_ID = "kling_product_video"
POOL, POOL_SLOTS = "kling_slots", os.environ.get("KLING_SLOTS", "4")
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


def report(output_dir: str, date: str, seconds: float) -> int:
    if "://" in output_dir:
        print(f"\nDone in {seconds:.0f}s. Output under {output_dir}/{date}/{DAG_ID}/")
        return 0
    # One manifest per run, next to the run's images; this run's is the newest.
    manifests = sorted(
        (Path(output_dir) / date / DAG_ID).glob("*/manifest.json"), key=lambda p: p.stat().st_mtime
    )
    if not manifests:
        print(
            f"\nThe run succeeded but wrote no manifest under {Path(output_dir) / date / DAG_ID}",
            file=sys.stderr,
        )
        return 1
    manifest_path = manifests[-1]
    folder = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    files = [folder / file for entry in manifest["prompts"] for file in entry["files"] if file]
    missing = [file for file in files if not file.is_file()]
    print(f"\nDone in {seconds:.0f}s: {len(manifest['prompts'])} prompts, {len(files)} images.")
    print(f"  images:        {folder}/")
    print(f"  manifest:      {manifest_path}")
    print(f"  contact sheet: {folder / 'contact_sheet.html'}")
    for file in missing:
        print(f"  MISSING: {file}", file=sys.stderr)
    return 1 if missing or not files else 0


def report_batch(output_dir: str, date: str) -> int:
    """Where the batch operator's run left its manifest and contact sheet, and its counts."""
    if "://" in output_dir:
        print(f"Batch operator output under {output_dir}/{date}/{BATCH_DAG_ID}/")
        return 0
    manifests = sorted(
        (Path(output_dir) / date / BATCH_DAG_ID).glob("*/generate_catalogue_manifest.json"),
        key=lambda p: p.stat().st_mtime,
    )
    if not manifests:
        print(f"The batch operator's run wrote no manifest under {Path(output_dir) / date}", file=sys.stderr)
        return 1
    manifest = json.loads(manifests[-1].read_text())
    print(f"Batch operator ({BATCH_DAG_ID}): {manifest['counts']}")
    print(f"  manifest:      {manifests[-1]}")
    print(f"  contact sheet: {manifests[-1].with_name('generate_catalogue_contact_sheet.html')}")
    return 0 if set(manifest["counts"]) == {"succeeded"} else 1


def report_videos(output_dir: str, date: str) -> int:
    """Where the product video run left its MP4 files and the video contact sheet."""
    if "://" in output_dir:
        print(f"Product videos under {output_dir}/{date}/{VIDEO_DAG_ID}/")
        return 0
    sheets = sorted(
        (Path(output_dir) / date / VIDEO_DAG_ID).glob("*/video_sheet.html"), key=lambda p: p.stat().st_mtime
    )
    if not sheets:
        where = Path(output_dir) / date / VIDEO_DAG_ID
        print(f"The product video run wrote no video_sheet.html under {where}", file=sys.stderr)
        return 1
    folder = sheets[-1].parent
    videos = sorted(path for path in folder.glob("*.mp4") if path.stat().st_size)
    print(f"Product videos ({VIDEO_DAG_ID}): {len(videos)} MP4 file(s)")
    print(f"  videos:        {folder}/")
    print(f"  video sheet:   {sheets[-1]}")
    return 0 if videos else 1


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
    return (
        report(output_dir, date, time.monotonic() - started)
        or report_batch(output_dir, date)
        or report_videos(output_dir, date)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
