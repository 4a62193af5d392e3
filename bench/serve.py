"""Serving benchmark with wrk: a bare aiohttp JSON handler against the predict/explain routes.

Run by hand: `python bench/serve.py [--workdir DIR] [--seconds 5] [--rounds 2]`. Needs `wrk` (Debian
package) and `taskset`. The server under test is pinned to CPU 0 and wrk to CPU 1, so the load
generator is never the bottleneck. Bare and app runs alternate (A B A B) so that noise from a shared
machine hits both alike; the table reports each scenario's median over the rounds and its ratio to
the bare handler measured at the same concurrency in the same rounds. Without --workdir it trains
the default model (`congestion pipeline`) into a temp dir; servers listen on 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchlib import REPO, ensure_model
from benchlib import environ as _environ

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
app.router.add_get("/ok", lambda r: web.Response(text="ok"))
loop = None
if sys.argv[2:] == ["uvloop"]:  # the same handler on the loop our server runs by default
    import uvloop
    loop = uvloop.new_event_loop()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=loop)
"""
LUA = """
bodies = {%s}
i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def environ(workdir: Path) -> dict[str, str]:
    """Store overrides, and no rate limit: the benchmark is one client on purpose."""
    return _environ(workdir, CONGESTION_API__RATE_LIMIT_PER_S="0")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flow(i: int) -> dict:
    """Varied records in time order so the online windows see realistic traffic."""
    rnd = random.Random(i)
    return {**RECORD, "source_ip": f"10.{rnd.randrange(4)}.{rnd.randrange(250)}.{rnd.randrange(250)}",
            "dest_ip": f"172.16.{rnd.randrange(14)}.{rnd.randrange(250)}", "packet_size": rnd.randrange(40, 1500),
            "bytes_sent": rnd.randrange(40, 200_000), "timestamp_seconds": 1_700_000_000 + i // 10,
            "protocol": rnd.choice(["TCP", "UDP", "ICMP"]), "hour": rnd.randrange(24)}


def lua_script(path: Path, bodies: list[str]) -> Path:
    """A wrk script cycling through the given JSON bodies."""
    path.write_text(LUA % ", ".join(json.dumps(b) for b in bodies))
    return path


def wait_ready(url: str, timeout: float = 180.0) -> None:
    """Poll until the URL answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} never became ready")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, float]:
    """One wrk run on CPU 1: requests/s, p50 and p99 in ms."""
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url}: non-2xx answers\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored to the start of a line: the Stdev column ("87.99%") is followed by whitespace too.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": p50, "p99": p99}


def start(args: list[str], env: dict | None = None) -> subprocess.Popen:
    """A server process pinned to CPU 0."""
    return subprocess.Popen(["taskset", "-c", "0", sys.executable, *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL)


def run(args: argparse.Namespace, workdir: Path) -> None:
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        sys.exit("bench/serve.py needs wrk and taskset (apt-get install wrk util-linux)")
    bare_port, uvloop_port, app_port = free_port(), free_port(), free_port()
    procs = [start(["-c", BARE, str(bare_port)]), start(["-c", BARE, str(uvloop_port), "uvloop"]),
             start(["-m", "server", "serve", "--host", "127.0.0.1", "--port", str(app_port)], environ(workdir))]
    tmp = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    try:
        bare, app = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{app_port}"
        wait_ready(f"{bare}/ok")
        wait_ready(f"http://127.0.0.1:{uvloop_port}/ok")
        wait_ready(f"{app}/api/explain/global")
        singles = [json.dumps(flow(i)) for i in range(2000)]
        scripts = {
            "single": lua_script(tmp / "single.lua", singles),
            "b100": lua_script(tmp / "b100.lua", [json.dumps([flow(i * 100 + j) for j in range(100)]) for i in range(40)]),
            "b1000": lua_script(tmp / "b1000.lua", [json.dumps([flow(i * 1000 + j) for j in range(1000)])
                                                    for i in range(8)]),
        }
        rows = [  # (label, url, script, connections, records per request)
            ("bare aiohttp handler", f"{bare}/bare", "single", 1, 1),
            ("bare aiohttp handler", f"{bare}/bare", "single", 32, 1),
            ("/api/predict", f"{app}/api/predict", "single", 1, 1),
            ("/api/predict", f"{app}/api/predict", "single", 32, 1),
            ("/api/predict?observe=false", f"{app}/api/predict?observe=false", "single", 1, 1),
            ("/api/predict?observe=false", f"{app}/api/predict?observe=false", "single", 32, 1),
            ("/api/predict 100-record batch", f"{app}/api/predict", "b100", 4, 100),
            ("/api/predict 1,000-record batch", f"{app}/api/predict", "b1000", 2, 1000),
            ("/api/explain", f"{app}/api/explain", "single", 1, 1),
            # Not the reference: the bare handler on uvloop, the loop `congestion serve` runs on.
            ("bare aiohttp handler on uvloop", f"http://127.0.0.1:{uvloop_port}/bare", "single", 32, 1),
        ]
        wrk(f"{app}/api/predict", scripts["single"], 8, 2)  # warm-up: caches, batches, allocator
        wrk(f"{bare}/bare", scripts["single"], 8, 1)
        results: dict[int, list[dict]] = {i: [] for i in range(len(rows))}
        for _ in range(args.rounds):
            for i, (_, url, script, conns, _) in enumerate(rows):  # app rows interleaved with bare (A B A B)
                bare_row = 1 if conns > 1 else 0
                if i > 1:
                    results[bare_row].append(wrk(rows[bare_row][1], scripts["single"], rows[bare_row][3],
                                                 args.seconds))
                results[i].append(wrk(url, scripts[script], conns, args.seconds))
        print_table(rows, results)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(rows: list[tuple], results: dict[int, list[dict]]) -> None:
    """Median per scenario; ratio of req/s to the bare handler at the same concurrency."""
    med = {i: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")} for i, runs in results.items()}
    print(f"\n| {'scenario':33} | {'c':>3} | {'req/s':>8} | {'records/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} "
          f"| {'p99/p50':>7} | {'ratio':>6} |")
    print(f"|{'-' * 35}|{'-' * 5}|{'-' * 10}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    for i, (label, _, _, conns, per) in enumerate(rows):
        m = med[i]
        ratio = m["rps"] / med[1 if conns > 1 else 0]["rps"]
        print(f"| {label:33} | {conns:>3} | {m['rps']:8.0f} | {m['rps'] * per:9.0f} | {m['p50']:7.2f} | "
              f"{m['p99']:7.2f} | {m['p99'] / m['p50']:7.1f} | {ratio:6.2f} |")
    uv = med[len(rows) - 1]["rps"]
    print(f"\nratio to the bare handler on uvloop (c=32): /api/predict {med[3]['rps'] / uv:.2f}, "
          f"observe=false {med[5]['rps'] / uv:.2f}")
    print(f"c=1 p50 difference /api/predict - bare: {med[2]['p50'] - med[0]['p50']:+.2f} ms "
          f"(observe=false: {med[4]['p50'] - med[0]['p50']:+.2f} ms)")


def main() -> None:
    """Parse arguments, make sure a model exists, run the scenarios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, help="DB + blob dir with a trained model (reused), else a temp dir")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per scenario")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        ensure_model(args.workdir)
        run(args, args.workdir)
        return
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        ensure_model(Path(tmp))
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
