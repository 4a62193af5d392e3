"""Live events: a WebSocket for the dashboard and server-sent events for curl users."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from server import keys
from server.api.common import dumps
from server.api.openapi_spec import documented
from server.api.parameters import EVENT_STREAM

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

HEARTBEAT_S = 20.0
MAX_CLIENT_MESSAGE = 64 * 1024
SSE_KEEPALIVE_S = 15.0


@routes.get("/ws")
@documented("WebSocket: training progress and model events (one JSON object per frame, see Event)",
            status=101, description="Switching protocols", errors=(400, 401, 403), tag="training")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Stream events as JSON text frames; a client joining mid-run first gets a snapshot."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    request.app[keys.WEBSOCKETS].add(ws)
    hub = request.app[keys.EVENTS]
    subscriber = hub.subscribe()
    reader = asyncio.create_task(_drain_client(ws))
    try:
        if not await _send(request, ws, dumps({"type": "hello", "version": request.app[keys.INFERENCE].version})):
            return ws
        while not ws.closed:
            getter = asyncio.ensure_future(subscriber.queue.get())
            dropped = asyncio.ensure_future(subscriber.dropped.wait())
            done, pending = await asyncio.wait(
                {getter, dropped, reader}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending - {reader}:
                task.cancel()
            if getter in done:
                if not await _send(request, ws, dumps(getter.result())):
                    break
            elif dropped in done:
                try:
                    await asyncio.wait_for(ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow, reconnect"),
                                           _send_timeout(request))
                except asyncio.TimeoutError:
                    _abort(request)
            else:
                break
    finally:
        hub.unsubscribe(subscriber)
        reader.cancel()
    return ws


async def _send(request: web.Request, ws: web.WebSocketResponse, text: str) -> bool:
    """Send one frame; False (connection aborted) when the client is gone or stopped reading."""
    try:
        await asyncio.wait_for(ws.send_str(text), _send_timeout(request))
        return True
    except asyncio.TimeoutError:
        log.warning("aborting a WebSocket client that stopped reading")
    except ConnectionError:
        pass
    _abort(request)
    return False


def _send_timeout(request: web.Request) -> float:
    """How long one frame may wait for the client to read (`server.stream_send_timeout_s`).

    A client that cannot take a frame in this long has stopped reading: its socket buffers are
    full and the write would wait for drain forever, pinning the handler and its queued events.
    """
    return request.app[keys.CONFIG].server.stream_send_timeout_s


def _abort(request: web.Request) -> None:
    """Drop the connection without flushing: a close frame could never get through a full buffer."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) client frames so pings, closes and oversize frames are handled."""
    async for message in ws:
        if message.type == WSMsgType.ERROR:
            return


@routes.get("/api/train/events")
@documented("Server-sent training events (`event: <type>`, `data: <Event JSON>`)", content=EVENT_STREAM,
            description="event stream", tag="training")
async def server_sent_events(request: web.Request) -> web.StreamResponse:
    """The same events as server-sent events (`curl -N .../api/train/events`)."""
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    hub = request.app[keys.EVENTS]
    subscriber = hub.subscribe()
    try:
        if not await _write(request, response, b": connected\n\n"):
            return response
        while not subscriber.dropped.is_set():
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), SSE_KEEPALIVE_S)
            except asyncio.TimeoutError:
                if not await _write(request, response, b": keep-alive\n\n"):
                    break
                continue
            payload = f"event: {event.get('type', 'message')}\ndata: {dumps(event)}\n\n"
            if not await _write(request, response, payload.encode()):
                break
    finally:
        hub.unsubscribe(subscriber)
    return response


async def _write(request: web.Request, response: web.StreamResponse, data: bytes) -> bool:
    """Write one SSE chunk; False (connection aborted) when the client is gone or stopped reading."""
    try:
        await asyncio.wait_for(response.write(data), _send_timeout(request))
        return True
    except asyncio.TimeoutError:
        log.warning("aborting a server-sent-events client that stopped reading")
    except ConnectionError:
        pass
    _abort(request)
    return False
