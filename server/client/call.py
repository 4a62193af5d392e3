"""Call: one HTTP request of the API and how its answer is parsed; events parsed the same way."""
from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from pydantic import TypeAdapter, ValidationError

from server.schemas.events import EVENTS

NO_BODY = object()
TERMINAL_EVENTS = ("run_finished", "run_failed")
ENDED = ("succeeded", "failed", "cancelled", "interrupted")


@functools.lru_cache(maxsize=None)
def _adapter(answer: Any) -> TypeAdapter:
    return TypeAdapter(answer)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Call:
    """One HTTP request and the model its answer is parsed with (None: plain JSON)."""

    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Any = NO_BODY
    answer: Any = None
    unwrap: str | None = None  # answer key to return instead of the whole answer

    def params(self) -> dict[str, str]:
        """Query parameters as text, unset (None) ones dropped."""
        return {k: _text(v) for k, v in self.query.items() if v is not None}

    def data(self) -> bytes | None:
        """The JSON body, or None when the call has none."""
        return None if self.body is NO_BODY else json.dumps(self.body).encode()

    def parse(self, raw: bytes) -> Any:
        """The answer as its model (or plain JSON)."""
        if self.answer is None:
            return json.loads(raw) if raw.strip() else None
        parsed = _adapter(self.answer).validate_json(raw)
        return getattr(parsed, self.unwrap) if self.unwrap else parsed


def parse_event(data: str) -> Any:
    """One event as its model; an event type this client does not know stays a plain dict."""
    try:
        return EVENTS.validate_json(data)
    except ValidationError:
        return json.loads(data)


def event_field(event: Any, name: str) -> Any:
    """A field of a typed or plain event."""
    return event.get(name) if isinstance(event, dict) else getattr(event, name, None)
