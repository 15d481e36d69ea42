"""A minimal Airflow task context for running operators without a database or a scheduler."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingTaskInstance:
    """Stands in for the runtime task instance: records XCom pushes."""

    dag_id: str = "kling_test_dag"
    task_id: str = "generate"
    run_id: str = "manual__2026-11-25T00:00:00+00:00"
    map_index: int = -1
    try_number: int = 1
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@dataclass
class DictTaskStateStore:
    """Stands in for Airflow 3.3's task state store (kept across tries of one task instance)."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = value


def make_context(ti: RecordingTaskInstance | None = None, **extra: Any) -> dict[str, Any]:
    ti = ti or RecordingTaskInstance()
    return {"ti": ti, "run_id": ti.run_id, "ds": "2026-11-25", **extra}


async def first_trigger_event(trigger: Any) -> Any:
    """A trigger's first event, its generator closed inside the loop (no warning at interpreter exit)."""
    events = trigger.run()
    try:
        return await events.__anext__()
    finally:
        await events.aclose()


def run_trigger(trigger: Any) -> dict[str, Any]:
    """The first event a trigger yields, run to the end on a fresh event loop."""

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger yielded no event")

    return asyncio.run(first_event())
