"""CLI command implementations: each opens the same store and services the server uses."""
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any, AsyncIterator

from server.config import Config
from server.errors import AppError
from server.services.events import EventHub
from server.services.inference import InferenceService
from server.services.registry import Registry
from server.services.training import TrainingService, TrainRequest
from server.store import db, repo
from server.store.blob_factory import open_blob_store


@contextlib.asynccontextmanager
async def open_registry(config: Config) -> AsyncIterator[tuple[Any, Registry, EventHub]]:
    """Engine (schema checked/upgraded), blob store and registry, as the server assembles them."""
    engine = db.create_engine(config.storage.database_url)
    try:
        await db.prepare_database(engine, auto_upgrade=config.storage.auto_upgrade)
        sessions = db.session_maker(engine)
        hub = EventHub()
        registry = Registry(config, sessions, open_blob_store(config.storage), hub,
                            InferenceService())
        yield sessions, registry, hub
    finally:
        await engine.dispose()


async def db_upgrade(config: Config) -> int:
    """Upgrade the metadata DB to head (with a backup first when it already has data)."""
    engine = db.create_engine(config.storage.database_url)
    try:
        await db.prepare_database(engine, auto_upgrade=True)
        print(f"database at revision {await db.current_revision(engine)} (head {db.head_revision()})")
    finally:
        await engine.dispose()
    return 0


async def db_current(config: Config) -> int:
    """Print the DB's revision and the code's head revision."""
    engine = db.create_engine(config.storage.database_url)
    try:
        current = await db.current_revision(engine)
    finally:
        await engine.dispose()
    head = db.head_revision()
    print(f"current: {current or '(empty)'}\nhead:    {head}")
    return 0 if current == head else 1


async def pipeline(config: Config, request: TrainRequest, *, only_if_empty: bool = False) -> int:
    """Train synchronously in this process and register the version exactly as the server does."""
    async with open_registry(config) as (sessions, registry, hub):
        if only_if_empty:
            async with sessions() as session:
                if await repo.active_version(session) is not None:
                    print("an active model version exists; nothing to train")
                    return 0
            print("no active model version: training a default model (first start only)...")
        service = TrainingService(config, sessions, hub, registry, in_process=True, actor="cli")
        await service.start_up()
        subscriber = hub.subscribe()
        printer = asyncio.create_task(_print_progress(subscriber.queue))
        try:
            try:
                run_id = await service.start(request, trigger="cli")
            except AppError as exc:  # e.g. too few labelled rows for a feedback retrain
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            await service.wait(run_id)
        finally:
            await service.shut_down()
            await asyncio.sleep(0)
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)
        async with sessions() as session:
            run = await repo.get_run(session, run_id)
            version = await repo.get_version(session, run.version_id) if run and run.version_id else None
    if run is None or run.status != "succeeded":
        print(f"training run {run_id} {run.status if run else 'missing'}: {run.error if run else ''}",
              file=sys.stderr)
        return 1
    if version is not None and version.metrics is not None:
        print(metrics_summary(version.metrics.as_dict()))
    return 0


def metrics_summary(metrics: dict[str, Any]) -> str:
    """Hold-out metrics, with the Bayes ceiling beside them when the data was generated."""
    from server.ml.evaluate import bayes_ceiling  # the ML stack only for commands that train

    line = (f"hold-out: F1 {metrics['f1_score']:.4f} at threshold {metrics['threshold']:g}, ROC AUC "
            f"{metrics['auc_roc'] if metrics['auc_roc'] is not None else float('nan'):.4f}")
    ceiling = bayes_ceiling(metrics)
    if ceiling is None:
        return line
    best = metrics.get("f1_at_best_threshold")
    return (f"{line}\nBayes ceiling of this data (generator p_true on the hold-out): F1 {ceiling['f1']:.4f}"
            f"{f' (model at its best threshold {best:.4f})' if best is not None else ''}, ROC AUC "
            f"{ceiling['auc_roc']:.4f}; the gap is the model's to close, the ceiling is the data's limit")


async def _print_progress(events: asyncio.Queue) -> None:
    """Render phase events as lines and the search's fits as a progress bar."""
    from tqdm import tqdm

    bar = None
    while True:
        event = await events.get()
        kind = event.get("type")
        if kind == "progress" and event.get("total"):
            if bar is None:
                # Fits done before the first event are the bar's `initial`: counted, but not in the rate
                # (setting n on a fresh bar read as 1 fit in a few microseconds: "104857.60fit/s").
                bar = tqdm(total=event["total"], initial=event["done"], desc="  search fits", unit="fit",
                           leave=False)
            else:
                bar.update(event["done"] - bar.n)
        elif kind == "phase_started":
            print(f"- {event['phase']} ...", flush=True)
        elif kind == "phase_finished":
            if bar is not None:
                bar.close()
                bar = None
            print(f"  {event['phase']} done in {event.get('duration_s', 0):.2f} s", flush=True)
        elif kind == "run_finished":
            print(f"version {event['version']} registered ({event['elapsed_s']:.1f} s)")
        elif kind == "version_activated":
            print(f"version {event['version']} is now active")
        elif kind == "promotion_decided" and event.get("outcome") != "promoted":
            print(f"version {event['version']} {event['outcome']} by the promotion gate: {event['reason']}\n"
                  f"  {event.get('active')} keeps serving; activate it by hand with "
                  f"`congestion versions rollback {event['version']}` if you want it anyway")
        elif kind == "run_failed":
            print(f"run failed: {event['error']}", file=sys.stderr)


async def versions_list(config: Config) -> int:
    """Print every version with its key metrics."""
    async with open_registry(config) as (sessions, _registry, _hub):
        async with sessions() as session:
            versions = await repo.list_versions(session, include_pruned=True)
            active = await repo.active_version(session)
    print(f"{'timestamp':<16} {'model':<14} {'f1':>6} {'auc':>6}  state")
    for v in sorted(versions, key=lambda v: v.created_at, reverse=True):
        state = "active" if active and v.id == active.id else "pruned" if v.pruned else ""
        m = v.metrics
        print(f"{v.tag:<16} {v.model_type:<14} {m.f1_score if m else float('nan'):>6.3f} "
              f"{m.auc_roc if m else float('nan'):>6.3f}  {state}")
    return 0


async def versions_rollback(config: Config, tag: str, reason: str | None) -> int:
    """Roll the active version back to TAG (a running server picks it up at its next start)."""
    async with open_registry(config) as (_sessions, registry, _hub):
        result = await registry.rollback(tag, actor="cli", reason=reason)
    print(json.dumps(result))
    return 0


async def versions_prune(config: Config) -> int:
    """Apply the retention policy now."""
    async with open_registry(config) as (_sessions, registry, _hub):
        pruned = await registry.apply_retention(actor="cli")
    print(f"pruned {len(pruned)} version(s): {', '.join(pruned) or '-'}")
    return 0


async def versions_sign(config: Config, *, resign: bool = False) -> int:
    """Sign the artifacts of every live version whose sha256 verifies (once, after upgrading)."""
    async with open_registry(config) as (_sessions, registry, _hub):
        outcomes = await registry.sign_existing(resign=resign)
    print(f"signed {len(outcomes['signed'])} artifact(s), re-signed {len(outcomes['resigned'])}, "
          f"{len(outcomes['valid'])} already signed with this key")
    for name in outcomes["foreign"]:
        print(f"not signed: {name} carries another key's signature (tampered, or the key was "
              "replaced: --resign if you trust it)", file=sys.stderr)
    for line in outcomes["failed"]:
        print(f"not signed: {line}", file=sys.stderr)
    return 1 if outcomes["foreign"] or outcomes["failed"] else 0
