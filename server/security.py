"""Request guards: Host allow-list, same-origin writes, bearer token, per-client rate limits."""
from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from urllib.parse import urlsplit

from aiohttp import web

from server import keys
from server.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Routes that change state or stream internals: token-protected when a token is configured.
PROTECTED_PREFIXES = ("/api/train", "/api/versions/rollback", "/api/versions/prune", "/ws", "/api/feedback",
                      "/api/alerts")
# Routes that stream events (phases, failures with their messages): the token applies to GET too.
STREAM_PATHS = ("/ws", "/api/train/events")
# Run fields that tell a stranger about the host: shown only to token holders when a token is set.
_INTERNAL_SUFFIXES = ("path", "dir", "url")
PREDICT_PATHS = ("/api/predict", "/api/explain")
TRAIN_START_PATHS = ("/api/train", "/api/train/async")
MAX_TRACKED_CLIENTS = 10_000
# (bucket, client) of an admitted predict/explain request, for the per-record charge.
RATE_CHARGE: web.RequestKey[tuple["TokenBucket", str]] = web.RequestKey("rate_charge", tuple)


class TokenBucket:
    """Per-client buckets, LRU-bounded so a flood of addresses cannot grow memory."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """0 if allowed (one token taken), else seconds until a token is available."""
        return self._take(client, 1.0, now, admit=False)

    def charge(self, client: str, cost: float, now: float | None = None) -> None:
        """Take `cost` more tokens from an admitted client; the balance may go into debt.

        Debt is what makes a 1,000-record batch cost 1,000 records, whatever the burst: the
        client's next request waits until the balance is back at one token.
        """
        self._take(client, cost, now, admit=True)

    def _take(self, client: str, cost: float, now: float | None, admit: bool) -> float:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if admit or tokens >= 1:
            tokens -= cost
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(config) -> set[str]:
    """Host names this server answers to (defence against DNS rebinding)."""
    names = set(LOCAL_HOSTS) | {h.lower() for h in config.server.allowed_hosts}
    bind = config.server.host.lower()
    if bind not in ("0.0.0.0", "::", ""):
        names.add(f"[{bind}]" if ":" in bind else bind)
    return names


def check_same_origin(request: web.Request) -> None:
    """403 for a cross-site browser request (Origin of another site, or Sec-Fetch-Site)."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Forbidden("cross-site request refused", fields={"Sec-Fetch-Site": "cross-site"})
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        raise Forbidden("cross-origin request refused", fields={"Origin": "must match the server's host"})


def has_token(request: web.Request, token: str) -> bool:
    """The request carries the bearer token (a streaming route may pass it as ?token=: browsers'
    WebSocket and EventSource cannot set headers); compared in constant time, never logged."""
    supplied = request.headers.get("Authorization", "")
    if not supplied.startswith("Bearer ") and request.path in STREAM_PATHS:
        supplied = "Bearer " + request.query.get("token", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())


def may_see_internals(request: web.Request) -> bool:
    """True when no token is configured or the request carries it."""
    token = request.app[keys.CONFIG].server.token
    return not token or has_token(request, token)


def redact_run(run: dict) -> dict:
    """A run without its owner (host:pid) and with every path, folder or URL in its config hidden."""
    def hide(value):
        if isinstance(value, dict):
            return {k: (None if isinstance(v, str) and k.lower().endswith(_INTERNAL_SUFFIXES) else hide(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v) for v in value]
        return value
    return {**run, "owner": None, "config_snapshot": hide(run.get("config_snapshot") or {})}


def check_token(request: web.Request, token: str) -> None:
    """401 unless the request carries the bearer token."""
    if not has_token(request, token):
        raise Unauthorized("a valid bearer token is required for this route",
                           fields={"Authorization": "missing or wrong bearer token"})


def make_guard(config):
    """The guard middleware for one app's configuration."""
    hosts = allowed_hosts(config)
    token = config.server.token
    api = config.api
    predict_limit = TokenBucket(api.rate_limit_per_s, api.rate_limit_burst) if api.rate_limit_per_s > 0 else None
    per_min = config.training.rate_limit_per_min
    train_limit = TokenBucket(per_min / 60.0, max(1, per_min)) if per_min > 0 else None

    @web.middleware
    async def guard(request: web.Request, handler) -> web.StreamResponse:
        if _host_name(request.host) not in hosts:
            raise ValidationFailed("unexpected Host header", fields={"Host": "not an allowed host name"})
        path = request.path
        streams = path in STREAM_PATHS
        if request.method in MUTATING or streams:
            check_same_origin(request)
            if token and (streams or path.startswith(PROTECTED_PREFIXES)):
                check_token(request, token)
        client = request.remote or "unknown"
        if predict_limit and path.startswith(PREDICT_PATHS):
            _limit(predict_limit, client)  # admission: one record's token; the rest after validation
            request[RATE_CHARGE] = (predict_limit, client)
        if train_limit and request.method == "POST" and path in TRAIN_START_PATHS:
            _limit(train_limit, client)
        return await handler(request)

    return guard


def charge_records(request: web.Request, records: int) -> None:
    """Charge a validated predict/explain request for its records beyond the one admitted."""
    charge = request.get(RATE_CHARGE)
    if charge is not None and records > 1:
        bucket, client = charge
        bucket.charge(client, records - 1)


def _limit(bucket: TokenBucket, client: str) -> None:
    wait = bucket.take(client)
    if wait > 0:
        raise RateLimited("too many requests; slow down", retry_after=max(1, math.ceil(wait)))

