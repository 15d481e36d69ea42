"""The Kling view in Airflow's UI (Airflow 3.1+), served by the api-server through the plugin.

- ``render``: what a run made and what was spent, as HTML and an inline SVG plot (no Airflow);
- ``app``: the FastAPI app: Airflow's auth, XCom and task instances read, files streamed from storage.

Importing this package imports neither.
"""

from __future__ import annotations

#: Where the api-server serves the view: ``<api-server base URL>/kling-ui/...``.
URL_PREFIX = "/kling-ui"
