"""HTTP routes, one module per resource."""
from server import pages
from server.api import (downloads, drift, explain, feedback, glossary, health, lifecycle, metrics, monitoring,
                        openapi, predict, training, versions, ws)

ROUTE_TABLES = [health.routes, training.routes, versions.routes, metrics.routes,
                downloads.routes, ws.routes, pages.routes, predict.routes, explain.routes, glossary.routes,
                openapi.routes, lifecycle.routes, feedback.routes, monitoring.routes, drift.routes]
