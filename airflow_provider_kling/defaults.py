"""Defaults that operators (imported when a DAG file is parsed) share with the models, kept in a
module that imports nothing, so a DAG file does not pay for the models to learn them."""

#: The image-generation model used when a request names none: the default of Kling's
#: ``/v1/images/generations`` page (2026-09), which every host this provider knows still serves
#: (see :data:`airflow_provider_kling.models.capabilities.MODEL_AVAILABILITY`).
DEFAULT_IMAGE_MODEL = "kling-v3"

#: Where image-generation tasks are created, queried and listed: the default ``endpoint`` of every
#: task call. The other endpoints' paths are their request models' ``path``.
GENERATIONS_PATH = "/v1/images/generations"

#: Each other kind's model when a request names none. The operators' ``model_name`` defaults,
#: the request models' and the spend estimate's read these.
DEFAULT_OMNI_IMAGE_MODEL = "kling-image-o1"
DEFAULT_MULTI_IMAGE_MODEL = "kling-v2"
DEFAULT_TRY_ON_MODEL = "kolors-virtual-try-on-v1"
DEFAULT_VIDEO_MODEL = "kling-v2-6"  # text to video and image to video
DEFAULT_MULTI_IMAGE_VIDEO_MODEL = "kling-v1-6"
DEFAULT_OMNI_VIDEO_MODEL = "kling-video-o1"
#: The new-style API's video operators' defaults (``/text-to-video/{model}`` and the like).
DEFAULT_NEW_STYLE_VIDEO_MODEL = "kling-3.0"
DEFAULT_NEW_STYLE_OMNI_MODEL = "kling-3.0-omni"

#: Kling's task lists (``GET <endpoint>?pageNum=&pageSize=``): the largest page and the last page
#: number. The hook refuses more; the listings that read whole pages ask for the largest.
MAX_PAGE_SIZE = 500
MAX_PAGE_NUM = 1000

#: The Airflow connection every hook, operator, sensor and trigger uses when given none.
DEFAULT_CONN_ID = "kling_default"
