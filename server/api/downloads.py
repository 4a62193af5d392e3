"""Artifact downloads; names resolve only through artifact rows, never the file system."""
from __future__ import annotations

import re

from aiohttp import web

from server import keys
from server.api.openapi_spec import documented
from server.api.parameters import ARTIFACT_CONTENT, ARTIFACT_DESCRIPTION, FILE, INLINE, WHAT
from server.errors import NotFound
from server.services import views

routes = web.RouteTableDef()

# Registered names look like model_20261126_070000.joblib; anything else cannot exist.
NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,64}_\d{8}_\d{6}\.(joblib|json|png)$")
ACTIVE_KINDS = {"model": "pipeline", "scaler": "preprocessor", "metrics": "metrics"}


# Types a browser may show in the page (the dashboard's plot lightbox); models always download.
INLINE_TYPES = frozenset({"image/png", "application/json"})


def _disposition(request: web.Request, artifact) -> str:
    """`inline` for a viewable artifact asked for with ?inline=1, else `attachment`."""
    inline = request.query.get("inline") == "1" and artifact.content_type in INLINE_TYPES
    return f'{"inline" if inline else "attachment"}; filename="{artifact.name}"'


async def _send(request: web.Request, name: str, cache_control: str) -> web.Response:
    artifact, data = await request.app[keys.REGISTRY].read_artifact(name)
    return web.Response(body=data, content_type=artifact.content_type, headers={
        "Content-Disposition": _disposition(request, artifact),
        "X-Content-SHA256": artifact.sha256,
        "Cache-Control": cache_control,
    })


@routes.get("/download/{what:model|scaler|metrics}")
@documented("Download the active version's model, scaler or metrics", content=ARTIFACT_CONTENT,
            description=ARTIFACT_DESCRIPTION, errors=(400, 404, 409, 410), tag="downloads", params=[WHAT])
async def download_active(request: web.Request) -> web.Response:
    """The active version's model pipeline, fitted preprocessing ("scaler") or metrics JSON."""
    kind = ACTIVE_KINDS[request.match_info["what"]]
    name = await views.active_artifact_name(request.app, kind)
    if name is None:
        raise NotFound("no active model version yet")
    # The active version changes with training and rollback: never cache this alias.
    return await _send(request, name, "no-cache")


@routes.get("/download/version/{file}")
@documented("Download a registered artifact by file name", content=ARTIFACT_CONTENT,
            description=ARTIFACT_DESCRIPTION, errors=(400, 404, 409, 410), tag="downloads", params=[FILE, INLINE])
async def download_version(request: web.Request) -> web.Response:
    """A versioned artifact by its registered file name."""
    name = request.match_info["file"]
    if not NAME_PATTERN.fullmatch(name):
        raise NotFound("no such artifact")
    # A registered name always means the same bytes (content-addressed, immutable).
    return await _send(request, name, "private, max-age=31536000, immutable")
