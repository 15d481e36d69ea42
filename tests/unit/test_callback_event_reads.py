"""A task's read of the callback events survives a transient error (an api-server restarting)."""

from __future__ import annotations

import pytest

from airflow_provider_kling.callbacks.events import reading_again


class FlakyRead:
    """Fails ``failures`` times with ``error``, then answers the events."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> list[str]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return ["event"]


def test_a_read_that_fails_once_is_read_again() -> None:
    waits: list[float] = []
    read = FlakyRead(2, RuntimeError("API_SERVER_ERROR"))

    assert reading_again(read, attempts=4, delay=2.0, sleep=waits.append)() == ["event"]
    assert read.calls == 3 and waits == [2.0, 4.0]


def test_a_read_that_keeps_failing_raises_the_last_error() -> None:
    waits: list[float] = []
    read = FlakyRead(9, RuntimeError("API_SERVER_ERROR"))

    with pytest.raises(RuntimeError, match="API_SERVER_ERROR"):
        reading_again(read, attempts=3, sleep=waits.append)()
    assert read.calls == 3 and len(waits) == 2


def test_a_read_the_caller_got_wrong_is_not_read_again() -> None:
    read = FlakyRead(1, KeyError("no such inlet"))

    with pytest.raises(KeyError):
        reading_again(read, sleep=lambda _: None)()
    assert read.calls == 1
