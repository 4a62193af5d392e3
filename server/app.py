"""Application factory: routes, middlewares, and resources started in dependency order."""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import WSCloseCode, web

from server import keys
from server.api import ROUTE_TABLES
from server.config import REPO_ROOT, Config
from server import heap, observability
from server.monitoring.service import MonitoringService
from server.middlewares import errors_middleware, security_headers
from server.monitoring.drift_metrics import DriftCollector
from server.monitoring.drift_service import DriftService, window_performance
from server.observability import loop_lag_monitor, observe_middleware
from server.security import make_guard
from server.errors import AppError
from server.lifecycle.retrain import RetrainTriggers
from server.lifecycle.rules import ChallengerRules
from server.lifecycle.shadow import Shadows
from server.services.events import EventHub
from server.services.inference import InferenceService
from server.services.registry import Registry
from server.services.training import TrainingService
from server.store import db
from server.store.blob_factory import open_blob_store

log = logging.getLogger(__name__)

TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = REPO_ROOT / "static"



def create_app(config: Config) -> web.Application:
    """Build the web application; nothing is started until the app runs."""
    app = web.Application(middlewares=[observe_middleware, errors_middleware, make_guard(config)],
                          client_max_size=config.api.max_body_bytes)
    observability.install(app)
    app[keys.CONFIG] = config
    app[keys.WEBSOCKETS] = weakref.WeakSet()
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    app.router.add_static("/static", STATIC_DIR, name="static", append_version=True)
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.extend([loop_lag_monitor, database, blob_store, services, monitoring, drift, challengers, training,
                            heap.frozen_start_up])
    app.on_shutdown.append(close_websockets)
    return app


async def database(app: web.Application) -> AsyncIterator[None]:
    """Engine, then the schema check/upgrade; refuses to start on an unknown revision."""
    config = app[keys.CONFIG]
    engine = db.create_engine(config.storage.database_url)
    try:
        await db.prepare_database(engine, auto_upgrade=config.storage.auto_upgrade)
        app[keys.ENGINE] = engine
        app[keys.SESSIONS] = db.session_maker(engine)
        yield
    finally:
        await engine.dispose()


async def blob_store(app: web.Application) -> AsyncIterator[None]:
    """The content-addressed blob store: a local folder or an S3 bucket (storage.blob_url)."""
    app[keys.BLOBS] = open_blob_store(app[keys.CONFIG].storage)
    yield


async def services(app: web.Application) -> AsyncIterator[None]:
    """Event hub, serving bundle and registry; loads the active model off the loop."""
    config = app[keys.CONFIG]
    hub = EventHub(observers=(app[keys.METRICS].observe_event,))
    inference = InferenceService(config.features.max_window_keys,
                                 max_window_entries=config.features.max_window_entries)
    registry = Registry(config, app[keys.SESSIONS], app[keys.BLOBS], hub, inference)
    app[keys.EVENTS] = hub
    app[keys.INFERENCE] = inference
    app[keys.REGISTRY] = registry
    await registry.load_at_start_up()
    follower = asyncio.create_task(_follow_database(registry, config.versioning.follow_interval_s))
    try:
        yield
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        hub.close_all()
        await inference.close()


async def _follow_database(registry: Registry, interval_s: float) -> None:
    """Poll the event log so versions activated by the CLI or another server get served."""
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            await registry.follow_database()
        except Exception:  # a DB hiccup must not end the loop
            log.exception("could not check the active version")


async def challengers(app: web.Application) -> AsyncIterator[None]:
    """Shadow versions scoring live traffic, and the rules that promote or roll back on evidence."""
    config = app[keys.CONFIG]
    shadows = Shadows(config, app[keys.SESSIONS], app[keys.REGISTRY], app[keys.EVENTS])
    await shadows.start()
    rules = ChallengerRules(config, app[keys.SESSIONS], app[keys.REGISTRY], shadows)
    app[keys.SHADOWS] = shadows
    app[keys.RULES] = rules
    loop = asyncio.create_task(_run_rules(shadows, rules, config.versioning.follow_interval_s))
    try:
        yield
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await shadows.stop()


async def _run_rules(shadows: Shadows, rules: ChallengerRules, interval_s: float) -> None:
    """Follow shadows set elsewhere and apply the promotion/rollback rules, every interval."""
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            await shadows.follow_database()
            await rules.evaluate()
        except Exception:  # a DB hiccup must not end the loop
            log.exception("could not apply the challenger rules")


async def monitoring(app: web.Application) -> AsyncIterator[None]:
    """The prediction log writer; at shutdown (SIGTERM included) it flushes every queued answer."""
    service = MonitoringService(app[keys.CONFIG], app[keys.ENGINE], app[keys.EVENTS], app[keys.METRICS].registry)
    await service.start()
    app[keys.MONITORING] = service
    try:
        yield
    finally:
        await service.stop()


async def drift(app: web.Application) -> AsyncIterator[None]:
    """Drift windows, alert rules and webhooks, fed by the served predictions."""
    service = DriftService(app[keys.CONFIG], app[keys.SESSIONS], app[keys.BLOBS], app[keys.EVENTS],
                           app[keys.INFERENCE])
    if keys.MONITORING in app:
        service.performance = window_performance(app[keys.MONITORING], service.window_s,
                                                 app[keys.CONFIG].alerts.f1_span_s)
    await service.start()
    app[keys.DRIFT] = service
    collector = DriftCollector(service)
    app[keys.METRICS].registry.register(collector)
    try:
        yield
    finally:
        app[keys.METRICS].registry.unregister(collector)
        await service.stop()


async def training(app: web.Application) -> AsyncIterator[None]:
    """The process pool and its relay; a run in flight at shutdown is recorded as cancelled."""
    service = TrainingService(app[keys.CONFIG], app[keys.SESSIONS], app[keys.EVENTS], app[keys.REGISTRY],
                              shadows=app[keys.SHADOWS])
    await service.start_up()
    app[keys.TRAINING] = service
    triggers = RetrainTriggers(app[keys.CONFIG], app[keys.SESSIONS], service)
    app[keys.TRIGGERS] = triggers
    loop = asyncio.create_task(_run_triggers(triggers, app[keys.CONFIG].versioning.follow_interval_s))
    try:
        yield
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await service.shut_down()


async def _run_triggers(triggers: RetrainTriggers, interval_s: float) -> None:
    """Retrain from fed-back labels when the schedule or an alert says so (see retrain.*)."""
    if interval_s <= 0:
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            run_id = await triggers.check()
            if run_id is not None:
                log.info("retraining from feedback as run %d (%s)", run_id, triggers.last_reason)
        except AppError as exc:  # e.g. too few labelled rows in the range: try again later
            log.info("retrain trigger did not start a run: %s", exc.message)
        except Exception:
            log.exception("retrain trigger failed")


async def close_websockets(app: web.Application) -> None:
    """Tell every connected browser we are going away (close code 1001)."""
    sockets = list(app[keys.WEBSOCKETS])
    closing = asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
        return_exceptions=True)
    try:  # a client that stopped reading must not hold the shutdown hostage
        await asyncio.wait_for(closing, app[keys.CONFIG].server.shutdown_timeout_s / 2)
    except asyncio.TimeoutError:
        log.warning("some WebSocket clients did not acknowledge the close in time")
