"""A real deployment, its triggerer SIGKILLed mid-run: where the time after a kill goes.

PostgreSQL (Debian's binaries, port 15434, data under ``build/``), LocalExecutor and separate
scheduler, triggerer(s), dag-processor and api-server processes (ports 18500-18599), the simulator
with S slots and tasks of L seconds. A deferrable ``KlingBatchOperator`` of N items (HA: N mapped
deferrable image tasks, with N slots); the physical limit is ``ceil(N / S) * L``. Each scenario runs
the DAG once and prints its makespan (first task start to last task end) over the limit, and creates
per task (1.00: no task paid twice):

- ``none``: no kill;
- ``kill``: the triggerer SIGKILLed ``--kill-after`` seconds after the first deferral, restarted after
  ``--outage`` seconds (``--threshold`` sets ``[triggerer] triggerer_health_check_threshold``: a
  trigger stays with its triggerer until that triggerer's last heartbeat is older than that);
- ``ha``: two triggerers, one SIGKILLed and not restarted: the other takes its triggers over.

``orphaned`` is the time from the kill until no trigger is held by a triggerer that has not
heartbeaten since (every wait runs on a live triggerer again).

    python benchmarks/triggerer_kill.py                       # none, kill (threshold 30 and 10), ha
    python benchmarks/triggerer_kill.py --scenarios kill --threshold 30 6 --n 40 --slots 4 --latency 5

Needs ``psycopg2`` and ``asyncpg`` (``pip install --target build/pydeps psycopg2-binary asyncpg``; it adds
``build/pydeps``). Stops every process it started, PostgreSQL included.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "triggerer-kill"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT, API_PORT, SIM_PORT = 15434, 18500, 18501
API_KEY = "deploy-key"
DAG = """
import json, os
import pendulum
from airflow.sdk import DAG
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

prompts, poll = json.loads(os.environ["KILL_BENCH_PROMPTS"]), float(os.environ["KILL_BENCH_POLL"])
with DAG("kill_bench_batch", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False):
    KlingBatchOperator(
        task_id="batch", requests=[{"name": f"item{i}", "prompt": p} for i, p in enumerate(prompts)],
        key_field="name", model_name="kling-v3", slots=int(os.environ["KILL_BENCH_SLOTS"]),
        output_path=os.environ["KILL_BENCH_OUT"], deferrable=True, poll_interval=poll,
    )
with DAG("kill_bench_waits", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False):
    KlingImageGenerationOperator.partial(
        task_id="image", model_name="kling-v3", n=1, deferrable=True, poll_interval=poll
    ).expand(prompt=prompts)
"""


class Deployment:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.processes, self.logs = args, {}, BUILD / "logs"
        self.home, self.pgdata = BUILD / "airflow-home", BUILD / "pgdata"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "build" / "pydeps")]),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(BUILD / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(min(args.n, 8)),  # 2 CPUs: 40 task processes at once starve
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(args.n),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{API_PORT}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_SECRET": "triggerer-kill-benchmark",
            "AIRFLOW__API__PORT": str(API_PORT),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:{PG_PORT}/airflow",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW_CONN_KLING_DEFAULT": json.dumps(
                {"conn_type": "kling", "host": f"http://127.0.0.1:{SIM_PORT}/kling", "password": API_KEY}
            ),
            "KILL_BENCH_POLL": str(args.poll),
            "KILL_BENCH_SLOTS": str(args.slots),
            "KILL_BENCH_OUT": f"file://{BUILD}/out",
            "KILL_BENCH_PROMPTS": json.dumps([f"a kite {i}" for i in range(args.n)]),
            "PYTHONWARNINGS": "ignore",
        }

    # -- processes ------------------------------------------------------------------------------

    def start(self, name: str, command: list[str], **env: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # closed with the process
        self.processes[name] = subprocess.Popen(
            command, env={**self.env, **env}, stdout=log, stderr=log, start_new_session=True
        )

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def airflow(self, *command: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *command]

    def cli(self, *command: str) -> None:
        done = subprocess.run(self.airflow(*command), env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"airflow {' '.join(command)} failed:\n{done.stderr[-3000:]}")

    def pg(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)

    def up(self) -> None:
        shutil.rmtree(BUILD, ignore_errors=True)
        (BUILD / "dags").mkdir(parents=True)
        (BUILD / "dags" / "kill_bench.py").write_text(DAG)
        self.pgdata.mkdir()
        shutil.chown(self.pgdata, "postgres", "postgres")
        self.pg(str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-A", "trust", "-U", "postgres")
        self.pg(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.pgdata / "log"),
            "-w",
            "start",
            "-o",
            f"-p {PG_PORT} -k {self.pgdata} -c listen_addresses=127.0.0.1",
        )
        self.pg(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(PG_PORT), "airflow")
        self.cli("db", "migrate")
        self.start("api-server", self.airflow("api-server", "--port", str(API_PORT)))
        self.start("dag-processor", self.airflow("dag-processor"))
        self.start("scheduler", self.airflow("scheduler", "--skip-serve-logs"))

    def down(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        if (self.pgdata / "postmaster.pid").exists():
            self.pg(str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def start_simulator(self, slots: int) -> None:
        self.stop("simulator")
        self.start(
            "simulator",
            [
                sys.executable,
                "-m",
                "airflow_provider_kling.testing",
                "--port",
                str(SIM_PORT),
                "--api-key",
                API_KEY,
                "--slots",
                str(slots),
                "--latency",
                str(self.args.latency),
            ],
        )

    def sim(self, path: str) -> Any:
        import httpx

        return httpx.get(f"http://127.0.0.1:{SIM_PORT}{path}", params={"api_key": API_KEY}, timeout=30).json()

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        with psycopg2.connect(host="127.0.0.1", port=PG_PORT, user="postgres", dbname="airflow") as conn:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

    def orphans(self, killed_at: float) -> int:
        """Triggers held by a triggerer that has not heartbeaten since ``killed_at`` (the dead one)."""
        ((count,),) = self.query(
            "select count(*) from trigger t left join job j on j.id = t.triggerer_id "
            "where j.latest_heartbeat is null or j.latest_heartbeat < to_timestamp(%s)",
            killed_at,
        )
        return int(count)

    # -- one scenario ---------------------------------------------------------------------------

    def run(self, scenario: str, threshold: float) -> dict[str, Any]:
        args = self.args
        dag_id = "kill_bench_waits" if scenario == "ha" else "kill_bench_batch"
        slots = args.n if scenario == "ha" else args.slots  # HA: N single waits at once
        self.start_simulator(slots)
        triggerers = ["triggerer-a", "triggerer-b"] if scenario == "ha" else ["triggerer-a"]
        setting = {"AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(threshold)}
        for name in triggerers:
            self.start(name, self.airflow("triggerer", "--skip-serve-logs"), **setting)
        deadline = time.monotonic() + 300
        while not self.query("select 1 from dag where dag_id = %s", dag_id):
            if time.monotonic() > deadline:
                raise SystemExit("the DAG was not parsed; see the dag-processor log")
            time.sleep(1)
        run_id = f"{scenario}-{threshold:g}-{int(time.time())}"
        self.cli("dags", "unpause", dag_id)
        self.cli("dags", "trigger", dag_id, "--run-id", run_id)
        deferred_at = killed_at = orphaned_until = None
        while True:
            ((state,),) = self.query("select state from dag_run where run_id = %s", run_id)
            if state in ("success", "failed"):
                break
            if deferred_at is None and self.query(
                "select 1 from task_instance where run_id = %s and state = 'deferred'", run_id
            ):
                deferred_at = time.monotonic()
            if (
                scenario != "none"
                and killed_at is None
                and deferred_at
                and time.monotonic() > deferred_at + args.kill_after
            ):
                killed_at = time.time()
                self.stop(triggerers[0], signal.SIGKILL)
                if scenario == "kill":
                    time.sleep(args.outage)
                    self.start(triggerers[0], self.airflow("triggerer", "--skip-serve-logs"), **setting)
            if killed_at is not None and orphaned_until is None and not self.orphans(killed_at):
                orphaned_until = time.time()
            if time.monotonic() > deadline + 900:
                raise SystemExit(f"{run_id} did not finish")
            time.sleep(0.5)
        ((first, last, done, tasks),) = self.query(
            "select extract(epoch from min(start_date)), extract(epoch from max(end_date)), "
            "count(*) filter (where state = 'success'), count(*) from task_instance where run_id = %s",
            run_id,
        )
        creates = self.sim("/_sim/counters")["creates"]
        for name in triggerers:
            self.stop(name)
        limit = math.ceil(args.n / slots) * args.latency
        makespan = float(last) - float(first)
        return {
            "scenario": scenario,
            "threshold": threshold,
            "state": state,
            "succeeded": f"{done}/{tasks}",
            "makespan": makespan,
            "x_limit": makespan / limit,
            "creates_per_task": creates / args.n,
            "kill_at": None if killed_at is None else killed_at - float(first),
            # from the kill until every trigger ran on a live triggerer again
            "orphaned": None if killed_at is None or orphaned_until is None else orphaned_until - killed_at,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=2.0, help="the tasks' poll interval")
    parser.add_argument("--kill-after", type=float, default=8.0, help="seconds after the first deferral")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the killed triggerer stays down")
    parser.add_argument(
        "--scenarios", nargs="+", default=["none", "kill", "ha"], choices=["none", "kill", "ha"]
    )
    parser.add_argument(
        "--threshold",
        type=float,
        nargs="+",
        default=[30.0, 10.0],
        help="[triggerer] triggerer_health_check_threshold values (30 is Airflow's default)",
    )
    args = parser.parse_args()
    sys.path.append(str(ROOT / "build" / "pydeps"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop what was started on the way out
    deployment = Deployment(args)
    rows = []
    try:
        deployment.up()
        for scenario in args.scenarios:
            for threshold in args.threshold if scenario != "none" else args.threshold[:1]:
                rows.append(deployment.run(scenario, threshold))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        deployment.down()
    print(f"N={args.n} S={args.slots} L={args.latency:g}s poll {args.poll:g}s, outage {args.outage:g}s")
    print("scenario  threshold  state  succeeded  makespan  x_limit  creates/task  kill_at  orphaned")
    for row in rows:
        kill = "-" if row["kill_at"] is None else f"{row['kill_at']:.1f}s"
        orphaned = "-" if row["orphaned"] is None else f"{row['orphaned']:.1f}s"
        print(
            f"{row['scenario']}  {row['threshold']:g}  {row['state']}  {row['succeeded']}  "
            f"{row['makespan']:.1f}s  {row['x_limit']:.2f}x  {row['creates_per_task']:.2f}  {kill}  "
            f"{orphaned}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
