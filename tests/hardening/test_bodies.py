"""Item 9: oversize and hostile bodies, oversize WebSocket frames, stream clients (/ws, SSE) that never read."""
from __future__ import annotations

import asyncio
import base64
import functools
import os
import socket
import time
import zlib

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from server import keys
from server.app import create_app
from server.services.events import SUBSCRIBER_QUEUE_SIZE
from tests.conftest import check_error, tiny_config

MB = 1 << 20
RECORD = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
          "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}
# Peak RSS growth we accept while the server refuses something 100x larger than this.
RSS_BUDGET = 48 * MB


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set) of a process, in bytes, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


async def _json_chunks(total: int, chunk: int = MB):
    """A syntactically valid JSON array of `total` bytes, produced a chunk at a time (never held whole)."""
    yield b"["
    sent = 1
    piece = b"0," * (chunk // 2)
    while sent + len(piece) < total:
        yield piece
        sent += len(piece)
    yield b"0]"


@functools.lru_cache(maxsize=1)
def gzip_bomb(decompressed: int = 256 * MB) -> bytes:
    """A gzip member inflating to `decompressed` bytes of a zero-filled JSON string (~250 KB on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"0" * (4 * MB)
    parts = [compressor.compress(b'{"packet_size": 600, "pad": "')]
    parts += [compressor.compress(zeros) for _ in range(decompressed // len(zeros))]
    parts.append(compressor.compress(b'"}') + compressor.flush())
    return b"".join(parts)


@pytest.fixture
def body_server(server_factory, trained_workdir):
    """A real server process (rate limits off), warmed up by one prediction."""
    server = server_factory(trained_workdir, CONGESTION_API__RATE_LIMIT_PER_S="0",
                            CONGESTION_TRAINING__RATE_LIMIT_PER_MIN="0")
    import json
    import urllib.request

    request = urllib.request.Request(server.url + "/api/predict", data=json.dumps(RECORD).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return server


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_100_mb_json_body_is_refused_with_413_without_being_buffered(body_server, declare_length):
    total = 100 * MB
    headers = {"Content-Type": "application/json"}
    if declare_length:
        headers["Content-Length"] = str(total)
    before = peak_rss(body_server.proc.pid)
    async with aiohttp.ClientSession() as session:
        async with session.post(body_server.url + "/api/predict", data=_json_chunks(total),
                                headers=headers) as response:
            await check_error(response, 413, "payload_too_large")
        # The connection pool may reuse nothing from that request; the server still answers.
        async with session.post(body_server.url + "/api/predict", json=RECORD) as response:
            assert response.status == 200
    grown = peak_rss(body_server.proc.pid) - before
    assert grown < RSS_BUDGET, f"peak RSS grew by {grown / MB:.0f} MB for a refused body"


@pytest.mark.parametrize("path", ["/api/predict", "/api/explain", "/api/train/async"])
async def test_gzip_bomb_is_refused_with_bounded_memory(body_server, path):
    bomb = gzip_bomb()
    assert len(bomb) < 2 * MB
    before = peak_rss(body_server.proc.pid)
    async with aiohttp.ClientSession() as session:
        async with session.post(body_server.url + path, data=bomb, headers={
                "Content-Type": "application/json", "Content-Encoding": "gzip"}) as response:
            error = await check_error(response, 413)
        assert error["code"] == "payload_too_large"
        async with session.get(body_server.url + "/api/train/runs") as response:
            runs = (await response.json())["runs"]
        assert not any(run["trigger"] == "api" for run in runs), "the bomb never started a run"
    grown = peak_rss(body_server.proc.pid) - before
    assert grown < RSS_BUDGET, f"peak RSS grew by {grown / MB:.0f} MB inflating a gzip bomb"


async def test_broken_gzip_body_is_a_400(body_server):
    async with aiohttp.ClientSession() as session:
        async with session.post(body_server.url + "/api/predict", data=b"\x1f\x8b\x08\x00garbage" * 10, headers={
                "Content-Type": "application/json", "Content-Encoding": "gzip"}) as response:
            assert response.status == 400, await response.text()
        async with session.post(body_server.url + "/api/predict", json=RECORD) as response:
            assert response.status == 200


async def test_5_mb_websocket_frame_is_closed_with_1009(body_server):
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(body_server.url + "/ws")
        assert (await ws.receive_json())["type"] == "hello"
        try:
            await ws.send_bytes(os.urandom(5 * MB))
        except ConnectionError:
            pass  # the server may close before the whole frame is written; its close frame is queued
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED), message
        assert WSCloseCode.MESSAGE_TOO_BIG in (message.data, ws.close_code), (message, ws.close_code)
        # Other clients are unaffected.
        other = await session.ws_connect(body_server.url + "/ws")
        assert (await other.receive_json())["type"] == "hello"
        await other.close()


def _raw_ws_client(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A WebSocket client that completes the upgrade and then never reads another byte."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


@pytest.mark.slow
async def test_websocket_clients_that_never_read_during_a_run_keep_server_memory_bounded(body_server):
    stuck = [_raw_ws_client(body_server.port) for _ in range(20)]
    try:
        before = peak_rss(body_server.proc.pid)
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(body_server.url + "/ws")
            assert (await ws.receive_json())["type"] == "hello"
            async with session.post(body_server.url + "/api/train/async", json={}) as response:
                assert response.status == 202, await response.text()
                run_id = (await response.json())["run_id"]
            kinds = []

            async def until_finished():
                while True:
                    event = await ws.receive_json()
                    kinds.append(event["type"])
                    if event["type"] in ("run_finished", "run_failed"):
                        return event

            event = await asyncio.wait_for(until_finished(), 120)
            assert event["type"] == "run_finished" and event["run_id"] == run_id, event
            assert "phase_started" in kinds, "the reading client saw the whole run despite the stuck ones"
            await ws.close()
        grown = peak_rss(body_server.proc.pid) - before
        assert grown < 4 * RSS_BUDGET, f"peak RSS grew by {grown / MB:.0f} MB with 20 stuck clients"
    finally:
        for sock in stuck:
            sock.close()


async def test_a_stuck_websocket_client_is_aborted_and_cannot_block_the_others(aiohttp_server, trained_workdir):
    """Flood the hub far past the socket buffers: the reader gets everything, the stuck one is cut off."""
    config = tiny_config(trained_workdir, CONGESTION_SERVER__STREAM_SEND_TIMEOUT_S="1.0")
    server = await aiohttp_server(create_app(config))
    hub, sockets = server.app[keys.EVENTS], server.app[keys.WEBSOCKETS]
    stuck = _raw_ws_client(server.port)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{server.port}/ws")
            received: list[int] = []

            async def reader():
                async for message in ws:
                    event = message.json()
                    if event["type"] == "progress":
                        received.append(event["i"])

            reading = asyncio.create_task(reader())
            deadline = time.monotonic() + 5
            while hub.subscriber_count < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert hub.subscriber_count == 2
            pad = "x" * 4000
            total = 3000  # 12 MB: far more than the stuck socket's kernel buffers hold
            for i in range(total):
                hub.publish({"type": "progress", "run_id": 1, "i": i, "pad": pad})
                if i % 20 == 0:
                    await asyncio.sleep(0.005)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (len(received) < total or sum(not w.closed for w in sockets) > 1):
                await asyncio.sleep(0.05)
            assert received == list(range(total)), "the reading client got every event, in order"
            assert sum(not w.closed for w in sockets) == 1, "the stuck client's connection was aborted"
            assert hub.subscriber_count == 1
            reading.cancel()
            await ws.close()
    finally:
        stuck.close()


def _raw_sse_client(port: int, rcvbuf: int = 4096) -> socket.socket:
    """An SSE client with a tiny receive buffer that sends its request and never reads a byte."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /api/train/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def _connection_closed(sock: socket.socket) -> bool:
    """The peer closed or reset the connection (reads what little the tiny buffer holds first)."""
    sock.settimeout(2)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


async def test_an_sse_client_that_stops_reading_is_dropped_after_the_send_timeout(aiohttp_server, trained_workdir):
    """Issue 11 item 3: a stuck /api/train/events client is cut off after server.stream_send_timeout_s.

    Fewer events than the hub's per-subscriber queue holds, so only the send timeout can free it:
    without the timeout the handler waits for drain forever, holding its task and queued events.
    """
    timeout = 0.5
    config = tiny_config(trained_workdir, CONGESTION_SERVER__STREAM_SEND_TIMEOUT_S=str(timeout))
    server = await aiohttp_server(create_app(config))
    hub = server.app[keys.EVENTS]
    stuck = _raw_sse_client(server.port)
    try:
        deadline = time.monotonic() + 5
        while hub.subscriber_count < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert hub.subscriber_count == 1
        pad = "x" * (64 * 1024)
        events = 200  # 13 MB: far past the kernel buffers of both ends, well under the hub's queue
        assert events < SUBSCRIBER_QUEUE_SIZE
        for i in range(events):
            hub.publish({"type": "progress", "run_id": 1, "i": i, "pad": pad})
            await asyncio.sleep(0)
        blocked_at = time.monotonic()
        while hub.subscriber_count and time.monotonic() < blocked_at + timeout + 5:
            await asyncio.sleep(0.05)
        assert hub.subscriber_count == 0, "the stuck SSE client was forgotten"
        assert time.monotonic() - blocked_at < timeout + 5
        assert await asyncio.to_thread(_connection_closed, stuck), "the stuck SSE connection was closed"
        # The server still streams to a client that reads.
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/api/train/events") as stream:
                assert await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5) == b": connected\n\n"
    finally:
        stuck.close()
