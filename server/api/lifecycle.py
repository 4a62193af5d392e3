"""The decision threshold as an audited setting, and the promotion decisions behind versions."""
from __future__ import annotations

import math
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from server import keys
from server.api.common import json_response, query_int, read_json
from server.api.openapi_spec import Param, documented
from server.api.parameters import TAG
from server.errors import NotFound, ValidationFailed
from server.lifecycle import challenge
from server.schemas.oversight import (
    PromoteBody,
    Promoted,
    ShadowBody,
    ShadowChanged,
    ShadowComparison,
    ShadowList,
)
from server.schemas.threshold import (
    Cost,
    Tag,
    ThresholdBody,
    ThresholdChanged,
    ThresholdCurve,
    ThresholdState,
)
from server.services.registry import check_tag, tag_problem
from server.store import repo, repo_lifecycle
from server.store.errors import NotFound as StoreNotFound

routes = web.RouteTableDef()
VERSION = Param("version", Tag, "Version tag YYYYMMDD_HHMMSS (default: the active version).")
COST_FN = Param("cost_fn", Cost, "Cost of a missed congestion.")
COST_FP = Param("cost_fp", Cost, "Cost of a false alarm.")
CHANGES_LIMIT = Param("limit", Annotated[int, Field(ge=1, le=1000)], "How many changes.", default=50)
MAX_COST = 1e9
MAX_REASON = 500


def _cost(raw: Any, name: str, default: float, errors: dict[str, str]) -> float:
    """A non-negative finite cost (query text or JSON number); otherwise noted in `errors` under its name."""
    if raw is None:
        return default
    try:
        value = float(raw) if not isinstance(raw, bool) and len(str(raw)) <= 32 else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= MAX_COST):
        errors[name] = f"expected a number between 0 and {MAX_COST:g}"
        return default
    return value


def _tag(raw: Any, errors: dict[str, str]) -> str | None:
    """The `version` tag of a query or body (None: the active version); otherwise noted in `errors`."""
    if raw is None:
        return None
    problem = tag_problem(raw)
    if problem:
        errors["version"] = problem
        return None
    return raw


def _refuse(errors: dict[str, str], what: str) -> None:
    """One 400 naming every bad field at once, if there is any ("invalid threshold change: a, b")."""
    if errors:
        raise ValidationFailed(f"{what}: {', '.join(errors)}", fields=errors)


def _refuse_query(errors: dict[str, str]) -> None:
    """`_refuse` for query parameters: "invalid query parameter(s): ..."."""
    _refuse(errors, "invalid query parameter" + ("s" if len(errors) > 1 else ""))


async def _version(request: web.Request, tag: str | None):
    """The named version, or the active one; 404 (naming `version`) when there is none."""
    async with request.app[keys.SESSIONS]() as session:
        if tag is None:
            version = await repo.active_version(session)
            if version is None:
                raise NotFound("no version is active; train one first")
            return version
        try:
            return await repo.get_version_by_tag(session, tag)
        except StoreNotFound:
            raise NotFound(f"model version {tag!r} does not exist",
                           fields={"version": "no such version"}) from None


@routes.get("/api/threshold/curve")
@documented("Precision, recall, F1, confusion counts and expected cost per threshold; the cost minimum",
            answer=ThresholdCurve, errors=(400, 404, 409), tag="threshold", params=[VERSION, COST_FN, COST_FP])
async def threshold_curve(request: web.Request) -> web.Response:
    """Per threshold: precision, recall, F1, confusion counts and expected cost; the cost minimum."""
    config, errors = request.app[keys.CONFIG], {}
    cost_fn = _cost(request.query.get("cost_fn"), "cost_fn", config.threshold.cost_fn, errors)
    cost_fp = _cost(request.query.get("cost_fp"), "cost_fp", config.threshold.cost_fp, errors)
    tag = _tag(request.query.get("version"), errors)
    _refuse_query(errors)
    version = await _version(request, tag)
    curve = await request.app[keys.REGISTRY].thresholds.curve(version, cost_fn, cost_fp)
    return json_response(curve)


@routes.get("/api/threshold")
@documented("The live decision threshold of the active (or a named) version and its audited changes",
            answer=ThresholdState, errors=(400, 404), tag="threshold", params=[VERSION, CHANGES_LIMIT])
async def threshold_history(request: web.Request) -> web.Response:
    """The live threshold of the active (or a named) version and its audited changes."""
    errors: dict[str, str] = {}
    tag = _tag(request.query.get("version"), errors)
    try:
        limit = query_int(request, "limit", 50, 1, 1000)
    except ValidationFailed as exc:
        errors |= exc.fields
    _refuse_query(errors)
    version = await _version(request, tag)
    async with request.app[keys.SESSIONS]() as session:
        events = await repo_lifecycle.lifecycle_events(session, limit=1000)
    changes = [{"id": e.id, "at": e.created_at, "actor": e.actor, "reason": e.reason, **(e.evidence or {})}
               for e in events if e.kind == "threshold_changed" and e.version_id == version.id][:limit]
    thresholds = request.app[keys.REGISTRY].thresholds
    return json_response({"version": version.tag, "threshold": thresholds.for_version(version.tag),
                          "default": thresholds.default, "changes": changes})


def _threshold_body(body: Any, config) -> dict[str, Any]:
    """The change a POST asks for; one 400 naming every bad field of the body at once."""
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "expected an object"})
    errors: dict[str, str] = {}
    for name in sorted(set(body) - {"threshold", "reason", "version", "cost_fn", "cost_fp"}):
        errors[name] = "unknown field"
    threshold = body.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        errors["threshold"] = "required: a number between 0 and 1"
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        errors["reason"] = f"required: why the threshold changes (1..{MAX_REASON} characters)"
    version = _tag(body.get("version"), errors)
    cost_fn = _cost(body.get("cost_fn"), "cost_fn", config.threshold.cost_fn, errors)
    cost_fp = _cost(body.get("cost_fp"), "cost_fp", config.threshold.cost_fp, errors)
    _refuse(errors, "invalid threshold change")
    return {"threshold": float(threshold), "reason": reason.strip(), "version": version,
            "cost_fn": cost_fn, "cost_fp": cost_fp}


@routes.post("/api/threshold")
@documented("Set the serving threshold without retraining (an audited threshold_changed event)",
            answer=ThresholdChanged, body=ThresholdBody, errors=(400, 401, 404, 409, 415), tag="threshold")
async def change_threshold(request: web.Request) -> web.Response:
    """Set the serving threshold without retraining, as an audited ``threshold_changed`` event."""
    change = _threshold_body(await read_json(request), request.app[keys.CONFIG])
    version = await _version(request, change["version"])
    result = await request.app[keys.REGISTRY].thresholds.change(
        version, change["threshold"], reason=change["reason"], actor="api",
        cost_fn=change["cost_fn"], cost_fp=change["cost_fp"])
    request.app[keys.EVENTS].publish({"type": "threshold_changed", **result})
    return json_response(result)


def _reason(body: Any, *, required: bool) -> str | None:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "expected an object"})
    reason = body.get("reason")
    if reason is None and not required:
        return None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ValidationFailed("invalid reason", fields={"reason": f"required: 1..{MAX_REASON} characters"})
    return reason.strip()


@routes.post("/api/versions/{timestamp}/shadow")
@documented("Put a version in shadow: it scores live traffic off the response path", answer=ShadowChanged,
            body=ShadowBody, body_required=False, errors=(400, 401, 404, 409, 410, 415), tag="versions", params=[TAG])
async def shadow_on(request: web.Request) -> web.Response:
    """Put a registered version in shadow: it scores live traffic beside the champion."""
    tag = check_tag(request.match_info["timestamp"])
    body = await read_json(request, optional=True)
    reason = _reason(body, required=False)
    if isinstance(body, dict) and set(body) - {"reason"}:
        raise ValidationFailed("unknown field", fields={k: "unknown field" for k in set(body) - {"reason"}})
    return json_response(await request.app[keys.SHADOWS].set_shadow(tag, True, actor="api", reason=reason))


@routes.delete("/api/versions/{timestamp}/shadow")
@documented("Stop shadowing a version", answer=ShadowChanged, errors=(400, 401, 404), tag="versions", params=[TAG])
async def shadow_off(request: web.Request) -> web.Response:
    """Stop shadowing a version (its scores so far stay in shadow_predictions)."""
    tag = check_tag(request.match_info["timestamp"])
    return json_response(await request.app[keys.SHADOWS].set_shadow(tag, False, actor="api", reason=None))


@routes.get("/api/versions/{timestamp}/shadow")
@documented("The shadow's paired comparison with the champion on the same labelled rows", answer=ShadowComparison,
            errors=(400, 404), tag="versions", params=[TAG])
async def shadow_comparison(request: web.Request) -> web.Response:
    """The shadow's paired comparison with the champion on the same labelled live rows."""
    tag = check_tag(request.match_info["timestamp"])
    config = request.app[keys.CONFIG]
    async with request.app[keys.SESSIONS]() as session:
        await repo.get_version_by_tag(session, tag)  # 404 for an unknown version
    comparison = await challenge.compare(request.app[keys.SESSIONS], config, tag)
    shadows = request.app[keys.SHADOWS]
    return json_response({**comparison, "shadow": tag in shadows.versions, "scored": shadows.scored,
                          "dropped": shadows.dropped})


@routes.get("/api/shadows")
@documented("Versions in shadow with their verdicts so far", answer=ShadowList, tag="versions")
async def shadow_list(request: web.Request) -> web.Response:
    """The versions in shadow now, each with its verdict so far."""
    shadows = request.app[keys.SHADOWS]
    config = request.app[keys.CONFIG]
    out = []
    for tag in shadows.versions:
        comparison = await challenge.compare(request.app[keys.SESSIONS], config, tag)
        out.append({k: comparison[k] for k in ("version", "labelled", "min_labels", "verdict")})
    return json_response({"shadows": out, "scored": shadows.scored, "dropped": shadows.dropped})


@routes.post("/api/versions/{timestamp}/promote")
@documented("Promote a shadow to champion with its paired evidence (the old champion then shadows it)",
            answer=Promoted, body=PromoteBody, errors=(400, 401, 404, 409, 415), tag="versions", params=[TAG])
async def promote(request: web.Request) -> web.Response:
    """Promote a shadow to champion with its paired evidence attached; the old champion shadows it."""
    tag = check_tag(request.match_info["timestamp"])
    reason = _reason(await read_json(request, optional=True), required=True)
    result = await request.app[keys.RULES].promote(tag, actor="api", reason=reason)
    return json_response({"status": "ok", **result})
