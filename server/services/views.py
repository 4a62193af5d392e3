"""Read-side projections of the registry for the API and the dashboard."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from server import keys
from server.ml.evaluate import bayes_ceiling
from server.store import repo, repo_lifecycle

TOP_SHAP = 5


def _top_shap(version, shap_cache: dict[str, Any]) -> list[dict[str, Any]]:
    summary = shap_cache.get(version.tag) or {}
    return list(summary.get("groups") or summary.get("features") or [])[:TOP_SHAP]


def metrics_body(version) -> dict[str, Any]:
    """A version's metrics under the seed's names (precision, recall, f1_score, auc_roc...)."""
    if version.metrics is None:
        return {}
    body = version.metrics.as_dict()
    body["bayes_ceiling"] = bayes_ceiling(body)  # None unless trained on generated data
    return body


def promotion_body(event) -> dict[str, Any] | None:
    """The promotion gate's decision for a version: outcome, reason and the same-rows evidence."""
    if event is None:
        return None
    comparison = (event.evidence or {}).get("comparison") or {}
    return {
        "outcome": event.kind, "reason": event.reason, "actor": event.actor, "at": event.created_at,
        "champion": comparison.get("champion_version"), "rows": comparison.get("rows"),
        "candidate_metrics": comparison.get("candidate"), "champion_metrics": comparison.get("champion"),
        "delta": comparison.get("delta"),
        "mcnemar_p": (comparison.get("mcnemar") or {}).get("p_value"),
        "delong_p": (comparison.get("delong") or {}).get("p_value"),
        "policy": (event.evidence or {}).get("policy"),
    }


def version_body(version, active_id: int | None, top_shap: list[dict[str, Any]],
                 decision=None, threshold: float | None = None) -> dict[str, Any]:
    """One row of /api/versions/detail."""
    return {
        "timestamp": version.tag,
        "model_type": version.model_type,
        "created_at": version.created_at,
        "run_id": version.run_id,
        "active": version.id == active_id,
        "pruned": version.pruned,
        "metrics": metrics_body(version),
        "params": dict(version.params),
        "phase_durations": dict(version.phase_durations),
        "shap_top": top_shap,
        "threshold": threshold,
        "promotion": promotion_body(decision),
        "artifacts": [
            {"name": a.name, "kind": a.kind, "size_bytes": a.size_bytes, "sha256": a.sha256,
             "url": None if version.pruned else f"/download/version/{a.name}"}
            for a in version.artifacts
        ],
    }


async def version_details(app: web.Application) -> list[dict[str, Any]]:
    """Every version, newest first, with metrics, SHAP top features and flags."""
    async with app[keys.SESSIONS]() as session:
        versions = await repo.list_versions(session, include_pruned=True)
        active = await repo.active_version(session)
        decisions = await repo_lifecycle.gate_decisions(session)
    registry = app[keys.REGISTRY]
    shap_cache = await registry.shap_summaries(versions)
    active_id = active.id if active else None
    ordered = sorted(versions, key=lambda v: v.created_at, reverse=True)
    return [version_body(v, active_id, _top_shap(v, shap_cache), decisions.get(v.id),
                         registry.thresholds.for_version(v.tag)) for v in ordered]


async def active_metrics(app: web.Application) -> dict[str, Any] | None:
    """The active version's metrics snapshot, or None when nothing is active."""
    async with app[keys.SESSIONS]() as session:
        active = await repo.active_version(session)
    if active is None or active.metrics is None:
        return None
    return {"version": active.tag, "model_type": active.model_type,
            "created_at": active.created_at, **metrics_body(active)}


async def metrics_history(app: web.Application, limit: int) -> list[dict[str, Any]]:
    """Training results and rollback events in time order (oldest first), deduplicated by version."""
    async with app[keys.SESSIONS]() as session:
        history = await repo.metrics_history(session, limit=limit)
    entries: list[dict[str, Any]] = [
        {"type": "trained", "version": p.tag, "model_type": p.model_type, "time": p.created_at,
         "pruned": p.pruned, **p.metrics.as_dict()}
        for p in history.points
    ]
    entries += [
        {"type": "rolled_back", "version": e.version_tag, "from_version": e.from_version_tag,
         "time": e.created_at, "actor": e.actor, "reason": e.reason}
        for e in history.rollbacks
    ]
    entries.sort(key=lambda e: e["time"])
    return entries[-limit:]


async def active_artifact_name(app: web.Application, kind: str) -> str | None:
    """The registered name of the active version's artifact of this kind."""
    async with app[keys.SESSIONS]() as session:
        active = await repo.active_version(session)
    if active is None:
        return None
    artifact = active.artifact(kind)
    return artifact.name if artifact else None
