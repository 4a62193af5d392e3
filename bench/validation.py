"""Flow-record validation speed on the predict path: microseconds per record (prints, asserts nothing).

    python bench/validation.py
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.errors import ValidationFailed  # noqa: E402
from server.schemas import check_records  # noqa: E402


def _record(rng: random.Random) -> dict:
    return {"packet_size": rng.randint(40, 1500), "bytes_sent": rng.randint(40, 100_000) * 1.0,
            "source_ip": f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "dest_ip": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "protocol": rng.choice(["TCP", "UDP", "ICMP"]), "timestamp_seconds": 1_700_000_000 + rng.randint(0, 86_400),
            "hour": rng.randint(0, 23)}


def _per_record_us(body, records: int, seconds: float = 1.0) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        try:
            check_records(body, 1000)
        except ValidationFailed:
            pass
        done += 1
    return (time.perf_counter() - start) / done / records * 1e6


def main() -> None:
    rng = random.Random(7)
    batch = [_record(rng) for _ in range(1000)]
    bad = [{**r, "hour": 24, "source_ip": "x"} if i % 10 == 0 else r for i, r in enumerate(batch)]
    print(f"single record   : {_per_record_us(batch[0], 1):6.2f} us/record")
    print(f"batch of 1000   : {_per_record_us(batch, 1000):6.2f} us/record")
    print(f"1000, 10% bad   : {_per_record_us(bad, 1000):6.2f} us/record")


if __name__ == "__main__":
    main()
