"""The modules an operator needs only when its task runs, each imported on its first use.

They cost tens of ms (pydantic request models, HTTP clients) or a few (the lifecycle, storage): a DAG
file that only builds operators does not load them. Operators and sensors reach them through these.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_kling.hooks.kling import KlingHook


@cache
def running() -> Any:
    """The lifecycle's steps, idempotency, storage, spend and assets: what a task's run uses."""
    from airflow_provider_kling import (  # ~3 ms: not at DAG parse
        assets,
        idempotency,
        spend,
        spend_reconcile,
        storage,
    )
    from airflow_provider_kling.lifecycle import policy, poll, request, results  # ~3 ms: not at DAG parse

    return SimpleNamespace(
        assets=assets,
        idempotency=idempotency,
        spend=spend,
        spend_reconcile=spend_reconcile,
        storage=storage,
        policy=policy,
        poll=poll,
        request=request,
        results=results,
    )


def kling_hook(kling_conn_id: str) -> KlingHook:
    """The hook of ``kling_conn_id`` (what every operator's and sensor's ``hook`` is)."""
    from airflow_provider_kling.hooks.kling import KlingHook  # HTTP clients, ~30 ms: not at DAG parse

    return KlingHook(kling_conn_id)


def request_models() -> ModuleType:
    """``models.requests``: the request schema of every kind."""
    from airflow_provider_kling.models import requests  # pydantic schemas, ~50 ms: not at DAG parse

    return requests


def image_inputs() -> ModuleType:
    """``image_inputs``: reads the images named in your storage into a request."""
    from airflow_provider_kling import image_inputs  # ~2 ms, needed only with a request: not at DAG parse

    return image_inputs


def wire() -> ModuleType:
    """``hooks.wire``: the routes of the endpoints."""
    from airflow_provider_kling.hooks import wire  # loads the request models, ~50 ms: not at DAG parse

    return wire


def estimates() -> ModuleType:
    """``estimates``: price tables and the unit estimator."""
    from airflow_provider_kling import estimates  # loads the request models, ~50 ms: not at DAG parse

    return estimates


def callback_events() -> ModuleType:
    """``callbacks.events``: the callback asset and the receiver's URL."""
    from airflow_provider_kling.callbacks import events  # pydantic task model, ~15 ms: not at DAG parse

    return events


def task_triggers() -> ModuleType:
    """``triggers.kling``: the trigger that polls one task, and its events."""
    from airflow_provider_kling.triggers import kling  # loads the hook, ~80 ms: not at DAG parse

    return kling


@cache
def batching() -> Any:
    """The batch's admission, rows, runner, manifest and trigger: what a batch's run uses."""
    from airflow_provider_kling.batch import (  # request models, ~80 ms: not at DAG parse
        admission,
        items,
        manifest,
        runner,
    )
    from airflow_provider_kling.triggers import batch as trigger  # the hook, ~30 ms: not at DAG parse

    return SimpleNamespace(
        admission=admission, items=items, manifest=manifest, runner=runner, trigger=trigger
    )


def resource_models() -> ModuleType:
    """``models.resources``: custom voices and elements."""
    from airflow_provider_kling.models import resources  # pydantic models, ~50 ms: not at DAG parse

    return resources
