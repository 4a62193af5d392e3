"""Training runs: one at a time, in the process pool, with phases persisted and streamed."""
from __future__ import annotations

import asyncio
import logging
import random
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.config import Config, to_plain
from server.errors import Conflict
from server.lifecycle.promotion import Promotion
from server.lifecycle.retrain import export_feedback
from server.logs import run_id_var
from server.schemas.requests import check_train_body
from server.services.events import EventHub
from server.services.pool import InProcessRunner, TrainingPool
from server.services.registry import Registry, SaveWithdrawn
from server.store import repo
from server.store.run_owner import current_owner

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class TrainRequest:
    """What a client may choose for one run; None means the configured default."""

    model_type: str | None = None
    search_iterations: int | None = None
    rows: int | None = None
    generate_data: bool = False
    # "feedback": train on the labelled prediction log of [since, until) (flow time, Unix s).
    source: str | None = None
    since: int | None = None
    until: int | None = None
    # The new version goes to shadow instead of through the promotion gate (retrain triggers).
    shadow: bool = False

    @classmethod
    def parse(cls, body: Any, generate_data: bool) -> "TrainRequest":
        """Validate a JSON override body ({} or None means defaults) with TrainBody; 400 names the field."""
        checked = check_train_body(body)
        flag = generate_data if checked.generate_data is None else checked.generate_data
        return cls(checked.model_type, checked.search_iterations, checked.rows, flag, checked.source,
                   checked.since, checked.until, bool(checked.shadow))


@dataclass
class ActiveRun:
    """The run in flight: its task, where it is, and whether a client asked to cancel it.

    ``stage`` moves preparing -> worker -> save -> committed. Up to ``committed`` a cancel is
    exact (nothing is registered); from there on the run finishes and the cancel says so.
    """

    run_id: int
    started: float
    task: asyncio.Task | None = None
    stage: str = "preparing"
    cancel_requested: bool = False
    cancel_reason: str = "cancelled by request"
    killed: bool = False             # a cancel killed pool workers: the pool must be rebuilt
    to_shadow: bool = False          # the new version shadows the champion instead of facing the gate
    data_file: Path | None = None    # a feedback export, removed when the run ends
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def commit(self) -> bool:
        """The point of no return (called right before the registering transaction): False if cancelled."""
        if self.cancel_requested:
            return False
        self.stage = "committed"
        return True


class TrainingService:
    """Starts runs, relays worker events into the DB and the hub, records the outcome."""

    def __init__(self, config: Config, sessions, hub: EventHub, registry: Registry,
                 *, in_process: bool = False, actor: str = "api", shadows=None) -> None:
        self._config = config
        self._sessions = sessions
        self._hub = hub
        self._registry = registry
        self._actor = actor
        self._promotion = Promotion(config, sessions, registry, hub)
        self._shadows = shadows  # the server's shadow set; None in the CLI (servers follow the event)
        self._pool: TrainingPool | InProcessRunner = (
            InProcessRunner(self._on_worker_event) if in_process
            else TrainingPool(config.training.max_workers, self._on_worker_event))
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._relay_task: asyncio.Task | None = None
        self._start_lock = asyncio.Lock()
        self.active: ActiveRun | None = None
        self._closing = False

    @property
    def pool(self) -> TrainingPool | InProcessRunner:
        return self._pool

    async def start_up(self) -> None:
        """Start the pool and the relay task; mark runs a dead server left behind."""
        async with self._sessions.begin() as session:
            count = await repo.mark_interrupted_runs(session)
        if count:
            log.warning("marked %d run(s) whose server process is gone as interrupted", count)
        self._pool.start(asyncio.get_running_loop())
        self._relay_task = asyncio.create_task(self._relay(), name="training-relay")

    async def shut_down(self) -> None:
        """Cancel the active run (recorded as cancelled), stop the relay and the pool."""
        self._closing = True
        if self.active is not None:
            await self.cancel(self.active.run_id, reason="server shutting down")
        if self._relay_task is not None:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)
        await asyncio.to_thread(self._pool.shutdown)

    async def start(self, request: TrainRequest, trigger: str) -> int:
        """Create a run and launch it; 409 naming the running run if one is active."""
        async with self._start_lock:
            if self.active is not None:
                raise Conflict("a training run is already active", run_id=self.active.run_id)
            spec = self._spec(request)
            data_file = None
            if request.source == "feedback":  # before the run row: too few labels is a 409, not a failed run
                retrain = self._config.retrain
                data_file, spec["feedback"] = await export_feedback(
                    self._sessions, Path(tempfile.gettempdir()) / "congestion-feedback", request.since,
                    request.until, mix_ratio=retrain.mix_ratio, seed=self._config.data.seed,
                    positive_rate=self._config.data.positive_rate)
                spec["data_path"] = str(data_file)
            async with self._sessions.begin() as session:
                run = await repo.create_run(session, trigger=trigger, model_type=spec["model_type"],
                                            config_snapshot=spec, status="running",
                                            owner=current_owner())
            self.active = ActiveRun(run_id=run.id, started=time.monotonic(), to_shadow=request.shadow,
                                    data_file=data_file)
            self._hub.publish({"type": "run_started", "run_id": run.id, "trigger": trigger,
                               "model_type": spec["model_type"], "elapsed_s": 0.0})
            self.active.task = asyncio.create_task(self._execute(self.active, spec))
            return run.id

    async def wait(self, run_id: int) -> None:
        """Wait until the given run (if it is the active one) has ended."""
        active = self.active
        if active is not None and active.run_id == run_id:
            await active.done.wait()

    async def cancel(self, run_id: int, reason: str = "cancelled by request") -> bool:
        """Stop the active run; True only if it ends cancelled with nothing registered.

        A run still in its worker is stopped by killing the worker; one in `save` is withdrawn
        before its transaction. A run past that point finishes, and this returns False.
        """
        active = self.active
        if active is None or active.run_id != run_id:
            async with self._sessions() as session:
                await repo.get_run(session, run_id)  # NotFound -> 404
            return False
        if active.stage == "committed":
            await active.done.wait()
            return False
        active.cancel_requested = True
        active.cancel_reason = reason
        if active.stage == "worker":
            active.killed = True
            self._pool.kill_workers()
        await active.done.wait()
        return True

    def _spec(self, request: TrainRequest) -> dict[str, Any]:
        config = self._config
        data = config.data
        use_generated = request.generate_data or not data.path
        return {
            "config": config.ml_snapshot(),
            "data_path": None if use_generated else data.path,
            "model_type": request.model_type or config.model.primary,
            "search_iterations": request.search_iterations or config.model.search_iterations,
            "rows": request.rows or data.rows,
            # "generate new data" means a fresh sample, not the configured one again.
            "seed": random.randrange(1, 2**31) if request.generate_data else data.seed,
            # Stored metrics are measured where a new version will decide: the serving default.
            "threshold": config.api.default_threshold,
            "engine": config.training.engine,
            "dask": to_plain(config.training.dask),
            "s3": to_plain(config.storage.s3),  # s3:// Parquet datasets use the blob store's endpoint
        }

    async def _execute(self, active: ActiveRun, spec: dict[str, Any]) -> None:
        run_id = active.run_id
        token = run_id_var.set(run_id)
        try:  # the champion is sent to the worker, never stored in the run's config snapshot
            spec = {**spec, "champion": await self._promotion.champion()}
            if active.cancel_requested:
                raise SaveWithdrawn(active.cancel_reason)
            active.stage = "worker"  # no await between this and the submit: a cancel now kills it
            result = await self._pool.run(run_id, spec)
            if active.cancel_requested:  # the kill came as the worker returned: register nothing
                raise SaveWithdrawn(active.cancel_reason)
            active.stage = "save"
            version = await self._save(active, result)
        except BrokenProcessPool:
            await self._recover_pool()
            await self._fail(active, self._death_reason(active))
        except SaveWithdrawn:
            if active.killed:  # the kill may have hit a worker that was already idle
                await self._recover_pool()
            await self._fail(active, active.cancel_reason, status="cancelled")
        except asyncio.CancelledError:
            await self._fail(active, "cancelled: server shutting down", status="cancelled")
            raise
        except Exception as exc:  # training errors carry user-facing messages
            log.warning("training run %d failed: %s", run_id, exc)
            await self._fail(active, _describe(exc))
        else:
            await self._succeed(active, version.tag, result.get("comparison"))
        finally:
            run_id_var.reset(token)
            if active.data_file is not None:
                active.data_file.unlink(missing_ok=True)
            self._release(active)
            active.done.set()

    async def _recover_pool(self) -> None:
        """Replace a pool that lost a worker, before the run is released (the next start uses it)."""
        if not self._closing:
            await self._pool.rebuild()

    def _release(self, active: ActiveRun) -> None:
        """The run's outcome is recorded: a new run may start (before clients hear of it)."""
        if self.active is active:
            self.active = None

    async def _save(self, active: ActiveRun, result: dict[str, Any]):
        """The server-side `save` phase: blobs, then one transaction for version and run."""
        self._on_worker_event({"type": "phase_started", "phase": "save", "run_id": active.run_id})
        started = time.monotonic()
        version = await self._registry.register(
            active.run_id, result, actor=self._actor, proceed=active.commit)
        self._on_worker_event({"type": "phase_finished", "phase": "save", "run_id": active.run_id,
                               "duration_s": round(time.monotonic() - started, 3)})
        await self._events.join()  # every phase row is persisted before the run is reported
        return version

    def _death_reason(self, active: ActiveRun) -> str:
        if active.cancel_requested:
            return active.cancel_reason
        return "the training worker process died unexpectedly (killed or out of memory)"

    async def _fail(self, active: ActiveRun, reason: str, status: str = "failed") -> None:
        if active.cancel_requested:
            status = "cancelled"
        elapsed = time.monotonic() - active.started
        async with self._sessions.begin() as session:
            await repo.finish_run(session, active.run_id, status=status, error=reason)
        self._release(active)
        self._hub.publish({"type": "run_failed", "run_id": active.run_id, "status": status,
                           "error": reason, "elapsed_s": round(elapsed, 3)})

    async def _succeed(self, active: ActiveRun, tag: str, comparison: dict[str, Any] | None) -> None:
        elapsed = time.monotonic() - active.started
        self._release(active)
        self._hub.publish({"type": "run_finished", "run_id": active.run_id, "version": tag,
                           "elapsed_s": round(elapsed, 3)})
        try:  # the version is registered either way; a failure here must not look like a lost run
            if active.to_shadow:
                await self._promotion.to_shadow(tag, self._shadows, run_id=active.run_id)
            else:
                await self._promotion.after_training(tag, comparison, run_id=active.run_id)
            await self._registry.apply_retention(actor="system")
        except Exception:
            log.exception("version %s is registered but could not be activated or retention failed", tag)

    def _on_worker_event(self, event: dict[str, Any]) -> None:
        """Loop-side callback of the pool's reader thread: keep order, persist in the relay."""
        self._events.put_nowait(event)

    async def _relay(self) -> None:
        """Persist each phase event, then publish it; the one writer of phase rows."""
        while True:
            event = await self._events.get()
            try:
                await self._persist(event)
                if event.get("type") != "worker_started":
                    active = self.active
                    if active is not None and active.run_id == event.get("run_id"):
                        event["elapsed_s"] = round(time.monotonic() - active.started, 3)
                    self._hub.publish(event)
            except Exception:
                log.exception("could not relay training event %s", event.get("type"))
            finally:
                self._events.task_done()

    async def _persist(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind not in ("phase_started", "phase_finished"):
            return
        async with self._sessions.begin() as session:
            if kind == "phase_started":
                await repo.record_phase_started(session, event["run_id"], event["phase"])
            else:
                await repo.record_phase_finished(session, event["run_id"], event["phase"])


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return message if message else type(exc).__name__
