"""Parameters, examples and non-JSON contents shared by the `@documented` entries of the routes."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from server.api.openapi_spec import Param

Probability = Annotated[float, Field(ge=0, le=1)]
Limit = Annotated[int, Field(ge=1, le=500)]

THRESHOLD = Param("threshold", Probability, "Decision threshold for this call (default `api.default_threshold`).")
OBSERVE = Param("observe", bool, "Add the flows to the online window state (false: a what-if query).", default=True)
TOP_N = Param("n", Annotated[int, Field(ge=1, le=100)], "Top contributions to list; the rest are summed into `other`.",
              default=10)
COLLAPSE_PAIRS = Param("collapse_pairs", bool, "Sum engineered columns per raw field "
                       "(hour sin/cos, IP int/flag, protocol one-hots).", default=False)
GENERATE_DATA = Param("generate_data", bool, "Generate fresh data first.")
LIMIT = Param("limit", Limit, "How many runs.", default=50)
HISTORY_LIMIT = Param("limit", Limit, "How many entries (the newest).", default=50)
RUN_ID = Param("run_id", Annotated[int, Field(ge=1, le=999_999_999_999)], "Training run id.", where="path")
TAG = Param("timestamp", Annotated[str, Field(pattern=r"^\d{8}_\d{6}$")], "Version tag YYYYMMDD_HHMMSS.", where="path")
WHAT = Param("what", Literal["model", "scaler", "metrics"], "Which artifact.", where="path")
FILE = Param("file", Annotated[str, Field(max_length=200)], "Artifact file name.", where="path")
INLINE = Param("inline", Literal["1"], "Show a PNG or JSON artifact in the browser (`inline` disposition) instead of saving it.")

# The README's quick-start bodies, so the docs page shows what a first user copies.
README_FLOW = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
               "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}
README_EXPLAIN_FLOW = {"packet_size": 1400, "bytes_sent": 900000, "source_ip": "10.1.2.3", "dest_ip": "10.0.0.50",
                       "protocol": "UDP", "timestamp_seconds": 1700049600}

# Pickles are octet-stream, metrics/SHAP/distribution summaries JSON, plots PNG.
ARTIFACT_CONTENT = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}}}
ARTIFACT_DESCRIPTION = "the artifact's bytes, verified against its sha256 (X-Content-SHA256)"
EVENT_STREAM = {"text/event-stream": {"schema": {"type": "string"}}}
