"""Cheap "training" for registry tests: register copies of an already trained version.

Each copy gets its own pipeline blob (the pickled pipeline carries a copy number, so its sha256
differs) and shares its other blobs with the original: retention must delete the first kind and
keep the second while any live version still references it.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import joblib

from server.config import Config
from server.services.events import EventHub
from server.services.inference import InferenceService
from server.services.registry import Registry
from server.store import db, repo
from server.store.blob_factory import open_blob_store
from server.store.signing import SignedBlobStore

METRIC_EXTRAS = ("phases", "params", "model_type", "version")


@dataclass
class Stack:
    """A registry on a real SQLite file and blob folder, as the app assembles it."""

    engine: Any
    sessions: Any
    blobs: SignedBlobStore
    registry: Registry
    inference: InferenceService

    async def close(self) -> None:
        await self.inference.close()
        await self.engine.dispose()


async def open_stack(config: Config) -> Stack:
    """Engine (schema at head), blob store, hub, inference and registry; loads the active version."""
    engine = db.create_engine(config.storage.database_url)
    await db.prepare_database(engine, auto_upgrade=True)
    sessions = db.session_maker(engine)
    blobs = open_blob_store(config.storage)
    inference = InferenceService()
    registry = Registry(config, sessions, blobs, EventHub(), inference)
    await registry.load_at_start_up()
    return Stack(engine, sessions, blobs, registry, inference)


async def trained_result(stack: Stack, tag: str | None = None) -> dict[str, Any]:
    """A worker-style result dict rebuilt from a registered version's blobs (the active one by default)."""
    async with stack.sessions() as session:
        version = await (repo.get_version_by_tag(session, tag) if tag else repo.active_version(session))
    by_kind = {a.kind: a for a in version.artifacts}

    def read(kind: str) -> bytes:
        return stack.blobs.read(by_kind[kind].sha256, by_kind[kind].size_bytes)

    metrics = json.loads(read("metrics"))
    return {
        "model_type": version.model_type,
        "pipeline_object": joblib.load(io.BytesIO(read("pipeline"))),
        "preprocessor": read("preprocessor"),
        "metrics": {k: v for k, v in metrics.items() if k not in METRIC_EXTRAS},
        "params": dict(version.params),
        "phases": metrics.get("phases", []),
        "feature_names": list(version.feature_names),
        "data_summary": dict(version.data_summary),
        "shap_global": json.loads(read("shap")),
        "distribution": json.loads(read("distribution")),
    }


async def register_copy(stack: Stack, template: dict[str, Any], copy_number: int) -> str:
    """Create a run and register a copy of `template` from it, as a finished training run does; returns the tag."""
    pipeline = template["pipeline_object"]
    pipeline.hardening_copy_ = copy_number  # a distinct pickle, hence a distinct pipeline blob
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    result = {k: v for k, v in template.items() if k != "pipeline_object"} | {"pipeline": buffer.getvalue()}
    async with stack.sessions.begin() as session:
        run = await repo.create_run(session, trigger="api", model_type=result["model_type"],
                                    config_snapshot={"copy": copy_number}, status="running")
    version = await stack.registry.register(run.id, result, actor="api")
    return version.tag
