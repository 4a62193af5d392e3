"""The OpenAPI 3.1 document describing every route (a test keeps it and the router in step)."""
from __future__ import annotations

from typing import Any

from server.schemas import NUMBER_RULES

ERROR = {"$ref": "#/components/responses/Error"}
JSON_OBJECT = {"type": "object", "additionalProperties": True}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: dict[str, Any] | None = None, *, errors: tuple[int, ...] = (400,), tag: str = "api",
        params: list | None = None, body: dict | None = None, ok_status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag],
                          "responses": {ok_status: ok or _json(JSON_OBJECT), **{str(c): ERROR for c in errors}}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _p(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


THRESHOLD = _q("threshold", {"type": "number", "minimum": 0, "maximum": 1},
               "Decision threshold for this call (default `api.default_threshold`).")
HTML = {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}

def _number(name: str, **extra: Any) -> dict[str, Any]:
    """A numeric record field's schema, from the validator's own bounds."""
    low, high, integer = NUMBER_RULES[name]
    return {"type": "integer" if integer else "number", "minimum": low, "maximum": high, **extra}


FLOW_RECORD = {
    "type": "object",
    "required": ["packet_size", "bytes_sent", "source_ip", "dest_ip", "protocol"],
    "additionalProperties": True,
    "description": "One network flow. Unknown fields are ignored and named in `warnings`.",
    "properties": {
        "packet_size": _number("packet_size"),
        "bytes_sent": _number("bytes_sent"),
        "source_ip": {"type": "string", "description": "IPv4 or IPv6 address", "maxLength": 64},
        "dest_ip": {"type": "string", "description": "IPv4 or IPv6 address", "maxLength": 64},
        "protocol": {"type": "string", "minLength": 1, "maxLength": 64,
                     "description": "Name or IANA number; unknown protocols map to `protocol_other`."},
        "timestamp_seconds": _number("timestamp_seconds", description="Unix seconds; defaults to now."),
        "hour": _number("hour", description="Hour of day; derived from the timestamp (UTC) when omitted."),
    },
    "example": {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
                "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12},
}
WARNINGS = {"type": "array", "items": {"type": "string"}}
PREDICTION = {
    "type": "object", "required": ["prediction_id", "probability", "prediction", "threshold", "version", "warnings"],
    "properties": {"prediction_id": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                                     "description": "Time-ordered id of this logged prediction; feedback labels refer to it."},
                   "probability": {"type": "number", "minimum": 0, "maximum": 1},
                   "prediction": {"type": "integer", "enum": [0, 1]},
                   "threshold": {"type": "number"}, "version": {"type": "string"}, "warnings": WARNINGS,
                   "note": {"type": "string", "description": (
                       "Single observed records only: the flow joined the online windows, so posting it "
                       "again changes its window features; `?observe=false` asks without counting.")}},
}
GLOSSARY = {
    "type": "object", "required": ["version", "features", "groups", "terms"],
    "properties": {
        "version": {"type": "string"},
        "features": {"type": "array", "items": {"type": "object", "required": ["name", "group", "description"],
                                                 "properties": {"name": {"type": "string"}, "group": {"type": "string"},
                                                                "description": {"type": "string"}}}},
        "groups": {"type": "object", "additionalProperties": {"type": "string"}},
        "terms": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
CONTRIBUTION = {
    "type": "object", "required": ["feature", "value", "shap", "percent", "cumulative_percent"],
    "properties": {"feature": {"type": "string"}, "value": {},
                   "shap": {"type": "number", "description": "Contribution in probability units."},
                   "percent": {"type": "number"}, "cumulative_percent": {"type": "number"}},
}
EXPLANATION = {
    "type": "object",
    "required": ["probability", "threshold", "decision", "expected_value", "version", "contributions", "warnings"],
    "properties": {"probability": {"type": "number"}, "threshold": {"type": "number"},
                   "decision": {"type": "integer", "enum": [0, 1]}, "expected_value": {"type": "number"},
                   "version": {"type": "string"}, "model_type": {"type": "string"},
                   "contributions": {"type": "array", "items": {"$ref": "#/components/schemas/Contribution"}},
                   "warnings": WARNINGS},
}
IMPORTANCE = {"type": "array", "items": {"type": "object", "properties": {
    "feature": {"type": "string"}, "importance": {"type": "number"}}}}
TRAIN_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "model_type": {"type": "string", "enum": ["random_forest", "xgboost"]},
    "search_iterations": {"type": "integer", "minimum": 1, "maximum": 200},
    "rows": {"type": "integer", "minimum": 500, "maximum": 2000000},
    "generate_data": {"type": "boolean"}}}
TAG_P = _p("timestamp", {"type": "string", "pattern": r"^\d{8}_\d{6}$"}, "Version tag YYYYMMDD_HHMMSS.")
VERSION_Q = _q("version", {"type": "string", "pattern": r"^\d{8}_\d{6}$"},
               "Version tag YYYYMMDD_HHMMSS (default: the active version).")
THRESHOLD_BODY = {"type": "object", "additionalProperties": False, "required": ["threshold", "reason"],
                  "properties": {"threshold": {"type": "number", "minimum": 0, "maximum": 1},
                                 "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                                 "version": {"type": "string", "pattern": r"^\d{8}_\d{6}$"},
                                 "cost_fn": {"type": "number", "minimum": 0},
                                 "cost_fp": {"type": "number", "minimum": 0}}}
RUN_ID = _p("run_id", {"type": "integer", "minimum": 1}, "Training run id.")
ALERT_ID = _p("alert_id", {"type": "integer", "minimum": 1}, "Alert id.")

# Pickles are octet-stream, metrics/SHAP/distribution summaries JSON, plots PNG.
ARTIFACT_FILE = {"description": "the artifact's bytes, verified against its sha256 (X-Content-SHA256)",
                 "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                             "application/json": {"schema": {}},
                             "image/png": {"schema": {"type": "string", "format": "binary"}}}}

FEEDBACK_ITEM = {"type": "object", "required": ["congestion"], "properties": {
    "prediction_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "source_ip": {"type": "string"}, "dest_ip": {"type": "string"},
    "timestamp_seconds": {"type": "integer", "minimum": 0},
    "congestion": {"type": "integer", "enum": [0, 1]}}}
FEEDBACK_ANSWER = {"type": "object", "required": ["accepted", "unknown", "replaced"], "properties": {
    "accepted": {"type": "integer"}, "replaced": {"type": "integer"}, "unchanged": {"type": "integer"},
    "unknown": {"type": "array", "items": {"type": "object"}},
    "invalid": {"type": "array", "items": {"type": "object", "properties": {
        "index": {"type": "integer"}, "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}
_METRICS = {"type": ["object", "null"], "properties": {
    k: {"type": ["number", "null"]} for k in ("precision", "recall", "f1", "roc_auc", "brier")}}
WINDOW = {"type": "object", "required": ["start", "end", "version", "predictions", "positive_rate", "labelled",
                                         "label_coverage", "realised", "estimated"],
          "properties": {"start": {"type": "string", "format": "date-time"},
                         "end": {"type": "string", "format": "date-time"},
                         "start_timestamp": {"type": "integer"}, "version": {"type": "string"},
                         "predictions": {"type": "integer"}, "positive_rate": {"type": ["number", "null"]},
                         "mean_probability": {"type": ["number", "null"]}, "labelled": {"type": "integer"},
                         "label_coverage": {"type": ["number", "null"]},
                         "label_lag_p50_s": {"type": ["number", "null"]},
                         "label_lag_p95_s": {"type": ["number", "null"]},
                         "realised": _METRICS, "estimated": _METRICS}}

PATHS: dict[str, dict[str, Any]] = {
    "/": {"get": _op("Index page", HTML, errors=(), tag="pages")},
    "/dashboard": {"get": _op("Monitoring dashboard", HTML, errors=(), tag="pages")},
    "/predict": {"get": _op("Prediction form", HTML, errors=(), tag="pages")},
    "/healthz": {"get": _op("Liveness", errors=(), tag="health")},
    "/metrics": {"get": _op("Prometheus metrics (text exposition format)",
                            {"description": "Prometheus text format",
                             "content": {"text/plain": {"schema": {"type": "string"}}}},
                            errors=(), tag="health")},
    "/readyz": {"get": _op("Readiness: schema at head, model loaded, degraded reason", errors=(503,), tag="health")},
    "/api/predict": {"post": _op(
        "Predict congestion for one flow or a list of flows (same order)",
        _json({"oneOf": [{"$ref": "#/components/schemas/Prediction"},
                         {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}]}),
        errors=(400, 413, 415, 503), tag="predict",
        params=[THRESHOLD, _q("observe", {"type": "boolean", "default": True},
                              "Add the flows to the online window state (false: a what-if query).")],
        body={"oneOf": [{"$ref": "#/components/schemas/FlowRecord"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/FlowRecord"}, "minItems": 1}]})},
    "/api/explain": {"post": _op(
        "Local SHAP explanation of one flow; expected_value + sum(shap) = probability",
        _json({"$ref": "#/components/schemas/Explanation"}), errors=(400, 413, 415, 503), tag="predict",
        params=[THRESHOLD, _q("n", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                              "Top contributions to list; the rest are summed into `other`."),
                _q("collapse_pairs", {"type": "boolean", "default": False},
                   "Sum engineered columns per raw field (hour sin/cos, IP int/flag, protocol one-hots).")],
        body={"$ref": "#/components/schemas/FlowRecord"})},
    "/api/explain/global": {"get": _op(
        "Global mean |SHAP| of the active version, per feature and per raw field",
        _json({"type": "object", "properties": {"version": {"type": "string"}, "groups": IMPORTANCE,
                                                 "features": IMPORTANCE}}), errors=(404,), tag="predict")},
    "/api/glossary": {"get": _op(
        "What each feature of the active version and each explanation term means (the dashboard's tooltips)",
        _json(GLOSSARY), errors=(404,), tag="predict")},
    "/api/openapi.json": {"get": _op("This document", errors=(), tag="docs")},
    "/api/docs": {"get": _op("Readable API documentation", HTML, errors=(), tag="docs")},
    "/api/train": {"post": _op("Train and wait for the outcome", errors=(400, 409, 415), tag="training",
                               params=[_q("generate_data", {"type": "boolean"}, "Generate fresh data first.")],
                               body=TRAIN_BODY)},
    "/api/train/async": {"post": _op("Start a training run; answers at once", errors=(400, 409, 415),
                                     tag="training", ok_status="202", body=TRAIN_BODY,
                                     params=[_q("generate_data", {"type": "boolean"}, "Generate fresh data first.")])},
    "/api/train/{run_id}/cancel": {"post": _op("Cancel the active run", errors=(400, 404, 409),
                                               tag="training", params=[RUN_ID])},
    "/api/train/runs": {"get": _op("Recent training runs", tag="training", params=[
        _q("limit", {"type": "integer", "minimum": 1}, "How many runs.")])},
    "/api/train/runs/{run_id}": {"get": _op("One training run with its phases", errors=(400, 404),
                                            tag="training", params=[RUN_ID])},
    "/api/train/events": {"get": _op("Server-sent training events", {
        "description": "event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        errors=(), tag="training")},
    "/ws": {"get": _op("WebSocket: training progress and model events", {"description": "Switching protocols"},
                       errors=(400, 401, 403), tag="training", ok_status="101")},
    "/api/versions/detail": {"get": _op("Every model version with metrics and flags", errors=(), tag="versions")},
    "/api/versions/rollback/{timestamp}": {"post": _op(
        "Activate an older version", errors=(400, 404, 409, 410), tag="versions",
        params=[_p("timestamp", {"type": "string", "pattern": r"^\d{8}_\d{6}$"}, "Version tag YYYYMMDD_HHMMSS.")])},
    "/api/versions/prune": {"post": _op("Apply the retention policy now", errors=(), tag="versions")},
    "/api/metrics": {"get": _op("Metrics of the active version", errors=(404,), tag="versions")},
    "/api/metrics/history": {"get": _op("Metrics of every version over time", errors=(), tag="versions")},
    "/api/threshold": {
        "get": _op("The live decision threshold of the active (or a named) version and its audited changes",
                   errors=(400, 404), tag="threshold",
                   params=[VERSION_Q, _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                                         "How many changes.")]),
        "post": _op("Set the serving threshold without retraining (an audited threshold_changed event)",
                    errors=(400, 401, 404, 409, 415), tag="threshold", body=THRESHOLD_BODY)},
    "/api/versions/{timestamp}/shadow": {
        "post": _op("Put a version in shadow: it scores live traffic off the response path",
                    errors=(400, 401, 404, 409, 410, 415), tag="versions", params=[TAG_P],
                    body={"type": "object", "additionalProperties": False,
                          "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}}),
        "delete": _op("Stop shadowing a version", errors=(400, 401, 404), tag="versions", params=[TAG_P]),
        "get": _op("The shadow's paired comparison with the champion on the same labelled rows",
                   errors=(400, 404), tag="versions", params=[TAG_P])},
    "/api/versions/{timestamp}/promote": {"post": _op(
        "Promote a shadow to champion with its paired evidence (the old champion then shadows it)",
        errors=(400, 401, 404, 409, 415), tag="versions", params=[TAG_P],
        body={"type": "object", "additionalProperties": False, "required": ["reason"],
              "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}})},
    "/api/shadows": {"get": _op("Versions in shadow with their verdicts so far", errors=(), tag="versions")},
    "/api/threshold/curve": {"get": _op(
        "Precision, recall, F1, confusion counts and expected cost per threshold; the cost minimum",
        errors=(400, 404, 409), tag="threshold",
        params=[VERSION_Q, _q("cost_fn", {"type": "number", "minimum": 0}, "Cost of a missed congestion."),
                _q("cost_fp", {"type": "number", "minimum": 0}, "Cost of a false alarm.")])},
    "/api/feedback": {"post": _op(
        "Delayed labels for logged predictions, by prediction_id or by flow (idempotent; replacements counted)",
        _json(FEEDBACK_ANSWER), errors=(400, 413, 415), tag="monitoring",
        body={"type": "array", "minItems": 1, "items": FEEDBACK_ITEM})},
    "/api/monitoring/windows": {"get": _op(
        "Monitoring windows (event time) per version, newest first: realised and CBPE-estimated metrics",
        _json({"type": "array", "items": WINDOW}), errors=(400,), tag="monitoring",
        params=[_q("version", {"type": "string", "pattern": r"^\d{8}_\d{6}$"}, "Only this version."),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 24},
                   "How many windows (the newest).")])},
    "/api/monitoring/summary": {"get": _op(
        "The latest window of a version (default: the active one) beside its training-time baseline",
        _json({"type": "object", "properties": {"version": {"type": ["string", "null"]},
                                                 "latest": {"oneOf": [WINDOW, {"type": "null"}]},
                                                 "baseline": {"type": ["object", "null"]}}}),
        errors=(400,), tag="monitoring",
        params=[_q("version", {"type": "string", "pattern": r"^\d{8}_\d{6}$"}, "Version tag.")])},
    "/download/{what}": {"get": _op(
        "Download the active version's model, scaler or metrics", ARTIFACT_FILE,
        errors=(400, 404, 410), tag="downloads",
        params=[_p("what", {"type": "string", "enum": ["model", "scaler", "metrics"]}, "Which artifact.")])},
    "/api/drift": {"get": _op(
        "Drift per monitoring window, newest first: each column's test, statistic, threshold and verdict; "
        "dataset verdict; prediction and attribution drift; named segments", tag="monitoring",
        params=[_q("version", {"type": "string", "pattern": r"^\d{8}_\d{6}$"}, "Only this version's windows."),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 24}, "How many windows.")])},
    "/api/alerts": {"get": _op("Alerts, newest first", tag="monitoring", params=[
        _q("status", {"type": "string", "enum": ["open", "acknowledged", "resolved", "all"], "default": "all"},
           "Only alerts in this state."),
        _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "How many alerts.")])},
    "/api/alerts/{alert_id}/ack": {"post": _op(
        "Acknowledge an alert (optional body {\"by\": name})", errors=(400, 401, 404, 415), tag="monitoring",
        params=[ALERT_ID])},
    "/api/alerts/{alert_id}/deliveries": {"get": _op(
        "Webhook delivery attempts of an alert", errors=(400,), tag="monitoring", params=[ALERT_ID])},
    "/download/version/{file}": {"get": _op(
        "Download a registered artifact by file name", ARTIFACT_FILE,
        errors=(400, 404, 409, 410), tag="downloads",
        params=[_p("file", {"type": "string", "maxLength": 200}, "Artifact file name."),
                _q("inline", {"type": "string", "enum": ["1"]},
                   "Show a PNG or JSON artifact in the browser (`inline` disposition) instead of saving it.")])},
}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Congestion monitor API", "version": "0.1.0",
                 "description": "Network-traffic congestion prediction, explanation, training and model versions."},
        "paths": PATHS,
        "components": {
            "schemas": {"FlowRecord": FLOW_RECORD, "Prediction": PREDICTION, "Explanation": EXPLANATION,
                        "Contribution": CONTRIBUTION, "Error": error},
            "responses": {"Error": _json({"$ref": "#/components/schemas/Error"},
                                         "Error in the common envelope; `fields` names each bad input")},
        },
    }
