"""An operator of your own on the one Kling operator base, and its TaskFlow decorator."""

from __future__ import annotations

from typing import Any

from airflow_provider_kling.decorators.kling import make_kling_task_decorator
from airflow_provider_kling.operators.base import KlingTaskOperator


class KlingHouseTryOnOperator(KlingTaskOperator):
    """Virtual try-on on the house model photo, with the house's try-on model."""

    request_kind = "virtual-try-on"  # a kind of models.requests.REQUEST_KINDS
    request_arguments = ("model_name", "human_image", "cloth_image")  # sent in this order
    template_fields = ("cloth_image", *KlingTaskOperator.template_fields)

    def __init__(
        self,
        *,
        cloth_image: Any,
        human_image: Any = "https://cdn.example.com/house-model.png",
        model_name: str = "kolors-virtual-try-on-v1-5",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # first: the base takes waiting, storage, failure policy ...
        self.cloth_image, self.human_image, self.model_name = cloth_image, human_image, model_name


# @task.house_try_on in your own DAG files: the function returns the cloth_image.
_HouseTryOnDecorated, house_try_on_task = make_kling_task_decorator(KlingHouseTryOnOperator, "house_try_on")
