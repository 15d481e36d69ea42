"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Kept free of package imports but the import-free kinds, so that every ``airflow`` command reads it
cheaply: the operator modules are found by reading ``operators/``'s sources, not by importing them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from airflow_provider_kling.kinds import RequestKind

DEFAULT_BASE_URL = "https://www.kkiai.com/kling"

_INTEGRATION = "Kling"
_OPERATORS = Path(__file__).parent / "operators"


@cache
def operator_modules() -> tuple[str, ...]:
    """The modules of ``operators/`` that define an operator: those of one request kind each first, in
    :class:`RequestKind`'s order of their first kind (``kind=`` on a decorator imports them in this
    order until one declares the kind), then the others (bases, batch, approval ...) by name."""
    order = {name: n for n, name in enumerate(RequestKind.__members__)}
    found = []
    for source in sorted(_OPERATORS.glob("[!_]*.py")):
        text = source.read_text(encoding="utf-8")
        kinds = re.findall(r"^    request_kind = RequestKind\.(\w+)", text, re.MULTILINE)
        if kinds or re.search(r"^class [A-Z]\w*Operator\(", text, re.MULTILINE):
            found.append((min((order[kind] for kind in kinds), default=len(order)), source.stem))
    return tuple(f"airflow_provider_kling.operators.{stem}" for _, stem in sorted(found))


def get_provider_info() -> dict[str, Any]:
    """Describe the provider, its modules and the ``kling`` connection form."""
    return {
        # Must equal the distribution name, or Airflow refuses to load the provider.
        "package-name": "airflow-provider-kling",
        "name": "Kling",
        "description": "Generate images and videos with Kling's API from Airflow.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://app.klingai.com/global/dev/document-api",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_kling.hooks.kling"]}
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": list(operator_modules()),
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_kling.sensors.kling",
                    "airflow_provider_kling.sensors.account",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_kling.triggers.kling",
                    "airflow_provider_kling.triggers.batch",
                ],
            }
        ],
        "task-decorators": [
            {"name": "kling_image", "class-name": "airflow_provider_kling.decorators.kling.kling_image_task"},
            {"name": "kling_video", "class-name": "airflow_provider_kling.decorators.video.kling_video_task"},
            {"name": "kling_audio", "class-name": "airflow_provider_kling.decorators.audio.kling_audio_task"},
        ],
        "extra-links": ["airflow_provider_kling.operators.base.KlingResultLink"],
        "connection-types": [
            {
                "connection-type": "kling",
                "hook-class-name": "airflow_provider_kling.hooks.kling.KlingHook",
                "hook-name": "Kling",
                "conn-fields": {
                    "region": {
                        "label": "Kling region: singapore or beijing",
                        "description": "With an empty Base URL, Kling's host of that region. Keys "
                        "are issued per site and do not cross regions (UNCONFIRMED)",
                        "schema": {"type": ["string", "null"]},
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "read_timeout": {
                        "label": "Read timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 60},
                    },
                    "max_retries": {
                        "label": "Retries for retryable errors (429 1302/1303, 5xx, network)",
                        "schema": {"type": ["integer", "null"], "default": 5},
                    },
                    "proxy": {
                        "label": "HTTPS proxy URL",
                        "schema": {"type": ["string", "null"]},
                    },
                    "callback_base_url": {
                        "label": "Airflow's public base URL, for Kling's callbacks",
                        "description": "Kling POSTs to <this>/kling/callbacks/<connection id>",
                        "schema": {"type": ["string", "null"]},
                    },
                    "webhook_secret": {
                        "label": "Webhook secret(s) for signed callbacks",
                        "description": "Kling's whsec_ secret; while a secret rotates, the old and new "
                        "separated by a space or a comma",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Base URL",
                        "login": "Access key (only with a secret key)",
                        "password": "API key, or secret key",
                    },
                    "placeholders": {
                        "host": DEFAULT_BASE_URL,
                        "login": "leave empty when using an API key",
                        "password": "API key (Bearer), or the secret key paired with the access key",
                    },
                },
            }
        ],
    }
