"""The batch, fire and forget: every item created at the slots with the receiver's callback_url,
slots freed by recorded callbacks, and not one poll sent to Kling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset
from fastapi import FastAPI

from airflow_provider_kling.callbacks import URL_PREFIX
from airflow_provider_kling.callbacks.receiver import create_receiver_app
from airflow_provider_kling.operators.batch import KlingBatchOperator
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.callback_helpers import SECRET, Connections, Recorder, serve
from tests.unit.task_context import make_context

ASSET = Asset("kling://kling_default/tasks")


class RecordedEvents:
    """The callback asset's events as a task reads them (``inlet_events[asset]``): the receiver's."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.reads = 0

    def __getitem__(self, asset: Any) -> list[Any]:
        assert asset == ASSET
        self.reads += 1
        with self.recorder.lock:
            return [SimpleNamespace(extra=extra) for _, extra in self.recorder.events]


@pytest.fixture
def receiver_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    api_server = FastAPI()
    api_server.mount(
        URL_PREFIX,
        create_receiver_app(
            connections=Connections(kling_default={"webhook_secret": SECRET}), recorder=recorder
        ),
    )
    with serve(api_server) as base_url:
        yield base_url, recorder


@pytest.fixture
def simulator(
    receiver_url: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> Iterator[KlingSimulator]:
    base_url, _ = receiver_url
    with KlingSimulator(latency=0.4, slots=2, webhook_secret=SECRET) as simulator:
        conn = json.loads(simulator.airflow_conn_json())
        conn["extra"] = {"callback_base_url": base_url, "webhook_secret": SECRET}
        monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))
        yield simulator


def test_fire_and_forget_creates_every_item_at_the_slots_without_polling(
    simulator: KlingSimulator, receiver_url: tuple[str, Recorder]
) -> None:
    _, recorder = receiver_url
    operator = KlingBatchOperator(
        task_id="batch",
        requests=[f"catalogue item {n}" for n in range(5)],
        slots=2,
        output_path=None,
        callback_url="receiver",
        wait_for_completion=False,
        poll_interval=0.1,
    )
    events = RecordedEvents(recorder)

    summary = operator.execute(make_context(inlet_events=events))

    counters = simulator.counters(simulator.api_key)
    assert summary["total"] == 5 and counters["creates"] == 5
    assert counters["queries"] == 0  # never asked about a task (the reconcile lists once)
    assert len({item["kling_task_id"] for item in summary["items"]}) == 5
    requests = [task["request"] for task in simulator.tasks()]
    assert {r["callback_url"] for r in requests} == {f"{receiver_url[0]}/kling/callbacks/kling_default"}
    assert events.reads >= 1
    assert operator.inlets == [ASSET]
    # it ended once the last was created: at most the 2 slots' worth were still running then
    assert sum(1 for item in summary["items"] if item["status"] == "running") <= 2


def test_fire_and_forget_needs_a_callback_url(simulator: KlingSimulator) -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    operator = KlingBatchOperator(
        task_id="batch", requests=["a lamp"], slots=2, output_path=None, wait_for_completion=False
    )

    with pytest.raises(AirflowFailException, match="needs a callback_url"):
        operator.execute(make_context(inlet_events=RecordedEvents(Recorder())))
    assert simulator.counters(simulator.api_key)["creates"] == 0


def test_receiver_without_callback_base_url_is_refused_before_any_create(
    kling_connection: KlingSimulator,
) -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    operator = KlingBatchOperator(
        task_id="batch", requests=["a lamp"], slots=2, output_path=None, callback_url="receiver",
        wait_for_completion=False,
    )  # fmt: skip

    with pytest.raises(AirflowFailException, match="'callback_base_url' extra on connection 'kling_default'"):
        operator.execute(make_context(inlet_events=RecordedEvents(Recorder())))
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_the_single_operator_sends_the_receivers_url_and_does_not_wait(
    simulator: KlingSimulator, receiver_url: tuple[str, Recorder]
) -> None:
    from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

    operator = KlingImageGenerationOperator(
        task_id="create", prompt="a lamp", callback_url="receiver:shop-a", wait_for_completion=False
    )

    result = operator.execute(make_context())

    assert result["task_status"] == "submitted"
    (task,) = simulator.tasks()
    assert task["request"]["callback_url"] == f"{receiver_url[0]}/kling/callbacks/kling_default?asset=shop-a"
    assert simulator.counters(simulator.api_key)["queries"] == 0


class FlakyEvents(RecordedEvents):
    """The receiver's events, but the first read fails as a task's does while the api-server restarts."""

    def __getitem__(self, asset: Any) -> list[Any]:
        if self.reads == 0:
            self.reads += 1
            raise RuntimeError("API_SERVER_ERROR")
        return super().__getitem__(asset)


def test_one_failed_read_of_the_callback_events_does_not_fail_the_producer(
    simulator: KlingSimulator, receiver_url: tuple[str, Recorder]
) -> None:
    _, recorder = receiver_url
    operator = KlingBatchOperator(
        task_id="batch",
        requests=[f"catalogue item {n}" for n in range(3)],
        slots=2,
        output_path=None,
        callback_url="receiver",
        wait_for_completion=False,
        poll_interval=0.1,
    )
    events = FlakyEvents(recorder)

    summary = operator.execute(make_context(inlet_events=events))

    assert summary["total"] == 3 and simulator.counters(simulator.api_key)["creates"] == 3
    assert events.reads >= 2  # the failed read, then a read that answered
