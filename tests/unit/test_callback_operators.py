"""The results operator stores what callback events announced; the sweep records lost callbacks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from airflow.sdk import Asset

from airflow_provider_kling.callbacks.events import event_extra
from airflow_provider_kling.callbacks.records import parse_callback
from airflow_provider_kling.idempotency import default_external_task_id
from airflow_provider_kling.operators.callbacks import (
    KlingCallbackResultsOperator,
    KlingCallbackSweepOperator,
)
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.task_context import make_context

ASSET = Asset("kling://kling_default/tasks")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def our_id(n: int, namespace: str | None = "shop-a") -> str:
    return default_external_task_id(
        dag_id="d", run_id="r", task_id="t", map_index=n, fingerprint="0123456789ab", namespace=namespace
    )


def create(simulator: KlingSimulator, prompt: str, external_task_id: str | None = None) -> str:
    body: dict[str, Any] = {"model_name": "kling-v1", "prompt": prompt, "n": 2}
    if external_task_id:
        body["external_task_id"] = external_task_id
    answer = httpx.post(
        f"{simulator.base_url}/v1/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {simulator.api_key}"},
    )
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["data"]["task_id"]
    return task_id


def extra_of(simulator: KlingSimulator, task_id: str, webhook_id: str) -> dict[str, Any]:
    """The event the receiver would record for this task, as it is now on the simulator."""
    data = httpx.get(
        f"{simulator.base_url}/v1/images/generations/{task_id}",
        headers={"Authorization": f"Bearer {simulator.api_key}"},
    ).json()["data"]
    return event_extra(
        parse_callback(json.dumps(data).encode()), conn_id="kling_default", webhook_id=webhook_id
    )


class ByAsset(dict):  # type: ignore[type-arg]
    """A mapping of the callback asset's events (by URI: an ``Asset`` is not hashable on Airflow 3.1)."""

    def __getitem__(self, asset: Any) -> Any:
        assert asset.uri == ASSET.uri
        return super().__getitem__(asset.uri)


def by_asset(events: Any) -> ByAsset:
    return ByAsset({ASSET.uri: events})


class Outlets:
    """``outlet_events``: every alias's accessor is ``alias`` (an ``AssetAlias`` is not hashable on 3.1)."""

    def __init__(self, alias: Any) -> None:
        self.alias = alias

    def __getitem__(self, key: Any) -> Any:
        return self.alias


class Alias:
    """Records ``outlet_events[alias].add(asset, extra=...)``."""

    def __init__(self) -> None:
        self.added: list[tuple[Any, dict[str, Any]]] = []

    def add(self, asset: Any, extra: dict[str, Any] | None = None) -> None:
        self.added.append((asset, extra or {}))


@pytest.fixture
def immediate(kling_connection: KlingSimulator) -> KlingSimulator:
    kling_connection.configure(progress="immediate")
    return kling_connection


def test_results_operator_stores_each_image_once_and_writes_the_manifest(
    immediate: KlingSimulator, tmp_path: Path
) -> None:
    ours = create(immediate, "a lamp", our_id(1))
    failed = create(immediate, "a lamp #fail", our_id(2))
    theirs = create(immediate, "a vase", our_id(3, namespace="other"))
    events = [
        SimpleNamespace(extra=extra_of(immediate, task_id, f"m{n}"))
        for n, task_id in enumerate((ours, failed, theirs))
    ]
    operator = KlingCallbackResultsOperator(
        task_id="store_results", output_path=str(tmp_path), namespace="shop-a"
    )

    summary = operator.execute(make_context(triggering_asset_events=by_asset(events)))

    stored = sorted(tmp_path.rglob("*.png"))
    assert [path.name for path in stored] == [f"store_results_{ours}_0.png", f"store_results_{ours}_1.png"]
    assert all(path.read_bytes().startswith(PNG_MAGIC) for path in stored)
    assert (summary["total"], summary["files_stored"], summary["other_pipelines"]) == (2, 2, 1)
    assert summary["counts"] == {"succeed": 1, "failed": 1}
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    rows = {row["kling_task_id"]: row for row in manifest["tasks"]}
    assert set(rows) == {ours, failed}
    assert rows[ours]["fingerprint"] == "0123456789ab" and rows[ours]["namespace"] == "shop-a"
    assert [Path(f).name for f in rows[ours]["files"]] == [p.name for p in stored]
    assert rows[failed]["files"] == [] and rows[failed]["status_message"]


def test_results_operator_run_again_keeps_what_was_stored(immediate: KlingSimulator, tmp_path: Path) -> None:
    task_id = create(immediate, "a lamp", our_id(1))
    events = [SimpleNamespace(extra=extra_of(immediate, task_id, "m1"))] * 2  # one task, two events
    operator = KlingCallbackResultsOperator(task_id="store_results", output_path=str(tmp_path))

    operator.execute(make_context(triggering_asset_events=by_asset(events)))
    images_after_first = immediate.counters(immediate.api_key)["images"]
    summary = operator.execute(make_context(triggering_asset_events=by_asset(events)))

    assert summary["total"] == 1
    assert immediate.counters(immediate.api_key)["images"] == images_after_first == 2


def test_the_sweep_records_our_ended_tasks_without_an_event_and_reports_open_ones(
    kling_connection: KlingSimulator,
) -> None:
    kling_connection.configure(progress="immediate")
    recorded = create(kling_connection, "a lamp", our_id(1))
    lost = create(kling_connection, "a teapot", our_id(2))
    lost_failed = create(kling_connection, "a vase #fail", our_id(3))
    create(kling_connection, "a chair", our_id(4, namespace="other"))  # another pipeline's
    create(kling_connection, "a desk", "my-own-id")  # not made by this provider
    kling_connection.configure(progress="manual")
    running = create(kling_connection, "a sneaker", our_id(5))
    alias = Alias()
    operator = KlingCallbackSweepOperator(
        task_id="sweep", namespace="shop-a", grace=timedelta(0), deadline=timedelta(0)
    )
    context = make_context(
        inlet_events=by_asset([SimpleNamespace(extra=extra_of(kling_connection, recorded, "m1"))]),
        outlet_events=Outlets(alias),
    )

    summary = operator.execute(context)

    assert summary["ours"] == 4 and summary["recorded_before"] == 1
    assert sorted(summary["recovered"]) == sorted([lost, lost_failed])
    assert summary["still_open"] == [running]
    assert {extra["kling_task_id"]: extra["status"] for _, extra in alias.added} == {
        lost: "succeed",
        lost_failed: "failed",
    }
    asset, extra = next(item for item in alias.added if item[1]["kling_task_id"] == lost)
    assert asset == ASSET
    assert extra["webhook_id"] == f"sweep_{lost}" and extra["body_shape"] == "query"
    assert len(extra["image_urls"]) == 2 and extra["fingerprint"] == "0123456789ab"
    assert operator.inlets == [ASSET]


def test_the_sweep_waits_out_the_grace_period(kling_connection: KlingSimulator) -> None:
    kling_connection.configure(progress="immediate")
    create(kling_connection, "a lamp", our_id(1))
    alias = Alias()
    operator = KlingCallbackSweepOperator(task_id="sweep", grace=timedelta(minutes=10))

    summary = operator.execute(make_context(inlet_events=by_asset([]), outlet_events=Outlets(alias)))

    assert summary["recovered"] == [] and alias.added == []


class Events(list):  # type: ignore[type-arg]
    """Stands in for the lazy inlet events accessor of newer Airflow (``after`` filters by time)."""

    def after(self, after: str) -> list[Any]:
        from datetime import datetime

        return [event for event in self if event.timestamp >= datetime.fromisoformat(after)]


def test_results_operator_catches_up_on_an_event_no_run_consumed(
    immediate: KlingSimulator, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    first, stranded, other_run = (create(immediate, f"lamp {n}", our_id(n)) for n in range(3))
    at = [datetime(2026, 12, 3, 8, 0, second, tzinfo=UTC) for second in range(4)]

    operator = KlingCallbackResultsOperator(task_id="store_results", output_path=str(tmp_path))

    def event(task_id: str, when: datetime, consumed_by: list[str]) -> SimpleNamespace:
        runs = [SimpleNamespace(dag_id=operator.dag_id, run_id=run_id) for run_id in consumed_by]
        return SimpleNamespace(
            extra=extra_of(immediate, task_id, f"m_{task_id}"), timestamp=when, created_dagruns=runs
        )

    this_run = "manual__2026-11-25T00:00:00+00:00"
    triggering = [event(first, at[0], [this_run])]
    asset_events = Events(
        [*triggering, event(stranded, at[1], []), event(other_run, at[2], ["asset_triggered__later"])]
    )

    summary = operator.execute(
        make_context(triggering_asset_events=by_asset(triggering), inlet_events=by_asset(asset_events))
    )

    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert {row["kling_task_id"] for row in manifest["tasks"]} == {first, stranded}


def test_results_store_a_video_tasks_videos_verified(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kling.callbacks.results import store_callback_results
    from airflow_provider_kling.lifecycle.results import OutputNames

    mp4 = (24).to_bytes(4, "big") + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2" + b"\x00" * 64
    extra = {
        "kling_task_id": "77",
        "status": "succeed",
        "image_urls": [],
        "video_urls": ["https://cdn.example/77.mp4", "https://cdn.example/not-a-video"],
    }
    fetched: list[str] = []

    def fetch_video(url: str) -> list[bytes]:
        fetched.append(url)
        return [mp4] if url.endswith(".mp4") else [b"<html>gone</html>"]

    summary = store_callback_results(
        [extra],
        ObjectStoragePath(f"file://{tmp_path}"),
        hook=SimpleNamespace(iter_image_bytes=lambda url: [], iter_video_bytes=fetch_video),
        names=OutputNames("d", "r", "store_results"),
        log=__import__("logging").getLogger("test"),
    )

    assert [p.name for p in tmp_path.rglob("*.mp4")] == ["store_results_77_0.mp4"]
    assert summary["files_stored"] == 1 and summary["storage_errors"] == ["77"]
    assert fetched == extra["video_urls"]


def test_results_operator_catches_up_from_a_plain_list_of_events_as_airflow_3_1_gives(
    immediate: KlingSimulator, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    first, stranded, older = (create(immediate, f"vase {n}", our_id(10 + n)) for n in range(3))
    at = [datetime(2026, 12, 3, 8, 0, second, tzinfo=UTC) for second in range(3)]
    operator = KlingCallbackResultsOperator(task_id="store_results", output_path=str(tmp_path))

    def event(task_id: str, when: datetime) -> SimpleNamespace:
        return SimpleNamespace(
            extra=extra_of(immediate, task_id, f"m_{task_id}"), timestamp=when, created_dagruns=[]
        )

    triggering = [event(first, at[1])]
    history = [event(older, at[0]), *triggering, event(stranded, at[2])]  # a list: no after()

    summary = operator.execute(
        make_context(triggering_asset_events=by_asset(triggering), inlet_events=by_asset(history))
    )

    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert {row["kling_task_id"] for row in manifest["tasks"]} == {first, stranded}


def test_an_event_caught_up_by_one_run_is_not_stored_again_by_the_run_it_queued(
    immediate: KlingSimulator, tmp_path: Path
) -> None:
    """Run 1 catches up an event that also queued run 2 (no run consumed it yet); run 2 finds it stored."""
    from datetime import UTC, datetime

    from tests.unit.task_context import RecordingTaskInstance

    first, queued = (create(immediate, f"jar {n}", our_id(20 + n)) for n in range(2))
    at = [datetime(2026, 12, 3, 8, 0, second, tzinfo=UTC) for second in range(2)]
    operator = KlingCallbackResultsOperator(task_id="store_results", output_path=str(tmp_path))

    def event(task_id: str, when: datetime) -> SimpleNamespace:
        return SimpleNamespace(
            extra=extra_of(immediate, task_id, f"m_{task_id}"), timestamp=when, created_dagruns=[]
        )

    run_1 = [event(first, at[0])]
    run_2 = [event(queued, at[1])]
    operator.execute(
        make_context(
            RecordingTaskInstance(run_id="asset_triggered__1"),
            triggering_asset_events=by_asset(run_1),
            inlet_events=by_asset(Events(run_1 + run_2)),
        )
    )
    downloads = immediate.counters(immediate.api_key)["images"]
    summary = operator.execute(
        make_context(
            RecordingTaskInstance(run_id="asset_triggered__2"),
            triggering_asset_events=by_asset(run_2),
            inlet_events=by_asset(Events(run_1 + run_2)),
        )
    )

    assert immediate.counters(immediate.api_key)["images"] == downloads == 4
    assert sorted(path.parent.name for path in tmp_path.rglob("*.png")) == ["asset_triggered__1"] * 4
    assert summary["already_stored"] == 1 and summary["files_stored"] == 2
    assert operator.max_active_tis_per_dag == 1  # two runs never store at once
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert [row["stored_by"] for row in manifest["tasks"]] == ["asset_triggered__1"]


def test_the_sweep_records_again_a_task_whose_event_only_failed_runs_consumed(
    kling_connection: KlingSimulator,
) -> None:
    kling_connection.configure(progress="immediate")
    lost, stored, queued = (create(kling_connection, f"a mug {n}", our_id(30 + n)) for n in range(3))

    def event(task_id: str, *states: str) -> SimpleNamespace:
        runs = [SimpleNamespace(dag_id="consumer", run_id=f"r{n}", state=s) for n, s in enumerate(states)]
        return SimpleNamespace(
            extra=extra_of(kling_connection, task_id, f"m_{task_id}"), created_dagruns=runs
        )

    alias = Alias()
    operator = KlingCallbackSweepOperator(task_id="sweep", grace=timedelta(0))
    events = [event(lost, "failed"), event(stored, "failed", "success"), event(queued)]

    summary = operator.execute(make_context(inlet_events=by_asset(events), outlet_events=Outlets(alias)))

    assert summary["recovered"] == [lost]
    assert [extra["kling_task_id"] for _, extra in alias.added] == [lost]
