"""HTTP routes, one module per resource."""
from server.api import downloads, health, metrics, training, versions, ws

ROUTE_TABLES = [health.routes, training.routes, versions.routes, metrics.routes,
                downloads.routes, ws.routes]
