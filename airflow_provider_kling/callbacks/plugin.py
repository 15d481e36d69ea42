"""The Airflow plugin that mounts the callback receiver on the api-server (Airflow 3.1+).

Registered through the ``airflow.plugins`` entry point. Every Airflow process loads plugins,
so this module stays cheap: the FastAPI app is built on the first request the api-server
passes to it, never in the scheduler, a worker or the DAG processor.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_kling.callbacks import URL_PREFIX


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


class KlingCallbacksPlugin(AirflowPlugin):
    """``POST /kling/callbacks/<conn_id>``: Kling's signed callbacks become asset events."""

    name = "kling_callbacks"
    fastapi_apps = [{"app": KlingCallbackReceiver(), "url_prefix": URL_PREFIX, "name": "Kling callbacks"}]
