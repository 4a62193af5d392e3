"""Webhooks: a real receiver verifies Standard Webhooks signatures; retries are logged; serving goes on."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
import json
import random

import pytest
import aiohttp
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from server import keys
from server.app import create_app
from server.config import WebhookConfig
from server.monitoring.webhooks import WebhookDispatcher, backoff_s, sign
from server.store import db, repo_alerts
from tests.conftest import check_json, free_port, tiny_config
from tests.drift.conftest import DRIFT_ENV, window_flows

SECRET = "whsec_" + base64.b64encode(b"a test secret of 24 bytes").decode()


class Receiver:
    """An aiohttp webhook receiver on loopback that verifies every message with `standardwebhooks`."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode  # ok | hang
        self.verified: list[dict] = []
        self.rejected = 0
        self.hanging = asyncio.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.mode == "hang":
            self.hanging.set()
            await asyncio.sleep(3600)
        try:
            payload = Webhook(SECRET).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=400)
        self.verified.append({"payload": payload, "id": request.headers["webhook-id"]})
        return web.Response(status=204)

    async def __aenter__(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def sessions(tmp_path):
    """A migrated SQLite store holding one open alert (id 1)."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    await db.prepare_database(engine, auto_upgrade=True)
    maker = db.session_maker(engine)
    async with maker.begin() as session:
        await repo_alerts.open_alert(session, "dataset_drift", "20260101_000000", 1_704_067_200, {"share": 0.75})
    yield maker
    await engine.dispose()


async def _alert(sessions) -> dict:
    async with sessions() as session:
        return dataclasses.asdict((await repo_alerts.list_alerts(session))[0])


async def _deliveries(sessions):
    async with sessions() as session:
        return await repo_alerts.list_deliveries(session)


def _dispatcher(sessions, url: str, fmt: str = "standard", retries: int = 2) -> WebhookDispatcher:
    return WebhookDispatcher([WebhookConfig(url=url, secret=SECRET, format=fmt)], sessions, timeout_s=2,
                             retries=retries, backoff_s=0.01, rng=random.Random(0))


async def test_receiver_verifies_the_signature_with_standardwebhooks(sessions):
    async with Receiver() as receiver:
        dispatcher = _dispatcher(sessions, receiver.url)
        await dispatcher.start()
        dispatcher.submit(await _alert(sessions), "opened")
        await dispatcher.drain()
        await dispatcher.stop()
    assert len(receiver.verified) == 1 and receiver.rejected == 0
    payload = receiver.verified[0]["payload"]
    assert payload["type"] == "alert.opened" and payload["data"]["rule"] == "dataset_drift"
    [delivery] = await _deliveries(sessions)
    assert delivery.outcome == "delivered" and delivery.status_code == 204 and delivery.attempt == 1
    assert delivery.message_id == receiver.verified[0]["id"]


async def test_a_tampered_body_is_rejected():
    body = json.dumps({"type": "alert.opened", "data": {"rule": "dataset_drift"}}).encode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))}
    headers["webhook-signature"] = sign(SECRET, "msg_1", int(headers["webhook-timestamp"]), body)
    assert Webhook(SECRET).verify(body, headers)["type"] == "alert.opened"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"dataset_drift", b"nothing_here!"), headers)
    async with Receiver() as receiver:
        async with aiohttp.ClientSession() as client:
            async with client.post(receiver.url, data=body + b" ", headers=headers) as response:
                assert response.status == 400
    assert receiver.rejected == 1 and not receiver.verified


async def test_alertmanager_shape(sessions):
    async with Receiver() as receiver:
        dispatcher = _dispatcher(sessions, receiver.url, fmt="alertmanager")
        await dispatcher.start()
        dispatcher.submit(await _alert(sessions), "opened")
        await dispatcher.drain()
        await dispatcher.stop()
    payload = receiver.verified[0]["payload"]
    assert payload["version"] == "4" and payload["status"] == "firing"
    assert payload["alerts"][0]["labels"]["alertname"] == "congestion_dataset_drift"


async def test_a_receiver_that_is_down_gets_retries_and_the_log_shows_them(sessions):
    dispatcher = _dispatcher(sessions, f"http://127.0.0.1:{free_port()}/hook", retries=3)
    await dispatcher.start()
    dispatcher.submit(await _alert(sessions), "opened")
    await dispatcher.drain()
    await dispatcher.stop()
    log = await _deliveries(sessions)
    assert [d.attempt for d in log] == [1, 2, 3, 4]
    assert [d.outcome for d in log] == ["retrying"] * 3 + ["failed"]
    assert len({d.message_id for d in log}) == 1  # the same message, so receivers can dedupe
    assert all(d.status_code is None and "Connect" in d.error for d in log)


def test_backoff_grows_exponentially_with_jitter():
    rng = random.Random(1)
    delays = [backoff_s(k, 1.0, rng) for k in range(1, 6)]
    for k, delay in enumerate(delays, start=1):
        assert 0.5 * 2 ** (k - 1) <= delay <= 1.5 * 2 ** (k - 1)
    assert len(set(delays)) == 5


async def test_serving_is_unaffected_while_a_receiver_hangs(aiohttp_client, trained_workdir):
    async with Receiver(mode="hang") as receiver:
        hooks = f'[{{url: "{receiver.url}", secret: "{SECRET}"}}]'
        config = tiny_config(trained_workdir, **{**DRIFT_ENV, "CONGESTION_ALERTS__WEBHOOKS": hooks,
                                                 "CONGESTION_ALERTS__WEBHOOK_TIMEOUT_S": "60",
                                                 "CONGESTION_ALERTS__FOR_WINDOWS": "1"})
        client = await aiohttp_client(create_app(config))
        for w in range(3):  # window 1 is shifted: the alert opens when window 2 closes it
            await check_json(await client.post("/api/predict", json=window_flows(w, shifted=w == 1)), 200)
            await client.app[keys.DRIFT].process_pending()
        await asyncio.wait_for(receiver.hanging.wait(), 30)  # a delivery is stuck in the receiver
        answers = await check_json(await client.post("/api/predict", json=window_flows(3, shifted=False)), 200)
        assert len(answers) == 60 and all(0 <= a["probability"] <= 1 for a in answers)
        await check_json(await client.get("/api/alerts?status=open"), 200)
        async with client.app[keys.SESSIONS]() as session:
            assert await repo_alerts.list_deliveries(session) == []  # still in flight, nothing blocked on it
        await client.close()
