"""Defaults that operators (imported when a DAG file is parsed) share with the models, kept in a
module that imports nothing, so a DAG file does not pay for the models to learn them."""

#: The image-generation model used when a request names none: the default of Kling's
#: ``/v1/images/generations`` page (2026-09), which every host this provider knows still serves
#: (see :data:`airflow_provider_kling.models.capabilities.MODEL_AVAILABILITY`).
DEFAULT_IMAGE_MODEL = "kling-v3"

#: Where image-generation tasks are created, queried and listed: the default ``endpoint`` of every
#: task call. The other endpoints' paths are their request models' ``path``.
GENERATIONS_PATH = "/v1/images/generations"
