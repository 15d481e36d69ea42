"""How fast a run's Kling view opens with 200 images: headless Chromium against ``airflow standalone``.

One ``KlingBatchOperator`` run of ``--images`` prompts on the simulator (``airflow dags test``), then
``airflow standalone`` (a port of 18800-18899) and Chromium (the OS package): the view is opened
``--opens`` times, directly (``/kling-ui/runs/<dag>/<run>``) and as the run's Kling tab in Airflow's
UI. Prints, per open, the seconds from navigation to the load event (Navigation Timing) and how many
thumbnails the browser had fetched by then (lazy: only those in view); exits 1 when the median
direct open passes ``--limit`` seconds.

    python benchmarks/ui_page_speed.py [--images 200] [--opens 5] [--limit 1.0]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_provider_kling.testing import KlingSimulator
from tests.browser.harness import (
    REPO,
    Browser,
    airflow,
    airflow_env,
    call,
    chromium,
    free_port,
    log_in,
    standalone,
    token_of,
)

DAG_ID = "kling_ui_page_speed"
DAG = """
import json, os
import pendulum
from airflow.sdk import dag
from airflow_provider_kling.operators.batch import KlingBatchOperator

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"))
def page_speed():
    KlingBatchOperator(
        task_id="generate",
        requests=[{{"key": f"item{{i:03d}}", "prompt": f"catalogue item {{i}}"}} for i in range({images})],
        key_field="key",
        model_name="kling-v3",
        slots={slots},
        output_path="file://" + os.environ["KLING_OUTPUT_DIR"],
        poll_interval=0.2,
    )

page_speed()
"""


def timing(window: str) -> str:
    """JavaScript: ``window``'s seconds to its load event, thumbnails fetched, images listed."""
    return (
        f"(w => {{ const n = w.performance.getEntriesByType('navigation')[0];"
        " const fetched = w.performance.getEntriesByType('resource').filter(r => r.name.includes('/file?'));"
        " return [n.loadEventEnd / 1000, fetched.length, w.document.querySelectorAll('main img').length];"
        f" }})({window})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--opens", type=int, default=5)
    parser.add_argument("--limit", type=float, default=1.0)
    args = parser.parse_args()
    executable = chromium()
    if executable is None:
        print("NO CHROMIUM: apt-get install chromium", file=sys.stderr)
        return 2
    root = REPO / "build" / "ui-page-speed"
    shutil.rmtree(root, ignore_errors=True)
    (root / "dags").mkdir(parents=True)
    (root / "home").mkdir()
    (root / "dags" / f"{DAG_ID}.py").write_text(
        DAG.format(dag_id=DAG_ID, images=args.images, slots=args.slots)
    )
    with KlingSimulator(api_key=secrets.token_hex(8), latency=0.2, slots=args.slots) as simulator:
        env = airflow_env(
            root / "home", free_port(), simulator.airflow_conn_json(), root / "out", root / "dags"
        )
        airflow(env, "db", "migrate")
        started = time.monotonic()
        airflow(env, "dags", "test", DAG_ID, log=root / "dags-test.log")
        print(f"{args.images} images made and stored in {time.monotonic() - started:.0f}s")
    images = len(list((root / "out").rglob("*.png")))
    with standalone(env, root / "standalone.log") as (api, passwords):
        token = token_of(api, "admin", passwords["admin"])
        run_id = call(f"{api}/api/v2/dags/{DAG_ID}/dagRuns", token=token)["dag_runs"][0]["dag_run_id"]
        browser = Browser(executable)
        try:
            log_in(browser, api, "admin", passwords["admin"])
            direct = f"{api}/kling-ui/runs/{DAG_ID}/{quote(run_id, safe='')}"
            tab = f"{api}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/plugin/kling-dag_run"
            seconds = []
            for number in range(args.opens):
                browser.open(direct)
                load, fetched, shown = browser.evaluate(timing("window"))
                seconds.append(load)
                print(f"open {number + 1} (direct): {load:.3f}s to load, {shown} images, {fetched} fetched")
            browser.screenshot(root / "view-200.png")
            frame = "document.querySelector('iframe')?.contentDocument"
            for number in range(2):
                took = browser.open(
                    tab, f"{frame}?.readyState === 'complete' && !!{frame}.querySelector('#summary')"
                )
                inner = browser.evaluate(timing("document.querySelector('iframe').contentWindow"))
                print(
                    f"open {number + 1} (the run's Kling tab in Airflow's UI): {took:.3f}s until shown, "
                    f"of which the view itself {inner[0]:.3f}s"
                )
            bare = f"{api}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
            took = browser.open(bare, "document.body.innerText.includes('Task Instances')")
            print(f"for comparison, the same run's page in Airflow's UI without the tab: {took:.3f}s")
        finally:
            browser.close()
    median = statistics.median(seconds)
    verdict = "OK" if median <= args.limit and images == args.images else "TOO SLOW OR INCOMPLETE"
    print(
        json.dumps(
            {"images_stored": images, "median_load_s": round(median, 3), "first_load_s": round(seconds[0], 3)}
        )
    )
    print(f"{verdict}: median {median:.3f}s (limit {args.limit}s) for {images} images")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
