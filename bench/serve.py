"""Serving benchmark: bare aiohttp JSON handler vs /api/predict (c=1, c=32, 100-record batch) and /api/explain.

Run by hand on an idle machine: `python bench/serve.py [--workdir DIR] [--requests N]`.
Without --workdir it trains the default model (`congestion pipeline`) into a temp DB/blob dir;
with one that already holds a model it reuses it. Servers listen on 127.0.0.1 only; every loop is
bounded by --requests.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchlib import REPO, ensure_model
from benchlib import environ as _environ


def environ(workdir: Path) -> dict[str, str]:
    """Store overrides, and no rate limit: the benchmark is one client on purpose."""
    return _environ(workdir, CONGESTION_API__RATE_LIMIT_PER_S="0")


RECORD = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
          "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}
BARE = """
import sys
from aiohttp import web
async def handle(request):
    body = await request.json()
    return web.json_response({"probability": 0.5, "prediction": 1, "threshold": 0.5, "version": "bare",
                              "warnings": [], "n": len(body)})
app = web.Application()
app.router.add_post("/bare", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_ready(session: aiohttp.ClientSession, url: str, timeout: float = 120.0) -> None:
    """Poll until the URL answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never became ready")


def flow(i: int) -> dict:
    """Varied records so the online windows and caches see realistic traffic."""
    rnd = random.Random(i)
    return {**RECORD, "source_ip": f"10.{rnd.randrange(4)}.{rnd.randrange(250)}.{rnd.randrange(250)}",
            "dest_ip": f"172.16.{rnd.randrange(14)}.{rnd.randrange(250)}", "packet_size": rnd.randrange(40, 1500),
            "bytes_sent": rnd.randrange(40, 200_000), "timestamp_seconds": 1_700_000_000 + i,
            "protocol": rnd.choice(["TCP", "UDP", "ICMP"]), "hour": rnd.randrange(24)}


async def load(session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    """Send every body with `concurrency` workers; req/s, p50 and p99 in ms."""
    latencies: list[float] = []
    queue = list(reversed(bodies))
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        while queue:
            body = queue.pop()
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status}")
            latencies.append((time.perf_counter() - t0) * 1e3)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / wall, "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


async def run(args: argparse.Namespace, workdir: Path) -> None:
    bare_port, app_port = free_port(), free_port()
    procs = [subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)], cwd=REPO),
             subprocess.Popen([sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(app_port)],
                              cwd=REPO, env=environ(workdir), stdout=subprocess.DEVNULL)]
    try:
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            app = f"http://127.0.0.1:{app_port}"
            await wait_ready(session, f"{app}/api/explain/global")
            n = args.requests
            single = [json.dumps(flow(i)).encode() for i in range(n)]
            batch = [json.dumps([flow(i * 100 + j) for j in range(100)]).encode() for i in range(max(20, n // 50))]
            scenarios = [
                ("bare aiohttp JSON handler", f"http://127.0.0.1:{bare_port}/bare", single, 1),
                ("bare aiohttp JSON handler", f"http://127.0.0.1:{bare_port}/bare", single, 32),
                ("/api/predict", f"{app}/api/predict", single, 1),
                ("/api/predict", f"{app}/api/predict", single, 32),
                ("/api/predict, 100-record batch", f"{app}/api/predict", batch, 1),
                ("/api/explain", f"{app}/api/explain", single[: max(50, n // 10)], 1),
            ]
            for _ in range(50):  # let the bare server start; warm both up
                try:
                    await load(session, scenarios[0][1], single[:20], 1)
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            await load(session, f"{app}/api/predict", single[:200], 4)
            await load(session, f"{app}/api/explain", single[:10], 1)
            print(f"\n| {'scenario':32} | {'conc.':>5} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} |")
            print(f"|{'-' * 34}|{'-' * 7}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
            for name, url, bodies, concurrency in scenarios:
                r = await load(session, url, bodies, concurrency)
                print(f"| {name:32} | {concurrency:>5} | {r['rps']:8.0f} | {r['p50']:7.2f} | {r['p99']:7.2f} |",
                      flush=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    """Parse arguments, make sure a model exists, run the scenarios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, help="DB + blob dir with a trained model (reused), else a temp dir")
    parser.add_argument("--requests", type=int, default=2000, help="requests per single-record scenario")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        ensure_model(args.workdir)
        asyncio.run(run(args, args.workdir))
        return
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        ensure_model(Path(tmp))
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
