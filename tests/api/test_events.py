"""Event fan-out: bounded per-client queues, snapshots for late joiners, SSE for curl users."""
from __future__ import annotations

import asyncio

import pytest

from server import keys
from server.services.events import SUBSCRIBER_QUEUE_SIZE, EventHub


async def test_a_slow_subscriber_is_dropped_not_buffered():
    hub = EventHub()
    slow = hub.subscribe()
    fast = hub.subscribe()
    for i in range(SUBSCRIBER_QUEUE_SIZE + 10):
        hub.publish({"type": "progress", "run_id": 1, "done": i, "total": 999})
        if not fast.queue.empty():
            fast.queue.get_nowait()
    assert slow.dropped.is_set()
    assert slow.queue.qsize() == SUBSCRIBER_QUEUE_SIZE
    assert not fast.dropped.is_set()
    assert hub.subscriber_count == 1


async def test_a_late_joiner_gets_a_snapshot_of_the_current_run():
    hub = EventHub()
    hub.publish({"type": "run_started", "run_id": 7})
    hub.publish({"type": "phase_started", "run_id": 7, "phase": "data"})
    hub.publish({"type": "phase_finished", "run_id": 7, "phase": "data", "duration_s": 0.5})
    hub.publish({"type": "phase_started", "run_id": 7, "phase": "features"})
    hub.publish({"type": "progress", "run_id": 7, "phase": "training", "done": 1, "total": 4})
    late = hub.subscribe()
    snapshot = late.queue.get_nowait()
    assert snapshot["type"] == "snapshot" and snapshot["run_id"] == 7
    assert snapshot["phases"] == [
        {"phase": "data", "status": "finished", "duration_s": 0.5},
        {"phase": "features", "status": "running", "duration_s": None},
    ]
    assert snapshot["progress"] == {"phase": "training", "done": 1, "total": 4}
    hub.publish({"type": "run_finished", "run_id": 7})
    assert hub.subscribe().queue.empty()


async def test_server_sent_events_stream_the_same_events(client):
    response = await client.get("/api/train/events")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert (await response.content.readline()).startswith(b": connected")
    await response.content.readline()
    client.app[keys.EVENTS].publish({"type": "rolled_back", "version": "20260101_000000", "previous": None})
    event_line = await asyncio.wait_for(response.content.readline(), 5)
    data_line = await asyncio.wait_for(response.content.readline(), 5)
    assert event_line == b"event: rolled_back\n"
    assert b'"version": "20260101_000000"' in data_line
    response.close()


async def test_websocket_refuses_a_foreign_origin(client):
    from aiohttp import WSServerHandshakeError

    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    assert info.value.status == 403
    ws = await client.ws_connect("/ws", headers={"Origin": f"http://{client.host}:{client.port}"})
    assert (await ws.receive_json())["type"] == "hello"
    await ws.close()
