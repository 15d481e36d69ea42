"""Which webhook ids this process has seen: bounded, in memory, kept only as long as a replay could pass.

A signed message carries its timestamp, and a message older than the tolerance is refused
anyway, so an id needs remembering only until ``timestamp + tolerance``: the set holds at most
the ids of the last ten minutes. It is per process: with several api-server workers a replay
that reaches another worker is caught by the recorder's second check (the asset's recent
events, see :mod:`airflow_provider_kling.callbacks.recorder`).
"""

from __future__ import annotations

import heapq
import threading
from enum import Enum

#: At most this many ids are remembered (about 330 callbacks a second for ten minutes); past it a
#: new callback is answered 503 so that the sender retries, rather than an id being forgotten early.
MAX_REMEMBERED_IDS = 200_000


class Claim(Enum):
    NEW = "new"
    #: Recorded (or counted) already: answer 2xx, do nothing.
    DONE = "done"
    #: Another request with this id is being handled right now.
    IN_FLIGHT = "in_flight"
    #: The memory is full of ids that could still be replayed.
    FULL = "full"


class ReplayGuard:
    """Claim an id before handling it; mark it done after, or release it when handling failed."""

    def __init__(self, max_entries: int = MAX_REMEMBERED_IDS) -> None:
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._state: dict[str, tuple[bool, float]] = {}  # id -> (done, forget at)
        self._expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._state)

    def claim(self, key: str, forget_at: float, now: float) -> Claim:
        with self._lock:
            self._forget_expired(now)
            seen = self._state.get(key)
            if seen is not None:
                return Claim.DONE if seen[0] else Claim.IN_FLIGHT
            if len(self._state) >= self._max_entries:
                return Claim.FULL
            self._state[key] = (False, forget_at)
            heapq.heappush(self._expiry, (forget_at, key))
            return Claim.NEW

    def done(self, key: str) -> None:
        with self._lock:
            seen = self._state.get(key)
            if seen is not None:
                self._state[key] = (True, seen[1])

    def release(self, key: str) -> None:
        """Forget a claim whose handling failed, so that the sender's retry is handled again."""
        with self._lock:
            self._state.pop(key, None)  # its heap entry is skipped when it comes due

    def _forget_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            forget_at, key = heapq.heappop(self._expiry)
            seen = self._state.get(key)
            if seen is not None and seen[1] == forget_at:
                del self._state[key]
