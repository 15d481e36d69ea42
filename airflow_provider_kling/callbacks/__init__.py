"""Kling's signed callbacks, received by Airflow's api-server and recorded as asset events.

- ``signature``: Standard Webhooks verification (no Airflow, no HTTP);
- ``records``: both callback body shapes read into one :class:`~.records.CallbackRecord`;
- ``events``: which asset a callback is recorded on, and the event's ``extra``;
- ``replay``: the bounded memory of webhook ids already handled;
- ``recorder``: the asset event, written through Airflow's asset manager;
- ``receiver``: the FastAPI app (``POST /kling/callbacks/<conn_id>``);
- ``plugin``: the Airflow plugin that mounts it on the api-server.

Importing this package imports none of them.
"""

from __future__ import annotations

#: Where the api-server serves the receiver: ``<api-server base URL>/kling/callbacks/<conn_id>``.
URL_PREFIX = "/kling"
