"""An operator's arguments are its request class's fields: declared once, on the request model."""

from __future__ import annotations

import importlib

import pytest
from airflow.sdk import DAG

from airflow_provider_kling.get_provider_info import get_provider_info
from airflow_provider_kling.models.requests import REQUEST_KINDS
from airflow_provider_kling.operators.base import KlingTaskOperator
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.operators.video import KlingTextToVideoOperator
from tests.unit.task_context import make_context

OWN = {"callback_url", "external_task_id"}


def kind_operators() -> list[type[KlingTaskOperator]]:
    modules = [module for entry in get_provider_info()["operators"] for module in entry["python-modules"]]
    found = []
    for module in map(importlib.import_module, modules):
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and "request_kind" in vars(value)
            and value.__module__ == module.__name__
        ]
    return found


@pytest.mark.parametrize("operator_class", kind_operators(), ids=lambda cls: cls.__name__)
def test_every_operator_takes_and_templates_every_field_its_request_declares(operator_class) -> None:
    fields = set(REQUEST_KINDS[operator_class.request_kind].model_fields) - OWN
    assert fields <= set(operator_class.request_arguments)  # lip sync adds its scan's arguments
    assert fields | OWN <= set(operator_class.template_fields)


def test_image_generation_takes_the_fields_its_model_accepts_that_it_used_to_lack(kling_connection) -> None:
    with DAG("kling_fields", schedule=None):
        operator = KlingImageGenerationOperator(
            task_id="t", prompt="a cat", element_list=[{"element_id": 7}], watermark_info={"enabled": True}
        )
    request = operator.build_request(make_context())
    assert request.element_list[0].element_id == 7 and request.watermark_info.enabled


def test_an_unknown_argument_is_refused_by_the_operator_naming_it_and_a_missing_field_too() -> None:
    with DAG("kling_fields", schedule=None):
        with pytest.raises(TypeError, match=r"KlingTextToVideoOperator .*\n.*first_frame"):
            KlingTextToVideoOperator(task_id="a", prompt="p", first_frame="https://x/y.png")
        with pytest.raises(TypeError, match=r"missing keyword argument.*'prompt'"):
            KlingTextToVideoOperator(task_id="b")


def test_request_fields_map_with_partial_and_expand_and_come_from_default_args() -> None:
    with DAG("kling_fields", schedule=None, default_args={"model_name": "kling-v2-1"}) as dag:
        KlingImageGenerationOperator.partial(task_id="mapped", n=2).expand(prompt=["a", "b"])
        with pytest.raises(TypeError, match="unexpected keyword argument 'first_frame'"):
            KlingImageGenerationOperator.partial(task_id="other", first_frame="x").expand(prompt=["a"])
        operator = KlingImageGenerationOperator(task_id="single", prompt="a cat")
    assert "mapped" in dag.task_dict
    assert operator.model_name == "kling-v2-1"
