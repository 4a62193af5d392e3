"""After training: gather the champion for the worker, then apply the gate's decision."""

from __future__ import annotations

import logging
from typing import Any

from server.lifecycle.gate import Decision, decide
from server.lifecycle.thresholds import Thresholds
from server.services.events import EventHub
from server.store import repo

log = logging.getLogger(__name__)


class Promotion:
    """Decides whether a freshly registered version replaces the active one, and records why."""

    def __init__(self, config, sessions, registry, hub: EventHub) -> None:
        self._config = config
        self._sessions = sessions
        self._registry = registry
        self._hub = hub
        self._thresholds: Thresholds = registry.thresholds

    @property
    def mode(self) -> str:
        versioning = self._config.versioning
        return "manual" if not versioning.auto_activate else versioning.promotion.mode

    async def champion(self) -> dict[str, Any] | None:
        """What the worker needs to score the active version on its hold-out (verified bytes)."""
        if self.mode != "auto" and self._config.model.update != "continue":
            return None  # nobody needs it: no gate to feed, nothing to continue from
        async with self._sessions() as session:
            active = await repo.active_version(session)
        artifact = active.artifact("pipeline") if active else None
        if artifact is None:
            return None
        try:
            pipeline = await self._registry.read_blob(artifact)
        except Exception as exc:  # the gate then holds the new version rather than guessing
            log.warning("cannot read the active version %s for the promotion gate: %s", active.tag, exc)
            return None
        return {"version": active.tag, "pipeline": pipeline, "model_type": active.model_type,
                "threshold": self._thresholds.for_version(active.tag)}

    async def after_training(self, tag: str, comparison: dict[str, Any] | None, *,
                             run_id: int) -> Decision:
        """Promote, reject or hold the new version; every outcome is an event with its evidence."""
        policy = self._config.versioning.promotion
        async with self._sessions() as session:
            active = await repo.active_version(session)
            version = await repo.get_version_by_tag(session, tag)
        decision = decide(self.mode, tuple(policy.metrics), float(policy.margin), comparison,
                          active.tag if active else None)
        evidence = {**decision.evidence, "run_id": run_id}
        if decision.promotes:
            await self._registry.activate(tag, actor="rule", kind="promoted", reason=decision.reason,
                                          evidence=evidence)
        else:
            async with self._sessions.begin() as session:
                await repo.add_event(session, kind=decision.outcome, version_id=version.id,
                                     from_version_id=active.id if active else None, actor="rule",
                                     reason=decision.reason, evidence=evidence)
        log.info("promotion gate: version %s %s: %s", tag, decision.outcome, decision.reason)
        self._hub.publish({"type": "promotion_decided", "run_id": run_id, "version": tag,
                           "outcome": decision.outcome, "reason": decision.reason,
                           "active": tag if decision.promotes else (active.tag if active else None),
                           "delta": (comparison or {}).get("delta")})
        return decision

    async def to_shadow(self, tag: str, shadows, *, run_id: int) -> None:
        """A retrained version never serves straight away: it shadows the champion first."""
        reason = f"retrained by run {run_id}; shadows the champion until the evidence says otherwise"
        if shadows is not None:
            if len(shadows.versions) >= shadows.capacity:  # the oldest challenger makes room
                oldest = shadows.versions[0]
                await shadows.set_shadow(oldest, False, actor="rule", reason=f"replaced by {tag}, retrained later")
            await shadows.set_shadow(tag, True, actor="rule", reason=reason)
        else:  # the CLI: record it; servers sharing the database start shadowing when they follow
            async with self._sessions.begin() as session:
                version = await repo.get_version_by_tag(session, tag)
                await repo.add_event(session, kind="shadow_started", version_id=version.id, actor="rule",
                                     reason=reason)
        self._hub.publish({"type": "promotion_decided", "run_id": run_id, "version": tag,
                           "outcome": "shadow", "reason": reason})
