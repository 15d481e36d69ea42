"""The Airflow plugin that mounts the callback receiver and the Kling view on the api-server
(Airflow 3.1+).

Registered through the ``airflow.plugins`` entry point. Every Airflow process loads plugins,
so this module stays cheap: each FastAPI app is built on the first request the api-server
passes to it, never in the scheduler, a worker or the DAG processor.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_kling.callbacks import URL_PREFIX
from airflow_provider_kling.ui import URL_PREFIX as UI_PREFIX


class KlingCallbackReceiver:
    """An ASGI app that builds :func:`~airflow_provider_kling.callbacks.receiver.create_receiver_app`
    when it first serves a request."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            # FastAPI app, ~90 ms: every Airflow process loads plugins, only the api-server serves it
            from airflow_provider_kling.callbacks.receiver import create_receiver_app

            self._app = create_receiver_app()
        await self._app(scope, receive, send)


class KlingView:
    """An ASGI app that builds :func:`~airflow_provider_kling.ui.app.create_ui_app` when it first
    serves a request."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            # FastAPI app, Airflow's models and the hook: only the api-server serves it
            from airflow_provider_kling.ui.app import create_ui_app

            self._app = create_ui_app()
        await self._app(scope, receive, send)


def _view(name: str, href: str, destination: str) -> dict[str, Any]:
    return {
        "name": name,
        "href": f"{UI_PREFIX}{href}",
        "destination": destination,
        "url_route": f"kling-{destination}",
    }


class KlingCallbacksPlugin(AirflowPlugin):
    """``POST /kling/callbacks/<conn_id>``: Kling's signed callbacks become asset events; the Kling
    view (``/kling-ui``): a run's images and videos, and a "Kling" page of spend and packs."""

    name = "kling_callbacks"
    fastapi_apps = [
        {"app": KlingCallbackReceiver(), "url_prefix": URL_PREFIX, "name": "Kling callbacks"},
        {"app": KlingView(), "url_prefix": UI_PREFIX, "name": "Kling view"},
    ]
    external_views = [
        {**_view("Kling", "/", "nav"), "nav_top_level": True},
        _view("Kling", "/runs/{DAG_ID}/{RUN_ID}", "dag_run"),
        _view("Kling", "/runs/{DAG_ID}/{RUN_ID}?task_id={TASK_ID}&map_index={MAP_INDEX}", "task_instance"),
    ]
