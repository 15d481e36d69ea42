"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Kept free of imports so that every ``airflow`` command can read it cheaply.
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://www.kkiai.com/kling"

_INTEGRATION = "Kling"


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
                # The operators of one kind each first: ``kind=`` on a decorator imports them in
                # this order until one declares the kind.
                "python-modules": [
                    "airflow_provider_kling.operators.kling",
                    "airflow_provider_kling.operators.endpoints",
                    "airflow_provider_kling.operators.video",
                    "airflow_provider_kling.operators.effects",
                    "airflow_provider_kling.operators.audio",
                    "airflow_provider_kling.operators.motion",
                    "airflow_provider_kling.operators.avatar",
                    "airflow_provider_kling.operators.lip_sync",
                    "airflow_provider_kling.operators.speech",
                    "airflow_provider_kling.operators.subject",
                    "airflow_provider_kling.operators.batch",
                    "airflow_provider_kling.operators.approval",
                ],
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
