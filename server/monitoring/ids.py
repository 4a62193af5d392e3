"""Prediction ids: time-ordered, unique across processes and restarts, cheap to issue.

An id is 32 lowercase hex digits: 12 for the arrival time in Unix milliseconds, 8 for a random
per-process node id, 12 for that process's sequence number. Sorting ids sorts by arrival time
(to the millisecond), so the primary key doubles as the arrival-time index that pruning uses.
Two processes differ in their node (2^-32 chance of a clash, and only within one millisecond);
one process never repeats a sequence number. The sequence is also the loss detector: the log
records the highest sequence issued at each flush, so a gap after a crash can be counted.
"""
from __future__ import annotations

import secrets
import threading
import time

SEQUENCE_DIGITS = 12
TIME_DIGITS = 12


def id_floor(unix_s: float) -> str:
    """The smallest id issued at or after `unix_s`: `id < id_floor(t)` means "arrived before t"."""
    return f"{int(unix_s * 1000):0{TIME_DIGITS}x}" + "0" * 20


def id_time(prediction_id: str) -> float:
    """Arrival time (Unix seconds, ms resolution) encoded in an id."""
    return int(prediction_id[:TIME_DIGITS], 16) / 1000.0


class IdIssuer:
    """Issues blocks of consecutive ids for one process (thread-safe)."""

    def __init__(self, node: str | None = None) -> None:
        self.node = node or secrets.token_hex(4)
        self.issued = 0  # next sequence number = how many ids this process has issued
        self._last_ms = 0
        self._prefix = ""
        self._lock = threading.Lock()

    def reserve(self, n: int) -> tuple[str, int]:
        """(prefix, first sequence) of `n` new ids; id k is `prefix + f"{first + k:012x}"`."""
        with self._lock:
            first = self.issued
            self.issued = first + n
            # never step back when the wall clock does: ids stay sorted within the process
            ms = int(time.time() * 1000)
            if ms > self._last_ms or not self._prefix:  # one prefix string per millisecond
                self._last_ms = max(self._last_ms, ms)
                self._prefix = f"{self._last_ms:0{TIME_DIGITS}x}{self.node}"
            return self._prefix, first


def expand(prefix: str, first: int, n: int) -> list[str]:
    """The `n` ids of one reserved block, as strings."""
    return [f"{prefix}{seq:012x}" for seq in range(first, first + n)]
