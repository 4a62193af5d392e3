"""POST /api/explain (local SHAP for one flow) and GET /api/explain/global."""
from __future__ import annotations

from aiohttp import web

from server import keys
from server.api.common import json_response, query_bool, query_int, read_json
from server.api.openapi_spec import documented
from server.api.parameters import COLLAPSE_PAIRS, README_EXPLAIN_FLOW, THRESHOLD, TOP_N
from server.errors import NotFound
from server.schemas import FlowRecord, check_records, query_threshold
from server.schemas.answers import Explanation, GlobalExplanation
from server.security import charge_records

routes = web.RouteTableDef()

MAX_TOP = 100


@routes.post("/api/explain")
@documented("Local SHAP explanation of one flow; expected_value + sum(shap) = probability",
            answer=Explanation, body=FlowRecord, errors=(400, 413, 415, 429, 503), tag="predict",
            params=[THRESHOLD, TOP_N, COLLAPSE_PAIRS], example=README_EXPLAIN_FLOW)
async def explain(request: web.Request) -> web.Response:
    """Contributions sorted by |shap|: the `n` top ones plus `other`; they add up to the probability."""
    explicit = query_threshold(request, None)
    n = query_int(request, "n", 10, 1, MAX_TOP)
    collapse = query_bool(request, "collapse_pairs", False)
    body = await read_json(request)
    records, _ = check_records(body, 1)
    charge_records(request, len(records))
    out = await request.app[keys.INFERENCE].explain(records[0].record, n, collapse)
    threshold = explicit if explicit is not None else request.app[keys.REGISTRY].thresholds.for_version(out["version"])
    return json_response({
        "probability": out["probability"], "threshold": threshold,
        "decision": int(out["probability"] >= threshold), "expected_value": out["expected_value"],
        "version": out["version"], "model_type": out["model_type"], "contributions": out["contributions"],
        "warnings": [*records[0].warnings, *out["warnings"]],
    })


@routes.get("/api/explain/global")
@documented("Global mean |SHAP| of the active version, per feature and per raw field",
            answer=GlobalExplanation, errors=(404,), tag="predict")
async def explain_global(request: web.Request) -> web.Response:
    """The active version's cached global importance (grouped and per feature), or 404."""
    bundle = request.app[keys.INFERENCE].bundle
    if bundle is None or not bundle.shap_global:
        raise NotFound("no global explanation: no model version is active")
    summary = bundle.shap_global
    return json_response({"version": bundle.version, "model_type": bundle.model_type,
                          "groups": summary.get("groups", []), "features": summary.get("features", []),
                          **{k: v for k, v in summary.items() if k not in ("groups", "features")}})
