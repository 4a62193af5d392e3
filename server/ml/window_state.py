"""The online side of the trailing-window aggregates: bounded state, exact for in-order flows.

Each key (a source address, a destination subnet) keeps one bucket per distinct second it was
seen in, holding the flows and the exact integer bytes of that second, for the longest window
only; each window keeps a pointer to its first live bucket and running sums. Timestamps are
whole seconds, so a bucket per second loses nothing: the answers equal `compute_aggregates` for
flows in time order. Memory is bounded as a whole, whatever clients send:

- per key: at most max(windows_s) buckets (a repeated timestamp adds to its bucket, never a row);
- in total: at most `max_entries` buckets and `max_keys` keys; past either, the least recently
  seen key goes. That only changes answers when a key still inside its window is dropped, which
  cannot happen while twice the flows of any 2 x max(windows_s) seconds fit both bounds
  (`evicted_live` counts it when it does).

A flow older than its key's newest bucket (out of order) joins that bucket: it is counted as
seen at the key's latest second, so late data can neither grow the state nor rewind a window.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import lru_cache

from .iputil import parse_ip, subnet_key
from .schema import BYTES_SENT, DEST_IP, SOURCE_IP, TIMESTAMP

DEFAULT_MAX_ENTRIES = 200_000
_COMPACT_AT = 64  # dead buckets a key tolerates at the front of its lists before compacting


@lru_cache(maxsize=131_072)
def source_key(text: str) -> tuple:
    """The window key of a source address (cached: the hot path builds no tuple per flow)."""
    return ("src",) + parse_ip(text)


@lru_cache(maxsize=131_072)
def subnet_window_key(text: str, prefix_v4: int, prefix_v6: int) -> tuple:
    """The window key of a destination address's subnet."""
    return ("dst",) + subnet_key(text, prefix_v4, prefix_v6)


class _KeyBuckets:
    """One key's per-second buckets and, per window, its first live bucket and running sums."""

    __slots__ = ("ts", "flows", "sizes", "first", "count", "total", "last_seen")

    def __init__(self, n_windows: int) -> None:
        self.ts: list[int] = []
        self.flows: list[int] = []
        self.sizes: list[int] = []
        self.first = [0] * n_windows
        self.count = [0] * n_windows
        self.total = [0] * n_windows
        self.last_seen = 0

    def live(self, longest: int) -> int:
        """Buckets still inside the longest window."""
        return len(self.ts) - self.first[longest]


class WindowState:
    """Bounded online state producing the same aggregates as compute_aggregates."""

    def __init__(self, windows_s: Sequence[int], subnet_prefix: int, max_keys: int, subnet_prefix_v6: int = 64,
                 max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.windows_s = tuple(int(w) for w in windows_s)
        self.subnet_prefix = subnet_prefix
        self.subnet_prefix_v6 = subnet_prefix_v6
        self.max_keys = max_keys
        self.max_entries = max_entries
        self.entries = 0        # live buckets over all keys
        self.evicted_live = 0   # keys dropped while still inside their window (answers changed)
        self.horizon = max(self.windows_s)
        self._longest = self.windows_s.index(self.horizon)
        self._per_key = max(1, max_entries // 2)  # src and dst of one flow must fit together
        self._keys: OrderedDict[tuple, _KeyBuckets] = OrderedDict()
        self._windows = tuple(enumerate(self.windows_s))
        self.width = 4 * len(self.windows_s)

    def __len__(self) -> int:
        return len(self._keys)

    # -- the hot path: keys and numbers in, aggregates written into `out` ----------------------

    def keys_for(self, source_ip: str, dest_ip: str) -> tuple[tuple, tuple]:
        """The (source, subnet) window keys of one flow; ValueError on an invalid address."""
        return source_key(source_ip), subnet_window_key(dest_ip, self.subnet_prefix, self.subnet_prefix_v6)

    def observe(self, t: int, nbytes: int, src: tuple, dst: tuple, out: list, at: int = 0) -> None:
        """Count one flow and write its aggregates (canonical order) into out[at:at + width]."""
        self._add(self._slot(src), t, nbytes, out, at)
        self._add(self._slot(dst), t, nbytes, out, at + 2)
        self._bound()

    def look(self, t: int, nbytes: int, src: tuple, dst: tuple, out: list, at: int = 0) -> None:
        """What `observe` would write, leaving the state untouched."""
        self._peek(self._keys.get(src), t, nbytes, out, at)
        self._peek(self._keys.get(dst), t, nbytes, out, at + 2)

    def _slot(self, key: tuple) -> _KeyBuckets:
        slot = self._keys.get(key)
        if slot is None:
            slot = self._keys[key] = _KeyBuckets(len(self.windows_s))
        else:
            self._keys.move_to_end(key)
        return slot

    def _add(self, slot: _KeyBuckets, t: int, nbytes: int, out: list, at: int) -> None:
        ts, flows, sizes = slot.ts, slot.flows, slot.sizes
        if ts and ts[-1] >= t:  # the same second (or a late flow): into the newest bucket
            t = ts[-1]
            flows[-1] += 1
            sizes[-1] += nbytes
        else:
            ts.append(t)
            flows.append(1)
            sizes.append(nbytes)
            self.entries += 1
        slot.last_seen = t
        first, count, total = slot.first, slot.count, slot.total
        dead_before = first[self._longest]
        for i, w in self._windows:
            p, n, b = first[i], count[i] + 1, total[i] + nbytes
            cutoff = t - w
            while ts[p] <= cutoff:
                n -= flows[p]
                b -= sizes[p]
                p += 1
            first[i], count[i], total[i] = p, n, b
            j = at + 4 * i
            out[j] = float(n)
            out[j + 1] = float(b)
        self.entries -= first[self._longest] - dead_before
        self._expire_front(slot)

    def _expire_front(self, slot: _KeyBuckets) -> None:
        """Cap the key's live buckets; compact the dead ones off the front now and then."""
        live = slot.live(self._longest)
        if live > self._per_key:  # only with a bound smaller than the longest window
            self._drop_oldest(slot, live - self._per_key)
        dead = slot.first[self._longest]
        if dead >= _COMPACT_AT and 2 * dead >= len(slot.ts):
            del slot.ts[:dead], slot.flows[:dead], slot.sizes[:dead]
            slot.first = [p - dead for p in slot.first]

    def _drop_oldest(self, slot: _KeyBuckets, k: int) -> None:
        self.evicted_live += 1
        for i in range(len(self.windows_s)):
            while slot.first[i] < len(slot.ts) - self._per_key:
                p = slot.first[i]
                slot.count[i] -= slot.flows[p]
                slot.total[i] -= slot.sizes[p]
                slot.first[i] = p + 1
        self.entries -= k

    def _bound(self) -> None:
        keys = self._keys
        while (len(keys) > self.max_keys or self.entries > self.max_entries) and len(keys) > 2:
            _, slot = keys.popitem(last=False)  # least recently seen first
            self.entries -= slot.live(self._longest)
            if slot.ts and slot.last_seen > self._newest() - self.horizon:
                self.evicted_live += 1

    def _newest(self) -> int:
        return next(reversed(self._keys.values())).last_seen

    def _peek(self, slot: _KeyBuckets | None, t: int, nbytes: int, out: list, at: int) -> None:
        if slot is None or not slot.ts:
            for i, _ in self._windows:
                out[at + 4 * i] = 1.0
                out[at + 4 * i + 1] = float(nbytes)
            return
        ts, flows, sizes = slot.ts, slot.flows, slot.sizes
        t = max(t, ts[-1])
        for i, w in self._windows:
            p, n, b = slot.first[i], slot.count[i] + 1, slot.total[i] + nbytes
            cutoff = t - w
            while p < len(ts) and ts[p] <= cutoff:
                n -= flows[p]
                b -= sizes[p]
                p += 1
            out[at + 4 * i] = float(n)
            out[at + 4 * i + 1] = float(b)

    # -- record-dict interface (tests, bulk scoring, benchmarks) --------------------------------

    def _unpack(self, record: Mapping[str, object]) -> tuple[int, int, tuple, tuple]:
        t = int(record[TIMESTAMP])  # type: ignore[call-overload]
        nbytes = int(float(record[BYTES_SENT]))  # type: ignore[arg-type]
        src, dst = self.keys_for(str(record[SOURCE_IP]), str(record[DEST_IP]))
        return t, nbytes, src, dst

    def _named(self, values: list) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, w in self._windows:
            sc, sb, dc, db = values[4 * i:4 * i + 4]
            out[f"src_flows_{w}s"], out[f"src_bytes_{w}s"] = sc, sb
            out[f"dst_subnet_flows_{w}s"], out[f"dst_subnet_bytes_{w}s"] = dc, db
        return out

    def update(self, record: Mapping[str, object]) -> dict[str, float]:
        """Add one flow to the state and return its aggregates (counting the flow itself)."""
        values = [0.0] * self.width
        self.observe(*self._unpack(record), values)
        return self._named(values)

    def peek(self, record: Mapping[str, object]) -> dict[str, float]:
        """The aggregates `update` would return for this flow, leaving the state untouched."""
        values = [0.0] * self.width
        self.look(*self._unpack(record), values)
        return self._named(values)

    def size(self) -> tuple[int, int]:
        """(keys, live buckets), counted from the structures themselves, not from the counters."""
        return len(self._keys), sum(slot.live(self._longest) for slot in self._keys.values())
