"""Model registry: register versions (blobs first, then one transaction), activate, roll back, prune."""
from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from typing import Any, Callable

from server.config import Config
from server.errors import Gone, IntegrityFailure, StorageFailure, Unavailable, ValidationFailed
from server.lifecycle.thresholds import Thresholds
from server.services.events import EventHub
from server.services.inference import InferenceService, ServingBundle, build_bundle
from server.store import db, repo
from server.store.signing import SignedBlobStore
from server.store.errors import BlobIntegrityError, BlobNotFound, StoreError
from server.store.records import ArtifactSpec
from server.store.tables import ACTIVATION_KINDS

log = logging.getLogger(__name__)


class SaveWithdrawn(Exception):
    """A cancel reached the run before its version was committed: nothing is registered."""


TAG_PATTERN = re.compile(r"^\d{8}_\d{6}$")
JSON_TYPE = "application/json"


def tag_problem(tag: Any) -> str | None:
    """What is wrong with a version tag (YYYYMMDD_HHMMSS), or None when it is one."""
    return None if isinstance(tag, str) and TAG_PATTERN.fullmatch(tag) else "expected a version tag YYYYMMDD_HHMMSS"


def check_tag(tag: str, field: str = "timestamp") -> str:
    """A version tag is YYYYMMDD_HHMMSS; anything else is a 400 naming the field it came in
    (`timestamp` in /api/versions/{timestamp}/..., `version` where a query or body names one)."""
    problem = tag_problem(tag)
    if problem:
        raise ValidationFailed(f"malformed version tag in {field}", fields={field: problem})
    return tag


def finite_or_none(values: dict[str, Any]) -> dict[str, Any]:
    """NaN/inf metrics (e.g. AUC on one class) become None: JSON and SQL both stay valid."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def store_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The ML result's metrics under the registry's (the seed's) names, JSON/SQL safe."""
    renamed = dict(metrics)
    if "f1_score" not in renamed and "f1" in renamed:
        renamed["f1_score"] = renamed.pop("f1")
    return finite_or_none(renamed)


def artifact_payloads(tag: str, result: dict[str, Any]) -> list[tuple[str, str, str, bytes]]:
    """(kind, file name, content type, bytes) for everything a training result stores."""
    def as_json(value: Any) -> bytes:
        return json.dumps(value, indent=2, sort_keys=True, default=str).encode()

    metrics = {**store_metrics(result["metrics"]), "phases": result.get("phases", []), "params": result.get("params", {}),
               "model_type": result["model_type"], "version": tag}
    payloads = [
        ("pipeline", f"model_{tag}.joblib", "application/octet-stream", result["pipeline"]),
        ("preprocessor", f"scaler_{tag}.joblib", "application/octet-stream", result["preprocessor"]),
        ("metrics", f"metrics_{tag}.json", JSON_TYPE, as_json(metrics)),
        ("shap", f"shap_{tag}.json", JSON_TYPE, as_json(result["shap_global"])),
        ("distribution", f"distribution_{tag}.json", JSON_TYPE, as_json(result["distribution"])),
    ]
    if result.get("holdout"):  # labels and probabilities: threshold curves without retraining
        payloads.append(("holdout", f"holdout_{tag}.json", JSON_TYPE, as_json(result["holdout"])))
    if result.get("profile"):  # the drift monitor's reference (older workers sent none)
        payloads.append(("profile", f"profile_{tag}.json", JSON_TYPE, as_json(result["profile"])))
    for name, png in sorted(result.get("plots", {}).items()):
        payloads.append(("plot", f"{name}_{tag}.png", "image/png", png))
    return payloads


async def _previous_active_id(session) -> int | None:
    """The version the latest activation replaced: kept so a rollback is always possible."""
    latest = await repo.list_events(session, limit=1, kinds=list(ACTIVATION_KINDS))
    return latest[0].from_version_id if latest else None


class Registry:
    """The only writer of versions and model events; swaps the serving bundle on activation."""

    def __init__(self, config: Config, sessions, blobs: SignedBlobStore, hub: EventHub,
                 inference: InferenceService) -> None:
        self._config = config
        self._sessions = sessions
        self._blobs = blobs
        self._hub = hub
        self._inference = inference
        self._lock = asyncio.Lock()  # one activation/prune at a time
        self._shap_cache: dict[str, dict[str, Any]] = {}  # versions are immutable: cache forever
        self._unloadable: set[str] = set()  # tags that failed verification when followed
        self.thresholds = Thresholds(config.api.default_threshold, sessions, blobs)

    async def register(self, run_id: int, result: dict[str, Any], *, actor: str,
                       proceed: Callable[[], bool] | None = None) -> Any:
        """Write blobs (verified), then insert version, artifacts, metrics, event and run outcome at once.

        ``proceed`` is asked right before the transaction; False (a cancel) removes the new
        blobs and raises SaveWithdrawn.

        The blobs are written outside any lock (an upload may take a while; other writers must
        not wait for it). The rows are then inserted under the cross-process blob lock, after
        putting back any blob a GC in another process collected meanwhile: once the lock is
        held no GC runs anywhere until the rows are committed.
        """
        async with self._sessions() as session:
            tag = await repo.next_tag(session)
        payloads = artifact_payloads(tag, result)
        async with self._lock:
            try:
                specs = await asyncio.to_thread(self._write_blobs, payloads)
            except OSError as exc:  # disk full, quota, permissions, object store down: no row
                await self._collect_garbage_if_reachable()
                raise StorageFailure(f"could not save the model artifacts: {exc.strerror or exc}") from None
            if proceed is not None and not proceed():
                await self._collect_garbage_if_reachable()
                raise SaveWithdrawn(f"run {run_id} was cancelled before its version was registered")
            try:
                version = await self._insert_version(run_id, tag, result, payloads, specs, actor=actor)
            except OSError as exc:  # the store failed while putting back a collected blob
                await self._collect_garbage_if_reachable()
                raise StorageFailure(f"could not save the model artifacts: {exc.strerror or exc}") from None
        log.info("registered version %s from run %d", tag, run_id)
        return version

    async def _insert_version(self, run_id: int, tag: str, result: dict[str, Any],
                              payloads: list[tuple[str, str, str, bytes]], specs: list[ArtifactSpec],
                              *, actor: str) -> Any:
        async with self._sessions.begin() as session:
            await db.lock_blobs(session)  # held until commit: no GC in any process meanwhile
            await asyncio.to_thread(self._restore_collected, payloads, specs)
            version = await repo.register_version(
                session, run_id=run_id, tag=tag, model_type=result["model_type"],
                params=result.get("params", {}), feature_names=result["feature_names"],
                data_summary=result.get("data_summary", {}),
                metrics=store_metrics(result["metrics"]), artifacts=specs, actor=actor)
            await repo.finish_run(session, run_id, status="succeeded", version_id=version.id)
        return version

    def _write_blobs(self, payloads: list[tuple[str, str, str, bytes]]) -> list[ArtifactSpec]:
        specs = []
        for kind, name, content_type, data in payloads:
            ref = self._blobs.put(data)
            self._blobs.read(ref.sha256, ref.size)  # a version row never precedes verified bytes
            specs.append(ArtifactSpec(kind=kind, name=name, sha256=ref.sha256,
                                      size_bytes=ref.size, content_type=content_type))
        return specs

    def _restore_collected(self, payloads: list[tuple[str, str, str, bytes]], specs: list[ArtifactSpec]) -> None:
        """Put back blobs another process's GC deleted between our put and our lock (rare)."""
        for (_kind, _name, _type, data), spec in zip(payloads, specs):
            if not self._blobs.exists(spec.sha256):
                log.warning("blob %s was collected before its rows existed; writing it again", spec.sha256[:12])
                self._blobs.put(data)
                self._blobs.read(spec.sha256, spec.size_bytes)

    async def activate(self, tag: str, *, actor: str, reason: str | None = None,
                       kind: str = "activated", evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        """Load and verify a version off the loop, record the event, then swap the bundle."""
        check_tag(tag)
        async with self._lock:
            async with self._sessions() as session:
                version = await repo.get_version_by_tag(session, tag)
                if version.pruned_at is not None:
                    raise Gone(f"model version {tag} was pruned; its artifacts are gone")
                current = await repo.active_version(session)
            if current is not None and current.id == version.id and self._inference.version == tag:
                return {"changed": False, "version": tag, "previous": tag}
            bundle = await self._load(version)
            async with self._sessions.begin() as session:
                await repo.add_event(session, kind=kind, version_id=version.id,
                                     from_version_id=current.id if current else None,
                                     actor=actor, reason=reason, evidence=evidence)
            self._inference.swap(bundle)
        previous = current.tag if current else None
        event_type = "rolled_back" if kind == "rolled_back" else "version_activated"
        self._hub.publish({"type": event_type, "version": tag, "previous": previous, "kind": kind,
                           "actor": actor, "reason": reason})
        log.info("%s version %s (previous %s)", kind, tag, previous)
        return {"changed": True, "version": tag, "previous": previous}

    async def rollback(self, tag: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Activate an older version, recorded as a rollback; the active version is a no-op."""
        return await self.activate(tag, actor=actor, reason=reason or "rollback", kind="rolled_back")

    async def _load(self, version) -> ServingBundle:
        by_kind = {a.kind: a for a in version.artifacts}
        try:
            return await asyncio.to_thread(build_bundle, version, by_kind, self._blobs)
        except (BlobIntegrityError, BlobNotFound) as exc:
            raise IntegrityFailure(f"model version {version.tag} failed verification: {exc}") from None
        except KeyError as exc:
            raise IntegrityFailure(f"model version {version.tag} is missing its {exc} artifact") from None
        except OSError as exc:  # an object store that does not answer: the served model stays
            raise Unavailable(f"could not read model version {version.tag}: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - a pickle of other library versions, a failed warm-up
            log.debug("loading version %s failed", version.tag, exc_info=True)
            raise IntegrityFailure(f"model version {version.tag} cannot be loaded by this server: "
                                   f"{type(exc).__name__}: {exc}") from None

    async def _collect_garbage_if_reachable(self) -> None:
        """Best-effort clean-up after a failed save; a store that is down is collected later."""
        try:
            await self._collect_garbage()
        except OSError as exc:
            log.warning("blob clean-up after a failed save skipped: %s", exc)

    async def _collect_garbage(self) -> int:
        """Delete blobs no live artifact row references (orphans of a failed or killed save).

        Runs under the cross-process blob lock, so the default grace of 0 is safe with several
        processes; blobs younger than ``storage.blob_gc_grace_s`` are kept all the same.
        """
        grace = self._config.storage.blob_gc_grace_s
        # The transaction is the cross-process lock: it stays open while the blobs go, so no
        # registration anywhere commits rows in between (see register).
        async with self._sessions.begin() as session:
            await db.lock_blobs(session)
            referenced = await repo.referenced_sha256s(session)
            return await asyncio.to_thread(self._blobs.gc, referenced, blob_grace_s=grace)

    async def load_at_start_up(self) -> None:
        """Remove orphan blobs, then serve the active version or else the newest that loads.

        A version this process cannot load (a bad or missing blob here, a pickle of other
        library versions, a failed warm-up) is a local problem: the fallback is served and
        reported in /readyz and the log, and no event is written, so servers sharing the
        database keep what they serve. Only a database with no activation at all, whose
        newest version loads, gets an ``activated`` event (every server would pick the same).
        """
        await self.thresholds.refresh()
        try:
            removed = await self._collect_garbage()
        except OSError as exc:  # an object store that is down: start degraded, collect later
            log.warning("blob clean-up at start-up skipped: %s", exc)
            removed = 0
        if removed:
            log.warning("removed %d orphan blob(s) left by an interrupted save", removed)
        async with self._sessions() as session:
            active = await repo.active_version(session)
            versions = await repo.list_versions(session, include_pruned=False)
        candidates = ([active] if active else []) + [v for v in versions if not active or v.id != active.id]
        problems: list[str] = []
        for version in candidates:
            try:
                bundle = await self._load(version)
            except IntegrityFailure as exc:
                log.error("%s", exc.message)
                problems.append(exc.message)
                self._unloadable.add(version.tag)  # the follower does not retry it every interval
                continue
            except Unavailable as exc:  # the store is down, not the version bad: pick no other
                log.error("%s", exc.message)
                problems.append(exc.message)
                break
            if active is None and not problems:
                async with self._sessions.begin() as session:
                    await repo.add_event(session, kind="activated", version_id=version.id,
                                         actor="startup", reason="no active version")
            elif problems:
                problems.append(f"serving {version.tag} in this process only "
                                f"(the database's active version is {active.tag if active else 'none'})")
                log.warning("%s", problems[-1])
            self._inference.swap(bundle, degraded="; ".join(problems) or None)
            return
        self._inference.swap(None, degraded="; ".join(problems) or None)

    async def follow_database(self) -> str | None:
        """Serve what the event log says is active: the CLI or another server may have changed it.

        Returns the tag newly served, if any. A version that fails verification is reported
        once and skipped; the current model keeps serving.
        """
        if await self.thresholds.refresh():
            self._hub.publish({"type": "threshold_changed", "source": "database"})
        async with self._sessions() as session:
            active = await repo.active_version(session)
        if active is None or active.tag == self._inference.version or active.tag in self._unloadable:
            return None
        async with self._lock:
            previous = self._inference.version
            async with self._sessions() as session:  # re-read: our own activation may have won
                active = await repo.active_version(session)
                latest = await repo.list_events(session, limit=1, kinds=["activated", "rolled_back"])
            if active is None or active.tag == previous:
                return None
            try:
                bundle = await self._load(active)
            except IntegrityFailure as exc:
                self._unloadable.add(active.tag)
                log.error("not following the database to %s: %s", active.tag, exc.message)
                return None
            self._inference.swap(bundle)
        log.info("now serving %s, activated elsewhere (previous %s)", active.tag, previous)
        # The dashboard toasts this: who changed the version elsewhere (the CLI, another server) and why.
        how = {"kind": latest[0].kind, "actor": latest[0].actor, "reason": latest[0].reason} if latest else {}
        self._hub.publish({"type": "version_activated", "version": active.tag, "previous": previous,
                           "source": "database", **how})
        return active.tag

    async def apply_retention(self, *, actor: str) -> list[str]:
        """Keep the newest keep_last versions, the active and the previous active; GC the rest's blobs."""
        async with self._lock:
            async with self._sessions.begin() as session:
                doomed = await repo.prune_candidates(session, self._config.versioning.keep_last)
                previous = await _previous_active_id(session)
                doomed = [v for v in doomed if v.id != previous]
                for version in doomed:
                    await repo.mark_pruned(session, version.id, actor=actor, reason="retention")
            if doomed:
                removed = await self._collect_garbage()
                log.info("pruned %d version(s), removed %d blob(s)", len(doomed), removed)
        return [v.tag for v in doomed]

    async def sign_existing(self, *, resign: bool = False) -> dict[str, list[str]]:
        """Sign the blobs of every live version whose sha256 and size verify (run once, after upgrading).

        Trust on an operator's word: run it when the registry's current contents are known good.
        Blobs signed with another key are only re-signed with ``resign`` (a replaced key).
        Returns artifact names by outcome: valid, signed, resigned, foreign, failed.
        """
        async with self._sessions() as session:
            versions = await repo.list_versions(session, include_pruned=False)
        artifacts = [a for v in versions for a in v.artifacts]
        return await asyncio.to_thread(self._sign_all, artifacts, resign)

    def _sign_all(self, artifacts, resign: bool) -> dict[str, list[str]]:
        outcomes: dict[str, list[str]] = {k: [] for k in ("valid", "signed", "resigned", "foreign", "failed")}
        for artifact in artifacts:
            try:
                outcome = self._blobs.sign_existing(artifact.sha256, artifact.size_bytes, resign=resign)
            except (StoreError, OSError) as exc:
                outcomes["failed"].append(f"{artifact.name}: {getattr(exc, 'message', None) or exc}")
                continue
            outcomes[outcome].append(artifact.name)
        return outcomes

    async def load_bundle(self, version) -> ServingBundle:
        """A version's verified serving bundle, without activating it (shadow challengers)."""
        return await self._load(version)

    async def read_blob(self, artifact) -> bytes:
        """An artifact's verified bytes, read off the loop."""
        return await asyncio.to_thread(self._blobs.read, artifact.sha256, artifact.size_bytes)

    async def read_artifact(self, name: str) -> tuple[Any, bytes]:
        """An artifact's row and verified bytes, found by its registered name only."""
        async with self._sessions() as session:
            artifact = await repo.artifact_by_name(session, name)
        if artifact.version_pruned:
            raise Gone("that version was pruned; its artifacts are gone")
        try:
            data = await asyncio.to_thread(self._blobs.read, artifact.sha256, artifact.size_bytes)
        except (BlobIntegrityError, BlobNotFound):
            raise IntegrityFailure("the artifact failed its integrity check") from None
        except OSError as exc:
            raise Unavailable(f"could not read the artifact: {exc.strerror or exc}") from None
        return artifact, data

    async def shap_summaries(self, versions) -> dict[str, dict[str, Any]]:
        """Global SHAP summaries by tag for versions whose blobs still exist (cached)."""
        missing = [v for v in versions
                   if v.tag not in self._shap_cache and not v.pruned and v.artifact("shap")]
        if missing:
            loaded = await asyncio.to_thread(self._read_summaries, missing)
            self._shap_cache.update(loaded)
        return self._shap_cache

    def _read_summaries(self, versions) -> dict[str, dict[str, Any]]:
        loaded = {}
        for version in versions:
            artifact = version.artifact("shap")
            try:
                loaded[version.tag] = json.loads(self._blobs.read(artifact.sha256, artifact.size_bytes))
            except (StoreError, OSError, ValueError) as exc:
                log.warning("SHAP summary of %s unreadable: %s", version.tag, exc)
        return loaded
