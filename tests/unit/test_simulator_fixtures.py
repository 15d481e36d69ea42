"""The pytest plugin: fixtures that reset between tests, the connection variable, a cheap import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from airflow_provider_kling.testing import KlingSimulator


def test_kling_connection_sets_the_default_connection_to_the_simulator(
    kling_connection: KlingSimulator,
) -> None:
    connection = json.loads(os.environ["AIRFLOW_CONN_KLING_DEFAULT"])

    assert connection == {"conn_type": "kling", "host": kling_connection.base_url, "password": "test-key"}
    assert httpx.get(f"{kling_connection.root_url}/_sim/health").status_code == 200


def test_kling_simulator_changes_in_one_test(kling_simulator: KlingSimulator) -> None:
    kling_simulator.set_slots(1)
    kling_simulator.fail_next(5)


def test_are_undone_before_the_next(kling_simulator: KlingSimulator) -> None:
    assert kling_simulator.settings.slots == 8
    assert kling_simulator.state.faults().fail_next == 0


def test_plugin_module_imports_without_the_server_stack() -> None:
    code = (
        "import sys, airflow_provider_kling.testing.pytest_plugin;"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'jwt') if m in sys.modules))"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert out.stdout.strip() == "[]"
