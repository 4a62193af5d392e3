"""The client's pieces that need no server: the SSE reader, event models, the error envelope."""
from __future__ import annotations

from server.client import ApiError
from server.client.sync import CONNECTED, KEEPALIVE, sse_items
from server.schemas.events import PromotionDecided, RunStarted


def test_sse_reader_yields_the_greeting_keepalives_and_typed_events():
    lines = [b": connected\n", b"\n", b"event: run_started\n",
             b'data: {"type": "run_started", "run_id": 3, "trigger": "api", "model_type": "xgboost",\n',
             b'data: "elapsed_s": 0.1}\n', b"\n", b": keep-alive\n", b"\n",
             b'data: {"type": "brand_new", "run_id": 3}\r\n', b"\r\n"]
    items = list(sse_items(iter(lines)))
    assert items[0] is CONNECTED and items[2] is KEEPALIVE
    assert isinstance(items[1], RunStarted) and items[1].run_id == 3
    assert items[3] == {"type": "brand_new", "run_id": 3}  # a type this client does not know stays a dict


def test_a_shadow_promotion_decision_parses():
    """Promotion.to_shadow publishes no `active`: the model must not refuse the event."""
    event = list(sse_items(iter([b'data: {"type": "promotion_decided", "run_id": 1, "version": "20260101_000000", '
                                 b'"outcome": "shadow", "reason": "retrained"}\n', b"\n"])))[0]
    assert isinstance(event, PromotionDecided) and event.active is None


def test_error_from_the_envelope_and_from_other_bodies():
    error = ApiError.from_response(429, b'{"error": {"code": "rate_limited", "message": "slow down", "fields": {}}}',
                                   {"Retry-After": "2"})
    assert (error.status, error.code, error.retry_after) == (429, "rate_limited", 2.0)
    proxy = ApiError.from_response(502, b"<html>Bad gateway</html>")
    assert proxy.code == "http_error" and proxy.fields == {} and "Bad gateway" in proxy.message
