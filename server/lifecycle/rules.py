"""Evidence-based moves: promote a shadow that wins, roll a promotion back when it loses live.

Under ``versioning.promotion.mode: auto`` the server promotes a shadow whose paired comparison
over at least ``versioning.promotion.min_labels`` labelled rows is a significant win. After any
promotion from shadow the previous champion shadows the new one; if, within
``versioning.promotion.watch_windows`` labelled windows (counted from the one in which the
paired rows reach ``min_labels``), the new champion's realised F1 falls
below the old one's by more than the margin on the same rows, the server rolls back. Every
move is a ``model_events`` row with actor, reason and the comparison as evidence.
"""

from __future__ import annotations

import logging
from typing import Any

from server.errors import Conflict
from server.lifecycle import challenge
from server.lifecycle.shadow import Shadows
from server.store import repo

log = logging.getLogger(__name__)


def _watched_windows(comparison: dict[str, Any], min_labels: int) -> int:
    """Windows of the watch since the paired rows first reached ``min_labels`` (that one counts).

    The watch starts when there is evidence: on hourly windows of ~120 labels a watch of three
    windows from the promotion itself ended before any verdict was allowed, so no promotion
    could ever be rolled back.
    """
    windows = sorted(comparison["windows"], key=lambda w: w["start"])
    total = 0
    for index, window in enumerate(windows):
        total += window["labelled"]
        if total >= min_labels:
            return len(windows) - index
    return 0


class ChallengerRules:
    """Promotion of shadows (by hand or by rule) and the automatic rollback watch."""

    def __init__(self, config, sessions, registry, shadows: Shadows) -> None:
        self._config = config
        self._sessions = sessions
        self._registry = registry
        self._shadows = shadows

    async def promote(self, tag: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Make a shadow the champion with its comparison attached; the old champion shadows it."""
        if tag not in self._shadows.versions:
            raise Conflict(f"version {tag} is not in shadow: put it in shadow first "
                           f"(POST /api/versions/{tag}/shadow), or activate it by hand with a reason")
        async with self._sessions() as session:
            previous = await repo.active_version(session)
        # The evidence is against the champion being replaced, on the rows it served: rows another,
        # earlier champion served say nothing about this one.
        comparison = await challenge.compare(self._sessions, self._config, tag,
                                             served_by=previous.tag if previous else None)
        await self._shadows.set_shadow(tag, False, actor=actor, reason="promoted to champion")
        moved = await self._registry.activate(tag, actor=actor, kind="promoted", reason=reason, evidence={
            "comparison": comparison, "watch": {"previous": previous.tag if previous else None}})
        if previous is not None and not previous.pruned:
            await self._shadows.set_shadow(previous.tag, True, actor="rule",
                                           reason=f"previous champion, watched after {tag} was promoted")
        return {**moved, "comparison": comparison}

    async def evaluate(self) -> list[dict[str, Any]]:
        """One pass of the rules; returns the moves it made."""
        moves = []
        rollback = await self._watch_last_promotion()
        if rollback:
            moves.append(rollback)
        elif self._config.versioning.promotion.mode == "auto":
            async with self._sessions() as session:
                active = await repo.active_version(session)
            shadows = list(self._shadows.versions)
            # Several shadows tested against one champion: Bonferroni keeps the chance that any of
            # them is promoted on luck at the nominal level.
            alpha = challenge.SIGNIFICANCE / max(1, len(shadows))
            for tag in shadows:
                comparison = await challenge.compare(self._sessions, self._config, tag,
                                                     served_by=active.tag if active else None, alpha=alpha)
                if comparison["verdict"] == "challenger_better":
                    tests = comparison["evidence"]
                    delong_p = tests["delong"]["p_value"]
                    reason = (f"shadow won on {comparison['labelled']} paired labelled rows "
                              f"(McNemar p={tests['mcnemar']['p_value']:.3g}, DeLong p="
                              f"{'n/a' if delong_p is None else format(delong_p, '.3g')})")
                    moves.append(await self.promote(tag, actor="rule", reason=reason))
                    break  # one move per pass: the next pass sees the new champion
        return moves

    async def _watch_last_promotion(self) -> dict[str, Any] | None:
        async with self._sessions() as session:
            latest = await repo.list_events(session, limit=1, kinds=["activated", "rolled_back", "promoted"])
        if not latest or latest[0].kind != "promoted":
            return None
        event = latest[0]
        previous = ((event.evidence or {}).get("watch") or {}).get("previous")
        if not previous or previous not in self._shadows.versions:
            return None
        policy = self._config.versioning.promotion
        comparison = await challenge.compare(self._sessions, self._config, previous,
                                             served_by=event.version_tag)
        if comparison["evidence"] is None or _watched_windows(comparison, policy.min_labels) > policy.watch_windows:
            return None
        old_f1 = comparison["evidence"]["candidate"]["f1_score"]
        new_f1 = comparison["evidence"]["champion"]["f1_score"]
        if new_f1 >= old_f1 - policy.margin:
            return None
        reason = (f"realised F1 of {event.version_tag} {new_f1:.4f} fell below {previous}'s {old_f1:.4f} "
                  f"by more than {policy.margin} on {comparison['labelled']} paired labelled rows "
                  f"within {policy.watch_windows} windows of its promotion")
        await self._shadows.set_shadow(previous, False, actor="rule", reason="rolled back to")
        moved = await self._registry.activate(previous, actor="rule", kind="rolled_back", reason=reason,
                                              evidence={"comparison": comparison})
        log.warning("automatic rollback: %s", reason)
        return moved
