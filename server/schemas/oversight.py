"""Shapes of the drift, alert and shadow routes (items stay open mappings until their owners type them)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.schemas.answers import Answer

Reason = Annotated[str, Field(min_length=1, max_length=500)]
Row = dict[str, Any]


class DriftReport(Answer):
    windows: list[Row] = Field(description="Newest first: column tests, dataset verdict, prediction drift, segments.")


class AlertList(Answer):
    alerts: list[Row] = Field(description="Newest first.")


class DeliveryList(Answer):
    deliveries: list[Row] = Field(description="Webhook delivery attempts, in order.")


class AckBody(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {"by": "oncall"}})

    by: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class ShadowBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"reason": "try the xgboost run"}})

    reason: Reason | None = None


class PromoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"reason": "wins on 2,000 labels"}})

    reason: Reason


class ShadowVerdict(Answer):
    version: str
    labelled: int
    min_labels: int
    verdict: str


class ShadowList(Answer):
    shadows: list[ShadowVerdict]
    scored: int
    dropped: int


class ShadowComparison(Answer):
    shadow: bool
    scored: int
    dropped: int


class Promoted(Answer):
    status: Literal["ok"]


class ShadowChanged(Answer):
    version: str
    shadow: bool
    changed: bool
    shadows: list[str] = Field(description="Every version in shadow now.")
