"""Every typed piece of application state, in one module (also breaks import cycles)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from server.config import Config
    from server.lifecycle.retrain import RetrainTriggers
    from server.lifecycle.rules import ChallengerRules
    from server.lifecycle.shadow import Shadows
    from server.monitoring.service import MonitoringService
    from server.monitoring.drift_service import DriftService
    from server.observability import Metrics
    from server.services.events import EventHub
    from server.services.inference import InferenceService
    from server.services.registry import Registry
    from server.services.training import TrainingService
    from server.store.blobs import BlobStore

CONFIG = web.AppKey["Config"]("config")
ENGINE = web.AppKey["AsyncEngine"]("engine")
SESSIONS = web.AppKey["async_sessionmaker[AsyncSession]"]("sessions")
BLOBS = web.AppKey["BlobStore"]("blobs")
EVENTS = web.AppKey["EventHub"]("events")
REGISTRY = web.AppKey["Registry"]("registry")
INFERENCE = web.AppKey["InferenceService"]("inference")
TRAINING = web.AppKey["TrainingService"]("training")
WEBSOCKETS = web.AppKey["weakref.WeakSet[web.WebSocketResponse]"]("websockets")
METRICS = web.AppKey["Metrics"]("metrics")
MONITORING = web.AppKey["MonitoringService"]("monitoring")
DRIFT = web.AppKey["DriftService"]("drift")
SHADOWS = web.AppKey["Shadows"]("shadows")
RULES = web.AppKey["ChallengerRules"]("rules")
TRIGGERS = web.AppKey["RetrainTriggers"]("retrain_triggers")
