"""Where tasks live: indexed so that no create, query or list scans every stored task.

- by task id; by ``(account, external_task_id)``; per account and per key in creation order;
- per account, the tasks that may still hold slots (pruned as they end), so counting the slots in
  use costs the number of running tasks, not of stored ones;
- a heap of end times, so ended tasks past the retention (Kling keeps tasks 30 days; the setting
  ``retention`` scales it) are evicted as time passes and a long soak does not grow without bound.

Not thread-safe: :class:`~airflow_provider_kling.testing.state.SimulatorState`'s lock guards it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator

from airflow_provider_kling.testing.tasks import SimTask


class TaskStore:
    def __init__(self) -> None:
        self.by_id: dict[str, SimTask] = {}
        self._by_external: dict[tuple[str, str], SimTask] = {}
        self._by_account: dict[str, dict[str, SimTask]] = {}
        self._by_owner: dict[str, dict[str, SimTask]] = {}
        self._running: dict[str, dict[str, SimTask]] = {}
        self._ends: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, task: SimTask) -> None:
        self.by_id[task.task_id] = task
        if task.external_task_id is not None:
            self._by_external[(task.account, task.external_task_id)] = task
        self._by_account.setdefault(task.account, {})[task.task_id] = task
        self._by_owner.setdefault(task.owner, {})[task.task_id] = task
        self._running.setdefault(task.account, {})[task.task_id] = task
        self.timeline_changed(task)

    def timeline_changed(self, task: SimTask) -> None:
        """Note the task's end time (known at creation for timed tasks, on advance for manual ones)."""
        if task.ends_at is not None:
            heapq.heappush(self._ends, (task.ends_at, task.task_id))
        elif task.task_id in self.by_id:
            self._running.setdefault(task.account, {})[task.task_id] = task

    def owners(self) -> list[str]:
        """Every key that has a stored task."""
        return list(self._by_owner)

    def has_external(self, account: str, external_task_id: str) -> bool:
        return (account, external_task_id) in self._by_external

    def find(self, account: str, task_or_external_id: str) -> SimTask | None:
        """The account's task by Kling task id, else by its external task id."""
        task = self.by_id.get(task_or_external_id)
        if task is not None and task.account == account:
            return task
        return self._by_external.get((account, task_or_external_id))

    def slots_in_use(self, account: str, now: float) -> int:
        running = self._running.get(account, {})
        for task_id in [tid for tid, task in running.items() if not task.holds_slots_at(now)]:
            del running[task_id]
        return sum(task.request.n for task in running.values())

    def running(self, account: str) -> int:
        """How many tasks the account's slot count still looks at (pruned by :meth:`slots_in_use`)."""
        return len(self._running.get(account, {}))

    def newest_first(
        self, account: str | None = None, owners: Iterable[str] | None = None
    ) -> Iterator[SimTask]:
        """Tasks newest first: all, one account's, or those of some keys."""
        if owners is not None:
            chosen = [self._by_owner.get(owner, {}) for owner in owners]
            if len(chosen) == 1:
                return reversed(chosen[0].values())
            merged = sorted(itertools.chain(*(c.values() for c in chosen)), key=lambda t: t.created)
            return reversed(merged)
        source = self.by_id if account is None else self._by_account.get(account, {})
        return reversed(source.values())

    def evict_ended_before(self, cutoff: float) -> int:
        """Forget tasks that ended before ``cutoff``; how many were forgotten."""
        evicted = 0
        while self._ends and self._ends[0][0] < cutoff:
            ended, task_id = heapq.heappop(self._ends)
            task = self.by_id.get(task_id)
            if task is None or task.ends_at != ended:
                continue  # already gone, or its timeline changed since this entry was pushed
            self._remove(task)
            evicted += 1
        return evicted

    def _remove(self, task: SimTask) -> None:
        del self.by_id[task.task_id]
        if task.external_task_id is not None:
            self._by_external.pop((task.account, task.external_task_id), None)
        for index, key in ((self._by_account, task.account), (self._by_owner, task.owner)):
            tasks = index.get(key, {})
            tasks.pop(task.task_id, None)
            if not tasks:
                index.pop(key, None)
        self._running.get(task.account, {}).pop(task.task_id, None)

    def clear(self) -> None:
        for index in (self.by_id, self._by_external, self._by_account, self._by_owner, self._running):
            index.clear()
        self._ends.clear()
