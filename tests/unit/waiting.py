"""Waiting in tests for the event a test needs, never for a fixed time.

A busy machine makes everything slower, not different: each wait polls for its condition and gives up
only after ``PATIENCE`` seconds, far longer than any condition takes on an idle machine. A test that
needs time to pass for the code under test uses a fake clock (``tests.unit.fakes.FakeClock``) or moves
the simulator on itself (``progress="manual"`` and ``advance``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Seconds before a wait gives up: generous, since it is only reached when the test fails anyway.
PATIENCE = 120.0


def wait_until(check: Callable[[], object], what: str = "the condition", timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not met after {timeout:.0f} s"
        time.sleep(0.01)


async def await_until(
    check: Callable[[], object], what: str = "the condition", timeout: float = PATIENCE
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not met after {timeout:.0f} s"
        await asyncio.sleep(0.01)
