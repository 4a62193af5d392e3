"""What the prediction log writer costs per logged record: CPU of one flush, by phase.

The writer thread shares the serving process (and its GIL), so every microsecond it spends per
record is a microsecond a predict does not get. Run by hand: `python bench/log_writer.py
[--requests N] [--url URL]` (default: a fresh SQLite file). Prints µs per record of building the
rows and window batches, of the INSERT, and of the window-state accumulation.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from server.monitoring import store
from server.monitoring.writer import LogWriter
from server.store import db

BASE_TS = 1_780_000_000 - 1_780_000_000 % 3600


def flow(i: int, rng: random.Random) -> dict:
    """A record shaped like the validated /api/predict input."""
    return {"packet_size": rng.randint(64, 1500), "bytes_sent": rng.randint(100, 100_000),
            "source_ip": f"10.0.{i % 7}.{i % 250 + 1}", "dest_ip": f"192.168.{i % 5}.{i % 200 + 2}",
            "protocol": ("TCP", "UDP", "ICMP")[i % 3], "timestamp_seconds": BASE_TS + i // 10}


def entries(n: int, first: int) -> list:
    """n single-record requests, the common case under load (one entry per request).

    Ten requests per millisecond, as at ~10k req/s; the id prefix carries the millisecond.
    """
    rng = random.Random(first)
    node, start_ms = f"{random.getrandbits(32):08x}", int(time.time() * 1000)
    return [(f"{start_ms + i // 10:012x}{node}", first + i, "v1", 0.5, [flow(first + i, rng)], [rng.random()])
            for i in range(n)]


async def measure(url: str, n: int, rounds: int) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    writer = LogWriter(url, "bench", "bench", lambda: ([], {}), lambda e: None, interval_s=1.0,
                       window_s=3600, sample_rate=1.0, retention_days=0)
    for r in range(rounds):
        batch = entries(n, r * n)
        async with engine.begin() as conn:
            rows, groups = {name: [] for name in store.PREDICTION_COLUMNS}, {}
            writer._new_logged = writer._new_sampled = 0
            t0 = time.process_time()
            await writer._entries(conn, "v1", batch, rows, groups)
            t1 = time.process_time()
            await store.insert_predictions(conn, rows)
            t2 = time.process_time()
            for key, batches in groups.items():
                await writer._accumulate(conn, key, batches)
            t3 = time.process_time()
        us = lambda a, b: (b - a) / n * 1e6  # noqa: E731
        print(f"round {r}: rows+batches {us(t0, t1):6.2f} µs/record   insert {us(t1, t2):6.2f}   "
              f"accumulate {us(t2, t3):6.2f}   total {us(t0, t3):6.2f}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="single-record requests per flush")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--url", default=None, help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    url = args.url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    asyncio.run(measure(url, args.requests, args.rounds))


if __name__ == "__main__":
    main()
