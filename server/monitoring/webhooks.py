"""Outgoing alert webhooks, signed per Standard Webhooks, retried, logged, never in serving's way.

Each transition becomes one message per receiver with a fixed `webhook-id` (receivers dedupe
on it across retries), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` keyed by the base64 part of the `whsec_` secret. Deliveries run as
background tasks with a per-attempt timeout and exponential backoff with jitter; every attempt
is a row of `webhook_deliveries`. Past `MAX_PENDING` deliveries in flight, new ones are logged as
`dropped` instead of queued, so a dead receiver cannot grow memory.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import aiohttp

from server.store import repo_alerts

log = logging.getLogger(__name__)

MAX_PENDING = 1000
CONCURRENCY = 4
MAX_BACKOFF_S = 300.0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one message."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")  # tolerates unpadded secrets, as the spec's libraries do
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


def standard_payload(alert: Mapping[str, Any], event: str) -> dict:
    """`{"type": "alert.opened", "timestamp": ..., "data": {alert}}`."""
    return {"type": f"alert.{event}", "timestamp": _iso(datetime.now(timezone.utc)),
            "data": {k: _iso(v) for k, v in alert.items()}}


def alertmanager_payload(alert: Mapping[str, Any], event: str) -> dict:
    """The shape of Alertmanager's webhook receiver (version 4), one alert per message."""
    status = "resolved" if event == "resolved" else "firing"
    labels = {"alertname": f"congestion_{alert['rule']}", "rule": alert["rule"], "version": alert["version"],
              "severity": "warning"}
    item = {"status": status, "labels": labels,
            "annotations": {"summary": f"{alert['rule']} on version {alert['version']}",
                            "evidence": json.dumps(alert.get("evidence", {}), sort_keys=True, default=str)},
            "startsAt": _iso(alert["opened_at"]), "endsAt": _iso(alert.get("resolved_at")) or "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": f"{alert['id']:016x}"}
    return {"version": "4", "groupKey": f"{{}}:{{alertname=\"{labels['alertname']}\"}}", "truncatedAlerts": 0,
            "status": status, "receiver": "congestion", "groupLabels": {"alertname": labels["alertname"]},
            "commonLabels": labels, "commonAnnotations": item["annotations"], "externalURL": "", "alerts": [item]}


def backoff_s(attempt: int, base_s: float, rng: random.Random) -> float:
    """Delay before retry `attempt` (1-based): base * 2^(attempt-1), jittered by +-50%, capped."""
    return min(MAX_BACKOFF_S, base_s * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.5)


class WebhookDispatcher:
    """Delivers alert transitions to the configured receivers in background tasks."""

    def __init__(self, hooks, sessions, *, timeout_s: float, retries: int, backoff_s: float,
                 rng: random.Random | None = None) -> None:
        self.hooks = tuple(hooks)
        self._sessions = sessions
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task] = set()
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self._client: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP client (only when there is somewhere to send)."""
        if self.hooks:
            self._client = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        """Cancel deliveries in flight (their attempts so far are logged) and close the client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()

    async def drain(self) -> None:
        """Wait for every delivery in flight (tests, shutdown of a replay)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def submit(self, alert: Mapping[str, Any], event: str) -> None:
        """Queue one message per receiver; returns at once."""
        for hook in self.hooks:
            payload = alertmanager_payload(alert, event) if hook.format == "alertmanager" \
                else standard_payload(alert, event)
            body = json.dumps(payload, sort_keys=True, default=str).encode()
            message_id = f"msg_{uuid.uuid4().hex}"
            if len(self._tasks) >= MAX_PENDING:
                coro = self._log(alert["id"], event, hook.url, message_id, 0, "dropped",
                                 error=f"more than {MAX_PENDING} deliveries in flight")
            else:
                coro = self._deliver(hook, alert["id"], event, body, message_id)
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, hook, alert_id: int, event: str, body: bytes, message_id: str) -> None:
        for attempt in range(1, self._retries + 2):
            status, error = await self._attempt(hook, body, message_id)
            if status is not None and 200 <= status < 300:
                await self._log(alert_id, event, hook.url, message_id, attempt, "delivered", status)
                return
            last = attempt > self._retries
            await self._log(alert_id, event, hook.url, message_id, attempt, "failed" if last else "retrying",
                            status, error)
            if not last:
                await asyncio.sleep(backoff_s(attempt, self._backoff_s, self._rng))

    async def _attempt(self, hook, body: bytes, message_id: str) -> tuple[int | None, str | None]:
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "webhook-id": message_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(hook.secret, message_id, timestamp, body)}
        assert self._client is not None
        try:
            async with self._limit, self._client.post(hook.url, data=body, headers=headers) as response:
                await response.read()
                return response.status, None if response.status < 300 else f"HTTP {response.status}"
        except asyncio.TimeoutError:
            return None, "timed out"
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]

    async def _log(self, alert_id: int, event: str, url: str, message_id: str, attempt: int, outcome: str,
                   status: int | None = None, error: str | None = None) -> None:
        try:
            async with self._sessions.begin() as session:
                await repo_alerts.add_delivery(session, alert_id=alert_id, event=event, url=url,
                                               message_id=message_id, attempt=attempt, outcome=outcome,
                                               status_code=status, error=error)
        except Exception:  # the log must never take the dispatcher down
            log.exception("could not log a webhook delivery to %s", url)
