"""POST /api/predict: validated flow records in, probabilities and decisions out."""
from __future__ import annotations

from aiohttp import web

from server import keys
from server.api.common import json_response, query_bool, read_json
from server.api.openapi_spec import documented
from server.api.parameters import OBSERVE, README_FLOW, THRESHOLD
from server.schemas import check_records, query_threshold
from server.schemas.answers import Prediction
from server.schemas.requests import PredictBody
from server.security import charge_records

routes = web.RouteTableDef()

# Why posting the same flow twice changes its answer; one constant string on single observed answers.
OBSERVED_NOTE = ("counted in the online windows: posting this flow again changes its window features "
                 "and probability; add ?observe=false for what-if queries")


@routes.post("/api/predict")
@documented("Predict congestion for one flow or a list of flows (same order)",
            answer=Prediction | list[Prediction], body=PredictBody, errors=(400, 413, 415, 429, 503),
            tag="predict", params=[THRESHOLD, OBSERVE], example=README_FLOW,
            answer_example={"prediction_id": "01a235a50478e2813b1c00000000000a", "probability": 0.0731,
                            "prediction": 0, "threshold": 0.5, "version": "20261202_072847", "warnings": [],
                            "note": OBSERVED_NOTE})
async def predict(request: web.Request) -> web.Response:
    """One record -> one answer; a list -> a list in the same order. `?threshold=` per call."""
    app = request.app
    config = app[keys.CONFIG]
    explicit = query_threshold(request, None)
    body = await read_json(request)
    records, is_batch = check_records(body, config.api.max_batch)
    charge_records(request, len(records))  # the rate limit counts records, not requests
    observe = query_bool(request, "observe", default=True)
    plain = [r.record for r in records]
    result = await app[keys.INFERENCE].predict(plain, observe=observe)
    # The version that scored decides at its own live threshold (POST /api/threshold sets it).
    threshold = explicit if explicit is not None else app[keys.REGISTRY].thresholds.for_version(result.version)
    # The one place a scored request is complete: records, probabilities, threshold, version.
    ids = app[keys.MONITORING].recorder.record(plain, result.probabilities, threshold,
                                               result.version, log_it=observe)
    app[keys.SHADOWS].offer(ids, plain, observe)  # off the response path: an append
    if observe:
        app[keys.DRIFT].observe(plain, result.probabilities, result.version)
    decisions = [int(p >= threshold) for p in result.probabilities]
    answers = [
        {"prediction_id": i, "probability": p, "prediction": d, "threshold": threshold,
         "version": result.version, "warnings": [*r.warnings, *result.warnings]}
        for i, r, p, d in zip(ids, records, result.probabilities, decisions)
    ]
    app[keys.METRICS].count_decisions(sum(decisions), len(decisions))
    if is_batch:
        return json_response(answers)
    if observe:
        answers[0]["note"] = OBSERVED_NOTE
    return json_response(answers[0])
