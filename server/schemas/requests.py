"""Request bodies besides the flow record (which lives in records.py)."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.records import FlowRecord

# One record or a non-empty list of them (answered as one answer or a list in the same order).
PredictBody = Union[FlowRecord, Annotated[list[FlowRecord], Field(min_length=1)]]


class TrainBody(BaseModel):
    """Overrides for one training run; an absent or null field takes the configured default."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"model_type": "xgboost"}})

    model_type: Literal["random_forest", "xgboost"] | None = None
    search_iterations: Annotated[int, Field(ge=1, le=200)] | None = None
    rows: Annotated[int, Field(ge=500, le=2_000_000, description="Rows of generated data.")] | None = None
    generate_data: bool | None = Field(None, description="Generate fresh data first (default false).")
    source: Literal["config", "feedback"] | None = Field(
        None, description="`feedback`: train on the labelled prediction log of [since, until).")
    since: int | str | None = Field(None, description="Flow time, Unix seconds or ISO 8601 (source feedback).")
    until: int | str | None = Field(None, description="Flow time, Unix seconds or ISO 8601 (source feedback).")
    shadow: bool | None = Field(None, description="Send the new version to shadow instead of the promotion gate.")


class RollbackBody(BaseModel):
    """Optional note recorded with the rollback event."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {"reason": "F1 dropped"}})

    reason: Annotated[str, Field(max_length=500)] | None = None
