"""The promotion gate: a new version serves only when the evidence says it is not worse.

``versioning.promotion.mode``: ``always`` activates every new version (the old behaviour);
``manual`` registers it and waits for a person; ``auto`` compares it with the active version
on the same evaluation rows and promotes it unless one of ``versioning.promotion.metrics`` is
worse by more than ``versioning.promotion.margin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODES = ("auto", "manual", "always")


@dataclass(frozen=True)
class Decision:
    """What the gate decided for one version, why, and on which evidence."""

    outcome: str            # "promoted" | "rejected" | "held"
    reason: str
    evidence: dict[str, Any]

    @property
    def promotes(self) -> bool:
        return self.outcome == "promoted"


def _worse(evidence: dict[str, Any], metrics: tuple[str, ...], margin: float) -> list[str]:
    """Metrics on which the candidate loses by more than the margin, described for people."""
    losses = []
    for name in metrics:
        cand, champ = evidence["candidate"].get(name), evidence["champion"].get(name)
        if cand is None or champ is None:
            continue
        if cand < champ - margin:
            losses.append(f"{name} {cand:.4f} vs {champ:.4f} ({cand - champ:+.4f})")
    return losses


def decide(mode: str, metrics: tuple[str, ...], margin: float, comparison: dict[str, Any] | None,
           active_tag: str | None) -> Decision:
    """Apply the configured policy to the worker's comparison with the champion."""
    policy = {"mode": mode, "metrics": list(metrics), "margin": margin}
    evidence = {"policy": policy, "comparison": comparison}
    if active_tag is None:
        return Decision("promoted", "no version was active", evidence)
    if mode == "always":
        return Decision("promoted", "versioning.promotion.mode is always", evidence)
    if mode == "manual":
        return Decision("held", f"versioning.promotion.mode is manual: {active_tag} keeps serving "
                        "until a person activates this version", evidence)
    if comparison is None:
        return Decision("held", f"no comparison with {active_tag} was made; it keeps serving", evidence)
    if comparison.get("champion_version") != active_tag:
        return Decision("held", f"the active version changed to {active_tag} during training; "
                        f"the evidence is against {comparison.get('champion_version')}", evidence)
    if not comparison.get("comparable"):
        return Decision("held", f"{active_tag} could not score the same rows "
                        f"({comparison.get('error')}); it keeps serving", evidence)
    losses = _worse(comparison, metrics, margin)
    rows = comparison["rows"]
    if losses:
        return Decision("rejected", f"worse than {active_tag} on the same {rows} rows by more than "
                        f"{margin}: " + "; ".join(losses), evidence)
    summary = ", ".join(f"{m} {comparison['delta'][m]:+.4f}" for m in metrics
                        if comparison["delta"].get(m) is not None)
    return Decision("promoted", f"not worse than {active_tag} by more than {margin} on the same "
                    f"{rows} rows ({summary})", evidence)
