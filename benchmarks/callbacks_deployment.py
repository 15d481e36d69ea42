"""A real deployment for the callback benchmarks: PostgreSQL, LocalExecutor, ``airflow api-server``.

PostgreSQL is Debian's (``apt-get install postgresql``; its binaries under
``/usr/lib/postgresql/<version>/bin``), run as the ``postgres`` user when this runs as root, in a
data directory under ``build/`` on port 15433 (``--pg-port``). Airflow's PostgreSQL drivers
(psycopg2-binary and asyncpg, what ``apache-airflow[postgres]`` adds) are installed by pip into
``build/pg-drivers`` and put on ``PYTHONPATH`` (the project's venv stays as ``constraints/`` pins
it). The api-server runs with ``--workers 2``; the scheduler, the DAG processor and the triggerer only where a
benchmark asks for them.

    python benchmarks/callbacks_deployment.py up [--components scheduler,dag-processor,triggerer]
    python benchmarks/callbacks_deployment.py down

``up`` prints the environment a client needs (``export`` lines) and leaves everything running;
``down`` stops what ``up`` started (PIDs in ``build/deployment/pids``) and PostgreSQL.
Benchmarks use :class:`Deployment` as a context manager, which stops everything on exit.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DRIVERS = BUILD / "pg-drivers"
# Pinned, as every other install of the repo: the versions the figures in docs/callbacks.rst were made with.
DRIVER_PINS = ("psycopg2-binary==2.9.13", "asyncpg==0.32.0")
PG_PORT = 15433
API_PORT = 18310
JWT_SECRET = "callbacks-deployment-jwt-secret"  # noqa: S105 (a throwaway deployment's)


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def missing() -> str | None:
    """What this machine lacks for a deployment (None: nothing), said so a skip can name it."""
    if pg_bin() is None:
        return "PostgreSQL server binaries (apt-get install postgresql: /usr/lib/postgresql/*/bin/pg_ctl)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser (PostgreSQL refuses to run as root)"
    return None


def install_drivers() -> None:
    if (DRIVERS / "psycopg2").is_dir() and (DRIVERS / "asyncpg").is_dir():
        return
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--target",
            str(DRIVERS),
            *DRIVER_PINS,
        ],
        check=True,
    )


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Deployment:
    """PostgreSQL and Airflow's processes; ``source`` is the checkout whose provider they run."""

    def __init__(
        self,
        state: Path = BUILD / "deployment",
        *,
        source: Path = ROOT,
        api_port: int = API_PORT,
        pg_port: int = PG_PORT,
        workers: int = 2,
        components: tuple[str, ...] = (),
        dags: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.state, self.source, self.api_port, self.pg_port = state, source, api_port, pg_port
        self.workers, self.components = workers, components
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.data = state / "pg-data"
        self.home = state / "airflow-home"
        self.logs = state / "logs"
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW") or k.startswith("AIRFLOW_CONN_")
        }
        self.env.update(
            PYTHONPATH=os.pathsep.join([str(source), str(DRIVERS)]),
            PYTHONWARNINGS="ignore",
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags or state / "dags"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://airflow@127.0.0.1:{pg_port}/airflow",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__API_AUTH__JWT_SECRET=JWT_SECRET,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(api_port + 40),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(api_port + 41),
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        )
        self.env.update(env or {})

    # PostgreSQL -----------------------------------------------------------------------------
    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        binary = pg_bin()
        assert binary is not None
        return subprocess.run(
            _as_postgres([str(binary / args[0]), *args[1:]]), check=check, capture_output=True
        )

    def start_postgres(self) -> None:
        reason = missing()
        if reason:
            raise SystemExit(f"cannot deploy: missing {reason}")
        install_drivers()
        self.state.mkdir(parents=True, exist_ok=True)
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self.data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.data, "postgres", "postgres")
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.pg_port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=200"
        options += " -c fsync=off -c synchronous_commit=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data / "log"), "-w", "start")
        if fresh:
            psql = ["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-c"]
            self._pg(*psql, "CREATE ROLE airflow LOGIN")
            self._pg(*psql, "CREATE DATABASE airflow OWNER airflow")

    def stop_postgres(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    # Airflow --------------------------------------------------------------------------------
    def airflow(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=self.env,
                              check=True, capture_output=True)  # fmt: skip

    def start_process(self, name: str) -> None:
        command = [str(Path(sys.executable).parent / "airflow"), name]
        if name == "api-server":
            command += ["--workers", str(self.workers), "--port", str(self.api_port)]
        if name in ("scheduler", "triggerer"):
            command.append("--skip-serve-logs")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if name == "api-server":
            self.wait_api()

    def wait_api(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.processes["api-server"].poll() is not None:
                break
            time.sleep(0.5)
        raise SystemExit(f"the api-server did not start: see {self.logs / 'api-server.log'}")

    def stop_process(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop ``name`` and its children (its process group: uvicorn's workers, LocalExecutor's)."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        except ProcessLookupError:
            pass

    def start(self) -> Deployment:
        self.start_postgres()
        try:
            Path(self.env["AIRFLOW__CORE__DAGS_FOLDER"]).mkdir(parents=True, exist_ok=True)
            self.home.mkdir(parents=True, exist_ok=True)
            self.airflow("db", "migrate")
            self.start_process("api-server")
            for name in self.components:
                self.start_process(name)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name in list(self.processes)[::-1]:
            self.stop_process(name)
        self.stop_postgres()

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--components", default="", help="scheduler,dag-processor,triggerer")
    parser.add_argument("--api-port", type=int, default=API_PORT)
    parser.add_argument("--pg-port", type=int, default=PG_PORT)
    parser.add_argument("--dags", type=Path, default=None)
    args = parser.parse_args()
    deployment = Deployment(api_port=args.api_port, pg_port=args.pg_port, dags=args.dags,
                            components=tuple(filter(None, args.components.split(","))))  # fmt: skip
    pids = deployment.state / "pids"
    if args.action == "down":
        for pid in json.loads(pids.read_text()).values() if pids.exists() else []:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        pids.unlink(missing_ok=True)
        deployment.stop_postgres()
        return
    deployment.start()
    pids.write_text(json.dumps({name: process.pid for name, process in deployment.processes.items()}))
    for key in (
        "PYTHONPATH",
        "AIRFLOW_HOME",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__API_AUTH__JWT_SECRET",
    ):
        print(f"export {key}={deployment.env[key]}")
    print(f"# api-server: {deployment.api_url} (logs in {deployment.logs})")


if __name__ == "__main__":
    main()
