"""Shared fakes for the unit tests: a clock the hook and the batch loop take instead of real time."""

from __future__ import annotations

from airflow_provider_kling.hooks.core import Clock


class FakeClock(Clock):
    """Both clocks and both sleeps of :class:`~airflow_provider_kling.hooks.core.Clock`: a sleep
    records the wait and moves time on at once, so no test sleeps; ``time()`` moves with it."""

    def __init__(self, now: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = now
        self.wall_offset = wall - now
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"a negative wait: {seconds}"
        self.waits.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
