"""A Kling-compatible simulator, for this provider's tests, its demo and users' own DAG tests.

``KlingSimulator`` runs it in-process on a loopback port; ``create_app`` returns the ASGI app;
``python -m airflow_provider_kling.testing`` serves it from the command line; the pytest plugin
(``airflow_provider_kling.testing.pytest_plugin``) provides the ``kling_simulator`` and
``kling_connection`` fixtures.

It is a reference implementation of Kling written from Kling's docs, and shares no code with
the client (no hooks, operators, ``models`` or ``errors``), so it can catch the client's mistakes:

- ``rules``: Kling's request rules as data (one row per model) and the validator;
- ``endpoints``: the rules of omni-image, multi-image2image, expand and virtual try-on, one row
  per endpoint (path, validator, stand-in price);
- ``codes``: Kling's error codes with their HTTP status;
- ``tasks``: a task's timeline (timed, immediate or manual progress) and how Kling renders it;
- ``store``: tasks indexed by id, external id, account and key, evicted past a retention;
- ``accounts``: keys grouped into accounts, resource packs and their deductions;
- ``state``: settings and the one lock around tasks, accounts, counters and ``faults``;
- ``app``, ``auth``, ``callbacks``, ``control``, ``faulty``, ``png``: the ASGI app, its routes,
  signed callbacks, the ``/_sim`` control routes, misbehaving answers, result images;
- ``server``: :class:`KlingSimulator`, the Python handle.

Names are imported lazily, so that loading the pytest plugin (a submodule) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_kling.testing.app import create_app
    from airflow_provider_kling.testing.callbacks import sign_webhook
    from airflow_provider_kling.testing.png import make_png
    from airflow_provider_kling.testing.server import KlingSimulator
    from airflow_provider_kling.testing.state import Settings, SimulatorConfig, SimulatorState

_EXPORTS = {
    "KlingSimulator": "airflow_provider_kling.testing.server",
    "create_app": "airflow_provider_kling.testing.app",
    "sign_webhook": "airflow_provider_kling.testing.callbacks",
    "make_png": "airflow_provider_kling.testing.png",
    "Settings": "airflow_provider_kling.testing.state",
    "SimulatorConfig": "airflow_provider_kling.testing.state",
    "SimulatorState": "airflow_provider_kling.testing.state",
}
__all__ = [
    "KlingSimulator",
    "Settings",
    "SimulatorConfig",
    "SimulatorState",
    "create_app",
    "make_png",
    "sign_webhook",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
