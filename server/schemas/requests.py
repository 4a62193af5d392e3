"""Request bodies besides the flow record (which lives in records.py)."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool, ValidationError
from pydantic_core import PydanticCustomError

from server.errors import ValidationFailed

from server.schemas.records import FlowRecord

# One record or a non-empty list of them (answered as one answer or a list in the same order).
PredictBody = Union[FlowRecord, Annotated[list[FlowRecord], Field(min_length=1)]]


ModelType = Literal["random_forest", "xgboost"]
MODEL_TYPES: tuple[str, ...] = get_args(ModelType)
ITERATIONS = (1, 200)
ROWS = (500, 2_000_000)
MAX_FLOW_TIME = 2**40
# The message each training field's problems get (whatever pydantic's error type was).
TRAIN_MESSAGES = {
    "model_type": f"must be one of {list(MODEL_TYPES)}",
    "search_iterations": "must be an integer between {} and {}".format(*ITERATIONS),
    "rows": "must be an integer between {} and {}".format(*ROWS),
    "generate_data": "must be true or false",
    "shadow": "must be true or false",
    "source": "must be 'feedback' (the labelled prediction log) or 'config'",
    "since": "invalid",
    "until": "invalid",
}


def _flow_time(value: Any) -> Any:
    """Unix seconds (a number) or an ISO 8601 time (``2026-12-01T00:00:00Z``) -> Unix seconds."""
    if value is None:
        return None
    if not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) \
            and 0 <= value < MAX_FLOW_TIME:
        return int(value)
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp())
    raise PydanticCustomError("flow_time", "must be Unix seconds or an ISO 8601 time")


FlowTime = Annotated[int | str | None, BeforeValidator(_flow_time)]


class TrainBody(BaseModel):
    """Overrides for one training run; an absent or null field takes the configured default."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"model_type": "xgboost"}})

    model_type: ModelType | None = None
    search_iterations: Annotated[int, Strict(), Field(ge=ITERATIONS[0], le=ITERATIONS[1])] | None = None
    rows: Annotated[int, Strict(), Field(ge=ROWS[0], le=ROWS[1], description="Rows of generated data.")] | None = None
    generate_data: StrictBool | None = Field(None, description="Generate fresh data first (default false).")
    source: Literal["config", "feedback"] | None = Field(
        None, description="`feedback`: train on the labelled prediction log of [since, until).")
    since: FlowTime = Field(None, description="Flow time, Unix seconds or ISO 8601 (source feedback).")
    until: FlowTime = Field(None, description="Flow time, Unix seconds or ISO 8601 (source feedback).")
    shadow: StrictBool | None = Field(None, description="Send the new version to shadow instead of the promotion gate.")


def check_train_body(body: Any) -> TrainBody:
    """A training body validated by TrainBody; one 400 naming every bad field in this API's words."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", fields={"body": "expected an object"})
    try:
        checked = TrainBody.model_validate(body)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_context=False):
            name = str(error["loc"][0]) if error["loc"] else "body"
            errors.setdefault(name, "unknown field" if error["type"] == "extra_forbidden"
                              else TRAIN_MESSAGES.get(name, error["msg"]))
        raise ValidationFailed("invalid training request", fields=dict(sorted(errors.items()))) from None
    if checked.source != "feedback" and (checked.since is not None or checked.until is not None):
        raise ValidationFailed("invalid training request", fields={"source": "since/until need source 'feedback'"})
    return checked


class RollbackBody(BaseModel):
    """Optional note recorded with the rollback event."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {"reason": "F1 dropped"}})

    reason: Annotated[str, Field(max_length=500)] | None = None
