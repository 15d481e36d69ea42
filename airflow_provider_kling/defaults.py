"""Defaults that operators (imported when a DAG file is parsed) share with the models, kept in a
module that imports nothing, so a DAG file does not pay for the models to learn them."""

#: The image-generation model used when a request names none: the default of Kling's
#: ``/v1/images/generations`` page (2026-09), which every host this provider knows still serves
#: (see :data:`airflow_provider_kling.models.capabilities.MODEL_AVAILABILITY`).
DEFAULT_IMAGE_MODEL = "kling-v3"

#: Where image-generation tasks are created, queried and listed: the default ``endpoint`` of every
#: task call, and ``ImageGenerationRequest``'s path. The other kinds' paths are their request
#: models' ``paths``; each kind's default model is its request model's ``model_name`` default.
GENERATIONS_PATH = "/v1/images/generations"

#: Kling's task lists (``GET <endpoint>?pageNum=&pageSize=``): the largest page and the last page
#: number. The hook refuses more; the listings that read whole pages ask for the largest.
MAX_PAGE_SIZE = 500
MAX_PAGE_NUM = 1000

#: The Airflow connection every hook, operator, sensor and trigger uses when given none.
DEFAULT_CONN_ID = "kling_default"

#: Default of ``on_content_policy``.
DEFAULT_ON_CONTENT_POLICY = "fail"
#: Default of ``max_regenerations``: new Kling tasks after Kling-side failures, per request. Such
#: failures are usually transient; this bounds the spend to 3 tasks per request whatever
#: Airflow's ``retries`` says.
DEFAULT_MAX_REGENERATIONS = 2
#: Default of ``regenerate_expired``: a resumed task whose results are gone fails.
DEFAULT_REGENERATE_EXPIRED = False
#: Seconds between polls of a wait (``lifecycle.poll``), on every operator.
DEFAULT_POLL_INTERVAL = 10.0
#: Seconds a wait lasts: an image task takes about 30 s; 30 minutes leaves room for queueing.
DEFAULT_TIMEOUT = 1800.0
#: Seconds between two "k of N done, m running, ETA" lines of a batch (operator, runner, trigger).
DEFAULT_PROGRESS_INTERVAL = 30.0
#: A batch's own defaults (operator and trigger): seconds between polls, and how long the whole
#: batch may run.
DEFAULT_BATCH_POLL_INTERVAL = 5.0
DEFAULT_BATCH_TIMEOUT = 6 * 3600.0
