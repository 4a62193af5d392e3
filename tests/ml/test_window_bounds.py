"""Item 1: the online window state is bounded as a whole, measured on the structures themselves."""
from __future__ import annotations

import gc
import sys

from server.ml.windows import WindowState

MAX_KEYS, MAX_ENTRIES = 100, 1_000
# Generous per-object costs (CPython 3.11+, 64-bit): a bucket is 3 ints and 3 list slots.
BUCKET_BYTES, KEY_BYTES, FIXED_BYTES = 160, 2_000, 64_000


def deep_size(root: object) -> int:
    """Bytes of every object reachable from root (each counted once; classes and modules skipped)."""
    seen, stack, total = set(), [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type) or type(obj).__name__ in ("module", "function"):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def bound() -> int:
    return BUCKET_BYTES * MAX_ENTRIES + KEY_BYTES * MAX_KEYS + FIXED_BYTES


def flow(t: int, src: str = "10.0.0.1", dst: str = "10.1.0.1", nbytes: int = 1500) -> dict:
    return {"timestamp_seconds": t, "bytes_sent": nbytes, "source_ip": src, "dest_ip": dst}


def test_one_key_one_timestamp_500k_times_stays_tiny():
    """500k flows of one key at one second: two keys, two buckets, and the counts still exact."""
    state = WindowState((60, 600), 24, MAX_KEYS, max_entries=MAX_ENTRIES)
    record = flow(1_700_000_000)
    for _ in range(500_000):
        last = state.update(record)
    assert last["src_flows_60s"] == 500_000.0 and last["src_bytes_600s"] == 500_000.0 * 1500
    assert len(state) == 2
    assert deep_size(state) < bound(), "the measured state exceeds the configured bound"


def test_many_keys_and_seconds_stay_under_both_bounds():
    """Distinct sources, subnets and seconds far beyond the bounds: keys and buckets are capped."""
    state = WindowState((60, 600), 24, MAX_KEYS, max_entries=MAX_ENTRIES)
    for i in range(60_000):
        state.update(flow(1_700_000_000 + i // 3, src=f"10.{i % 200}.{i % 7}.1", dst=f"172.16.{i % 150}.9"))
        keys, buckets = state.size()
        assert keys <= MAX_KEYS and buckets <= MAX_ENTRIES
    assert state.entries == state.size()[1], "the running count agrees with the structures"
    assert deep_size(state) < bound()


def test_one_busy_key_keeps_at_most_one_bucket_per_second_of_its_longest_window():
    """A key seen every second keeps max(windows_s) buckets, not one per flow."""
    state = WindowState((60, 600), 24, MAX_KEYS, max_entries=10_000)
    for t in range(5_000):
        for _ in range(3):
            state.update(flow(1_700_000_000 + t))
    assert state.size() == (2, 2 * 600)
    assert state.update(flow(1_700_004_999))["src_flows_600s"] == 3 * 600 + 1


def test_late_flows_join_the_newest_bucket():
    """An out-of-order flow neither grows the state nor rewinds the window."""
    state = WindowState((60,), 24, MAX_KEYS, max_entries=MAX_ENTRIES)
    state.update(flow(1000))
    state.update(flow(1100))
    late = state.update(flow(900))
    assert late["src_flows_60s"] == 2.0, "counted with the key's latest second, like the flow at 1100"
    assert state.size() == (2, 2)
