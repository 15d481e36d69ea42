"""Kling's two API styles, as a value every layer can name. No Airflow and no HTTP here.

A request's model chooses its style (the request kind declares which models take which style);
the hook's wire-format object for that style owns the create path, the query, the list and the
decoding of task records. Nothing else looks at a path to tell the two apart.
"""

from __future__ import annotations

from enum import StrEnum


class ApiStyle(StrEnum):
    """How a Kling task is created, queried and answered."""

    #: ``POST /v1/<product>/<endpoint>`` with the fields in the body; ``GET /v1/.../{task_id}`` to
    #: query; an API key or an access-key JWT.
    V1 = "v1"
    #: ``POST /<product>/{model}`` with ``contents``/``settings``/``options``; ``GET /tasks`` to
    #: query; an API key only.
    MODEL_PATH = "model-path"
