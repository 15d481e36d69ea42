"""pytest fixtures for the Kling simulator, opt-in.

Load them in a project's top-level ``conftest.py`` with
``pytest_plugins = ("airflow_provider_kling.testing.pytest_plugin",)``, or for one run with
``pytest -p airflow_provider_kling.testing.pytest_plugin``; installing the provider registers no
pytest plugin.

- ``kling_simulator``: one simulator per test session on a free loopback port, reset before each
  test; yields the :class:`~airflow_provider_kling.testing.KlingSimulator` handle.
- ``kling_connection``: the same, with ``AIRFLOW_CONN_KLING_DEFAULT`` pointing at it.

Override ``kling_simulator_server`` in a conftest to start it with other settings. This module
imports the simulator only inside the fixtures, so loading it is cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_kling.testing.server import KlingSimulator


@pytest.fixture(scope="session")
def kling_simulator_server() -> Iterator[KlingSimulator]:
    """The session's simulator, started once."""
    from airflow_provider_kling.testing.server import KlingSimulator

    with KlingSimulator() as simulator:
        yield simulator


@pytest.fixture
def kling_simulator(kling_simulator_server: KlingSimulator) -> Iterator[KlingSimulator]:
    """The session's simulator, with no tasks, counters or faults and its start-up settings."""
    kling_simulator_server.reset()
    yield kling_simulator_server
    kling_simulator_server.reset()


@pytest.fixture
def kling_connection(
    kling_simulator: KlingSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KlingSimulator]:
    """``AIRFLOW_CONN_KLING_DEFAULT`` set to the simulator for this test; yields the handle."""
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", kling_simulator.airflow_conn_json())
    yield kling_simulator
