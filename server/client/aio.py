"""AsyncClient: the same operations on aiohttp, for collectors that already run an event loop."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable

import aiohttp

from server.client.errors import ApiError
from server.client.call import ENDED, Call, event_field, parse_event
from server.client.operations import Operations
from server.client.sync import EVENT_READ_TIMEOUT_S, PROMOTION_GRACE_S
from server.schemas.answers import Run

_CONNECTED = object()


class AsyncClient(Operations):
    """Like Client, with every operation awaitable; use it as ``async with AsyncClient(url) as client:``."""

    def __init__(self, base_url: str = "http://127.0.0.1:8080", token: str | None = None,
                 timeout: float = 60.0, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session this client opened (a session passed in stays the caller's)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _headers(self, call: Call, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "congestion-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if call.data() is not None:
            headers["Content-Type"] = "application/json"
        return headers

    async def _call(self, call: Call, timeout: float | None = None) -> Any:
        limit = aiohttp.ClientTimeout(total=self.timeout if timeout is None else timeout)
        async with self._http().request(call.method, self.base_url + call.path, params=call.params(),
                                        data=call.data(), headers=self._headers(call), timeout=limit) as response:
            raw = await response.read()
            if response.status >= 400:
                raise ApiError.from_response(response.status, raw, response.headers)
        return call.parse(raw)

    async def train(self, timeout: float | None = None, **overrides: Any) -> Run:
        """POST /api/train: the server answers when the run has ended (prefer train_and_wait)."""
        body = {k: v for k, v in overrides.items() if v is not None}
        return await self._call(Call("POST", "/api/train", body=body, answer=Run), timeout=timeout)

    async def _items(self, response: aiohttp.ClientResponse) -> AsyncIterator[Any]:
        data: list[str] = []
        async for raw in response.content:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if data:
                    yield parse_event("\n".join(data))
                    data = []
            elif line.startswith(":"):
                if line[1:].strip() == "connected":
                    yield _CONNECTED
            elif line.partition(":")[0] == "data":
                value = line.partition(":")[2]
                data.append(value[1:] if value.startswith(" ") else value)

    async def _open_events(self) -> aiohttp.ClientResponse:
        call = Call("GET", "/api/train/events")
        response = await self._http().get(self.base_url + call.path, headers=self._headers(call, "text/event-stream"),
                                          timeout=aiohttp.ClientTimeout(sock_read=EVENT_READ_TIMEOUT_S))
        if response.status >= 400:
            raw = await response.read()
            response.release()
            raise ApiError.from_response(response.status, raw, response.headers)
        return response

    async def events(self) -> AsyncIterator[Any]:
        """Follow /api/train/events: typed events, unknown types as dicts."""
        response = await self._open_events()
        try:
            async for item in self._items(response):
                if item is not _CONNECTED:
                    yield item
        finally:
            response.close()

    async def train_and_wait(self, *, on_event: Callable[[Any], None] | None = None,
                             timeout: float | None = None, **overrides: Any) -> Run:
        """Start a run, follow its events until it ends (and its promotion is decided), return the run."""
        async with asyncio.timeout(timeout):
            response = await self._open_events()
            try:
                items = self._items(response)
                async for item in items:
                    if item is _CONNECTED:
                        break
                run_id = (await self.start_training(**overrides)).run_id
                try:
                    await self._follow(items, run_id, on_event)
                except (aiohttp.ClientError, TimeoutError):
                    pass  # the stream broke: the run is polled below
                await items.aclose()
            finally:
                response.close()
            while (run := await self.run(run_id)).status not in ENDED:
                await asyncio.sleep(0.5)
            return run

    async def _follow(self, items: AsyncIterator[Any], run_id: int, on_event) -> None:
        """Read the run's events until it failed or its promotion was decided (or the stream ends)."""
        async for kind in self._own(items, run_id, on_event):
            if kind == "run_failed":
                return
            if kind == "run_finished":
                # A failed activation publishes no decision: wait for it a while only.
                async with asyncio.timeout(PROMOTION_GRACE_S):
                    async for later in self._own(items, run_id, on_event):
                        if later == "promotion_decided":
                            return
                return

    async def _own(self, items: AsyncIterator[Any], run_id: int, on_event) -> AsyncIterator[str]:
        """The types of this run's events, each handed to on_event first."""
        async for event in items:
            if event is _CONNECTED or event_field(event, "run_id") != run_id:
                continue
            if on_event is not None:
                on_event(event)
            yield event_field(event, "type")
