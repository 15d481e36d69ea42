"""The task store: indexed lookups, slot counting over running tasks only, eviction past retention."""

from __future__ import annotations

import httpx

from airflow_provider_kling.testing import KlingSimulator, rules
from airflow_provider_kling.testing.store import TaskStore
from airflow_provider_kling.testing.tasks import SimTask


def _task(
    number: int, *, account: str = "acme", created: float = 100.0, latency: float = 10.0, **kw: object
) -> SimTask:
    body = {
        "prompt": f"task {number}",
        "n": 2,
        **({"external_task_id": f"ext-{number}"} if number % 2 else {}),
    }
    return SimTask(
        task_id=str(number),
        owner=f"key-{account}",
        account=account,
        request=rules.validate(body),
        created=created,
        latency=latency,
        **kw,  # type: ignore[arg-type]
    )


def test_finds_tasks_by_id_or_external_id_within_the_account_only() -> None:
    store = TaskStore()
    store.add(_task(1))
    store.add(_task(3, account="other"))

    assert store.find("acme", "1") is store.find("acme", "ext-1") is store.by_id["1"]
    assert store.find("other", "1") is None
    assert store.find("acme", "ext-3") is None
    assert store.has_external("other", "ext-3")


def test_slot_count_drops_ended_tasks_from_the_running_index() -> None:
    store = TaskStore()
    for number in range(1000):
        store.add(_task(number, created=100.0 + number * 0.001, latency=1.0))
    store.add(_task(5000, created=200.0, progress="manual"))

    in_use = store.slots_in_use("acme", now=150.0)

    assert in_use == 2  # only the manual task is still running
    assert store.running("acme") == 1  # the next create looks at one task, not 1001
    assert len(store) == 1001


def test_eviction_forgets_tasks_that_ended_before_the_cutoff_and_frees_their_ids() -> None:
    store = TaskStore()
    old, recent, manual = _task(1, latency=1.0), _task(2, created=500.0), _task(3, progress="manual")
    for task in (old, recent, manual):
        store.add(task)

    assert store.evict_ended_before(400.0) == 1

    assert set(store.by_id) == {"2", "3"}
    assert store.find("acme", "ext-1") is None
    assert not store.has_external("acme", "ext-1")
    assert [t.task_id for t in store.newest_first(account="acme")] == ["3", "2"]


def test_a_manual_task_is_evicted_only_after_it_is_advanced_to_its_end() -> None:
    store = TaskStore()
    task = _task(1, progress="manual")
    store.add(task)
    assert store.evict_ended_before(10_000.0) == 0

    task.advance(now=150.0, to="succeed")
    store.timeline_changed(task)

    assert store.evict_ended_before(10_000.0) == 1
    assert len(store) == 0


def test_simulator_evicts_ended_tasks_past_the_retention(kling_simulator: KlingSimulator) -> None:
    kling_simulator.configure(retention=0.0, progress="immediate")
    headers = {"Authorization": "Bearer test-key"}
    url = f"{kling_simulator.base_url}/v1/images/generations"
    body = {"prompt": "a soak test", "external_task_id": "soak-1"}

    first = httpx.post(url, json=body, headers=headers).json()["data"]["task_id"]
    for _ in range(20):
        httpx.post(url, json={"prompt": "more"}, headers=headers)
    again = httpx.post(url, json=body, headers=headers)

    assert kling_simulator.state.stored_tasks() <= 2
    assert httpx.get(f"{url}/{first}", headers=headers).status_code == 404
    assert again.status_code == 200  # the evicted task's external id is free again
    assert kling_simulator.counters("test-key")["creates"] == 22


def test_tasks_are_kept_for_klings_30_days_by_default(kling_simulator: KlingSimulator) -> None:
    assert kling_simulator.settings.retention == 30 * 86_400
