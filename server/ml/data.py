"""Flow data entry points: generation, ingestion of user files and atomic writes."""

from .generator import generate_flows
from .ingest import load_flows, write_flows

__all__ = ["generate_flows", "load_flows", "write_flows"]
