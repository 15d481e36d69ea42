"""The command line: serves, prints the connection line, writes the ready file, stops on SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from airflow_provider_kling.testing import KlingSimulator
from airflow_provider_kling.testing.__main__ import main
from airflow_provider_kling.testing.server import is_loopback

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the address the simulator must refuse without a flag


def test_cli_prints_the_connection_line_and_serves_until_terminated(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    command = [sys.executable, "-m", "airflow_provider_kling.testing", "--port", "0", "--latency", "0"]
    command += ["--api-key", "demo", "--slots", "2", "--ready-file", str(ready)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        base_url = ready.read_text().strip()
        response = httpx.post(
            f"{base_url}/v1/images/generations",
            json={"model_name": "kling-v1", "prompt": "a kite", "n": 1},
            headers={"Authorization": "Bearer demo"},
        )
        assert response.json()["code"] == 0
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)

    assert process.returncode == 0, err
    line = next(line for line in out.splitlines() if line.startswith("AIRFLOW_CONN_KLING_DEFAULT="))
    connection = json.loads(line.split("=", 1)[1].strip("'"))
    assert connection == {"conn_type": "kling", "host": base_url, "password": "demo"}


def test_cli_refuses_a_bad_jwt_key_pair(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--jwt-key", "no-colon"])

    assert exit_info.value.code == 2
    assert "ACCESS:SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("host", [ALL_INTERFACES, "192.168.1.20", "example.com", "::"])
def test_cli_refuses_a_non_loopback_address_without_allow_remote(
    capsys: pytest.CaptureFixture[str], host: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", host, "--port", "0"])

    assert exit_info.value.code == 2
    assert "--allow-remote" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_need_no_flag(host: str) -> None:
    assert is_loopback(host)


def test_allow_remote_lets_the_handle_take_any_address() -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        KlingSimulator(host=ALL_INTERFACES)

    assert KlingSimulator(host=ALL_INTERFACES, allow_remote=True).host == ALL_INTERFACES
