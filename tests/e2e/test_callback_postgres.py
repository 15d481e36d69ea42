"""The receiver in a real deployment: PostgreSQL and ``airflow api-server --workers 2``.

Runs ``benchmarks/callbacks_concurrent_duplicates.py`` (its deployment: Debian's PostgreSQL on
a free port under ``build/``, Airflow's PostgreSQL drivers installed into ``build/pg-drivers``):

- the same task body under 20 webhook ids at once, and one delivery 20 times at once: exactly one
  asset event each, in 10 of 10 trials;
- a recorded delivery replayed with ``?asset=pipe1``: no second event;
- every hostile input of issue 31: a 4xx each, and no traceback in the api-server's log.

Skipped, naming what is missing, where PostgreSQL's server binaries are not installed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from callbacks_deployment import missing  # noqa: E402

MISSING = missing()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(MISSING is not None, reason=f"needs a PostgreSQL server: missing {MISSING}")
def test_two_api_server_workers_on_postgresql_record_each_callback_once_and_refuse_hostile_input() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "callbacks_concurrent_duplicates.py")]
    command += ["--parts", "concurrency,replay,hostile", "--trials", "10", "--flood", "200", "--json"]
    command += ["--pg-port", str(free_port()), "--api-port", str(free_port())]  # not the defaults: others
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])["current"]

    assert figures["concurrency"]["events_per_trial"] == {"ids": [1] * 10, "same-id": [1] * 10}
    assert figures["replay"]["events"] == {"kling://kling_default/tasks": 1}
    hostile = figures["hostile"]
    flood = hostile.pop("200 random connection ids")
    assert flood["answers"] == {"401": 200}
    codes = {name: code for name, code in hostile.items() if name != "client gone mid-body"}
    assert all(isinstance(code, int) and 400 <= code < 500 for code in codes.values()), codes
    assert figures["tracebacks in the api-server log"] == 0
