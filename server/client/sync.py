"""Client: the blocking client, on the standard library (urllib), with event following."""
from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

from server.client.errors import ApiError
from server.client.call import ENDED, TERMINAL_EVENTS, Call, event_field, parse_event
from server.client.operations import Operations
from server.schemas.answers import Run

CONNECTED = object()  # the stream's ": connected" comment: the server has subscribed us
KEEPALIVE = object()  # any other comment (": keep-alive" every 15 s)
EVENT_READ_TIMEOUT_S = 60.0  # the server sends a keep-alive every 15 s
PROMOTION_GRACE_S = 30.0  # after run_finished, how long to wait for the run's promotion_decided


def sse_items(lines: Iterator[bytes]) -> Iterator[Any]:
    """Server-sent events from raw lines: CONNECTED for the greeting, then each event's data parsed."""
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield parse_event("\n".join(data))
                data = []
        elif line.startswith(":"):
            yield CONNECTED if line[1:].strip() == "connected" else KEEPALIVE
        else:
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value[1:] if value.startswith(" ") else value)


class Client(Operations):
    """A typed client of the congestion monitor's REST API (see README, "Python client").

        client = Client("http://127.0.0.1:8080", token=os.environ.get("CONGESTION_SERVER__TOKEN"))
        answer = client.predict(record, observe=False)

    `token` is the server's `server.token`, sent as ``Authorization: Bearer <token>`` on every
    call. A 4xx/5xx raises ApiError with the server's error envelope.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8080", token: str | None = None,
                 timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (one connection per call); here for symmetry with AsyncClient."""

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "congestion-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _request(self, call: Call, accept: str = "application/json") -> urllib.request.Request:
        query = call.params()
        url = self.base_url + call.path + ("?" + urlencode(query) if query else "")
        data = call.data()
        headers = self._headers(accept)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return urllib.request.Request(url, data=data, method=call.method, headers=headers)

    def _open(self, request: urllib.request.Request, timeout: float):
        try:
            return self._opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                raise ApiError.from_response(exc.code, exc.read(), exc.headers) from None

    def _call(self, call: Call, timeout: float | None = None) -> Any:
        with self._open(self._request(call), self.timeout if timeout is None else timeout) as response:
            raw = response.read()
        return call.parse(raw)

    def train(self, timeout: float | None = None, **overrides: Any) -> Run:
        """POST /api/train: the server answers when the run has ended (prefer train_and_wait)."""
        body = {k: v for k, v in overrides.items() if v is not None}
        return self._call(Call("POST", "/api/train", body=body, answer=Run), timeout=timeout)

    def _event_stream(self, read_timeout: float) -> Any:
        return self._open(self._request(Call("GET", "/api/train/events"), "text/event-stream"), read_timeout)

    def events(self, read_timeout: float = EVENT_READ_TIMEOUT_S) -> Iterator[Any]:
        """Follow /api/train/events: typed events (server.schemas.events), unknown types as dicts."""
        with self._event_stream(read_timeout) as response:
            for item in sse_items(response):
                if item is not CONNECTED and item is not KEEPALIVE:
                    yield item

    def train_and_wait(self, *, on_event: Callable[[Any], None] | None = None, timeout: float | None = None,
                       **overrides: Any) -> Run:
        """Start a run, follow its events until it ends (and its promotion is decided), return the run.

        Subscribes before starting, so no event of the run is missed; `on_event` sees each of the
        run's events. If the stream drops, the run is polled instead. TimeoutError after `timeout` s.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._event_stream(EVENT_READ_TIMEOUT_S) as response:
            stream = sse_items(response)
            for item in stream:
                if item is CONNECTED:
                    break
            run_id = self.start_training(**overrides).run_id
            self._follow(stream, run_id, on_event, deadline)
        return self._settled(run_id, deadline)

    def _follow(self, stream: Iterator[Any], run_id: int, on_event, deadline: float | None) -> None:
        """Read the run's events until it failed or its promotion was decided (or the stream ends)."""
        grace_until = None
        try:
            for event in stream:
                mine = event is not CONNECTED and event is not KEEPALIVE and event_field(event, "run_id") == run_id
                if mine:
                    if on_event is not None:
                        on_event(event)
                    kind = event_field(event, "type")
                    if kind in ("run_failed", "promotion_decided"):
                        return
                    if kind in TERMINAL_EVENTS:
                        grace_until = time.monotonic() + PROMOTION_GRACE_S
                if grace_until is not None and time.monotonic() > grace_until:
                    return  # a failed activation publishes no decision; the run has ended anyway
                _check(deadline, run_id)
        except (OSError, http.client.HTTPException):  # the stream broke: the run is polled instead
            return

    def _settled(self, run_id: int, deadline: float | None) -> Run:
        """The run once it has ended (polled, for a stream that dropped before the end)."""
        while True:
            run = self.run(run_id)
            if run.status in ENDED:
                return run
            _check(deadline, run_id)
            time.sleep(0.5)


def _check(deadline: float | None, run_id: int) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"training run {run_id} did not end in time")
