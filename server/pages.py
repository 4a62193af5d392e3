"""HTML pages: the index, the monitoring dashboard and the predict form (data comes from the JSON API)."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from server import keys
from server.api.openapi_doc import document
from server.api.openapi_spec import HTML, documented
from server.services import views

routes = web.RouteTableDef()

PHASES = ("data", "features", "training", "scoring", "shap", "plots", "save")


def _common(request: web.Request) -> dict[str, Any]:
    """Values every page template needs (the active version's live threshold goes to JS via data-*)."""
    live = request.app[keys.REGISTRY].thresholds.for_version(request.app[keys.INFERENCE].version)
    return {"default_threshold": live}


@routes.get("/", name="index")
@documented("Index page", content=HTML, tag="pages")
@aiohttp_jinja2.template("index.html")
async def index(request: web.Request) -> dict[str, Any]:
    """What this is, the active model, quick links."""
    return {**_common(request), "page": "index", "active": await views.active_metrics(request.app)}


@routes.get("/dashboard", name="dashboard")
@documented("Monitoring dashboard", content=HTML, tag="pages")
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict[str, Any]:
    """The monitoring dashboard; its JS fetches everything from /api and /ws."""
    config = request.app[keys.CONFIG]
    costs = config.threshold
    return {**_common(request), "page": "dashboard", "phases": PHASES,
            "cost_fn": costs.cost_fn, "cost_fp": costs.cost_fp, "f1_drop": config.alerts.f1_drop}


@routes.get("/live", name="live")
@documented("Live monitoring: windows of predictions, labels, realised and estimated F1", content=HTML, tag="pages")
@aiohttp_jinja2.template("live.html")
async def live(request: web.Request) -> dict[str, Any]:
    """The Live page; its JS reads /api/monitoring/windows and follows /ws."""
    return {**_common(request), "page": "live", "window_s": request.app[keys.CONFIG].monitoring.window_s}


def form_limits() -> dict[str, dict[str, str]]:
    """min/max/step of each numeric form field, read from the API's published FlowRecord schema.

    That schema is built from the validator's own bounds, so the form cannot disagree with the API.
    """
    properties = document()["components"]["schemas"]["FlowRecord"]["properties"]
    limits = {}
    for name, schema in properties.items():
        if schema.get("type") in ("number", "integer"):
            limits[name] = {"min": f"{schema['minimum']:g}", "max": f"{schema['maximum']:.0f}",
                            "step": "1" if schema["type"] == "integer" else "any",
                            "range": f"{schema['minimum']:,.0f} to {schema['maximum']:,.0f}"}
    return limits


@routes.get("/predict", name="predict")
@documented("Prediction form", content=HTML, tag="pages")
@aiohttp_jinja2.template("predict.html")
async def predict(request: web.Request) -> dict[str, Any]:
    """The flow-record form with presets, randomise and an explanation of the result."""
    return {**_common(request), "page": "predict", "limits": form_limits()}
