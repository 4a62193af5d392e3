"""The flow record: one TypedDict whose field rules drive request validation, the OpenAPI schema
and the bulk scorer's row checks.

Every check names the field it rejects; a batch prefixes the field with the record's index
(`[3].packet_size`). Records come out as plain dicts in the pipeline's raw schema (validating into
dicts, not model objects, keeps the predict path fast: bench/validation.py).
"""
from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError
from typing_extensions import NotRequired, TypedDict

from server.errors import ValidationFailed, counted
from server.ml.iputil import parse_ip
from server.ml.schema import TIMESTAMP

MAX_PACKET_SIZE = 65_535            # the largest IP datagram (jumbograms aside)
MAX_BYTES_SENT = 10**12             # one terabyte in one flow record is a unit mix-up, not traffic
MAX_TIMESTAMP = 4_102_444_800       # 2100-01-01T00:00:00Z
MAX_TEXT = 64                       # longest IP or protocol text we bother parsing
MAX_WARNED_FIELDS = 20              # unknown fields named in warnings, per record
MAX_NAMED_ERRORS = 50               # field errors listed in one answer
IP_MESSAGE = "expected an IPv4 or IPv6 address"


def _ip(value: str) -> str:
    if value != value.strip():
        raise PydanticCustomError("ip_address", IP_MESSAGE)
    try:
        parse_ip(value)
    except ValueError:
        raise PydanticCustomError("ip_address", IP_MESSAGE) from None
    return value


def _protocol(value: str) -> str:
    text = value.strip()
    if not text:
        raise PydanticCustomError("empty", "must not be empty")
    if len(text) > MAX_TEXT or not text.isprintable():
        raise PydanticCustomError("protocol", f"expected a protocol name of at most {MAX_TEXT} printable characters")
    return text


def _whole(value: Any) -> Any:
    """23.0 is the whole number 23; 23.5 stays a float and fails the int check."""
    return int(value) if type(value) is float and value.is_integer() else value


def _number(low: float, high: float, description: str) -> Any:
    return Annotated[float, Strict(), Field(ge=low, le=high, allow_inf_nan=False, description=description)]


def _whole_number(low: int, high: int, description: str) -> Any:
    return Annotated[int, Strict(), Field(ge=low, le=high, description=description), BeforeValidator(_whole)]


IpAddress = Annotated[str, Strict(), Field(max_length=MAX_TEXT, description="IPv4 or IPv6 address", json_schema_extra={
    "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}), AfterValidator(_ip)]


class FlowRecord(TypedDict):
    """One network flow. Unknown fields are ignored and named in `warnings`."""

    __pydantic_config__ = ConfigDict(extra="ignore", json_schema_extra={"example": {
        "packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
        "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}})

    packet_size: _number(0, MAX_PACKET_SIZE, "Bytes per packet.")
    bytes_sent: _number(0, MAX_BYTES_SENT, "Bytes in the flow.")
    source_ip: IpAddress
    dest_ip: IpAddress
    protocol: Annotated[str, Strict(), AfterValidator(_protocol), Field(
        description="Name or IANA number; unknown protocols map to `protocol_other`.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT, "pattern": r"^\s*[^\s\x00-\x1f\x7f]"})]
    timestamp_seconds: NotRequired[_whole_number(0, MAX_TIMESTAMP, "Unix seconds; defaults to now.")]
    hour: NotRequired[_whole_number(0, 23, "Hour of day; derived from the timestamp (UTC) when omitted.")]


RECORD_SCHEMA: dict[str, Any] = TypeAdapter(FlowRecord).json_schema()
KNOWN_FIELDS = frozenset(RECORD_SCHEMA["properties"])
_FIELD_ORDER = tuple(RECORD_SCHEMA["properties"])
REQUIRED_FIELDS = tuple(RECORD_SCHEMA["required"])
# field -> (low, high, whole numbers only): the numeric rules, for checks on whole columns.
NUMBER_RULES: dict[str, tuple[float, float, bool]] = {
    name: (spec["minimum"], spec["maximum"], spec["type"] == "integer")
    for name, spec in RECORD_SCHEMA["properties"].items() if spec["type"] in ("number", "integer")
}
_RECORD = TypeAdapter(FlowRecord)
_BATCH = TypeAdapter(list[FlowRecord])


@dataclass(frozen=True)
class ValidRecord:
    """One validated flow: the raw record for the pipeline and what was ignored."""

    record: dict[str, Any]
    warnings: tuple[str, ...]


def type_name(value: Any) -> str:
    """The JSON name of a value's type, as users see it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, dict)):
        return "array" if isinstance(value, list) else "object"
    return "number"


def field_message(error: dict[str, Any]) -> str:
    """A pydantic error about one record field in this API's words."""
    kind, value = error["type"], error.get("input")
    name = error["loc"][-1] if error["loc"] else ""
    if kind == "missing":
        return "is required"
    if kind in ("float_type", "int_type"):
        if kind == "int_type" and isinstance(value, float) and not isinstance(value, bool):
            return "expected a whole number"
        return f"expected a number, got {type_name(value)}"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("greater_than_equal", "less_than_equal") and name in NUMBER_RULES:
        low, high, _ = NUMBER_RULES[name]
        return f"must be between {low:g} and {high:g}"
    if kind == "string_type":
        what = "a protocol name" if name == "protocol" else "an IPv4 or IPv6 address"
        return f"expected {what} string, got {type_name(value)}"
    if kind == "string_too_long":
        return IP_MESSAGE
    if kind in ("dict_type", "model_type"):
        return f"expected a flow record object, got {type_name(value)}"
    return error["msg"]  # our own PydanticCustomError messages


def _key(loc: tuple[Any, ...], prefix: str) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc]
    key = prefix + "".join(parts)
    return key.lstrip(".") or "body"


def _fields(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_context=False):
        errors.setdefault(_key(tuple(error["loc"]), prefix), field_message(error))
    return errors


def _short(name: Any) -> str:
    name = str(name)
    return name if len(name) <= MAX_TEXT else name[:MAX_TEXT] + "..."


def _unknown(raw: Any, prefix: str = "") -> dict[str, str]:
    """The keys of a refused record that are no flow field, each with the field it may be a typo of.

    An accepted record only warns about them; a refused one names them beside its errors, since a
    misspelt key is usually why a required field is missing.
    """
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for name in [k for k in raw if k not in KNOWN_FIELDS][:MAX_WARNED_FIELDS]:
        close = difflib.get_close_matches(str(name)[:MAX_TEXT], _FIELD_ORDER, n=1)
        out[_key((_short(name),), prefix)] = "unknown field" + (f" (did you mean {close[0]}?)" if close else "")
    return out


_INDEX = re.compile(r"^\[(\d+)\]")


def _refused(exc: ValidationError, body: Any, is_batch: bool) -> dict[str, str]:
    """Every problem of the refused record(s): field errors and unknown fields, record by record."""
    errors = _fields(exc)
    if not is_batch:
        return errors | _unknown(body)
    failed = sorted({int(m.group(1)) for key in errors if (m := _INDEX.match(key))})
    for i in failed:
        errors |= _unknown(body[i], f"[{i}]")
    position = {key: int(m.group(1)) if (m := _INDEX.match(key)) else -1 for key in errors}
    return dict(sorted(errors.items(), key=lambda item: position[item[0]]))  # stable: a record's order kept


def _summary(errors: dict[str, str]) -> str:
    """What a newcomer most often got wrong about one record: unknown keys and missing fields."""
    unknown = [k for k, v in errors.items() if v.startswith("unknown field")]
    missing = [k for k, v in errors.items() if v == "is required"]
    parts = []
    if unknown:
        parts.append(f"unknown field{'s' if len(unknown) > 1 else ''} " + ", ".join(repr(k) for k in unknown))
    if missing:
        parts.append(f"missing required field{'s' if len(missing) > 1 else ''} " + ", ".join(missing))
    return "; ".join(parts)


def _finish(raw: dict[str, Any], record: dict[str, Any], now: float) -> ValidRecord:
    """Default the timestamp; warn about the fields that were ignored (record keys are raw's known ones)."""
    has_unknown = len(raw) > len(record)
    if TIMESTAMP not in record:
        record[TIMESTAMP] = int(now)
    if not has_unknown:
        return ValidRecord(record, ())
    unknown = [k for k in raw if k not in KNOWN_FIELDS]
    named = ", ".join(repr(_short(k)) for k in unknown[:MAX_WARNED_FIELDS])
    more = f" and {len(unknown) - MAX_WARNED_FIELDS} more" if len(unknown) > MAX_WARNED_FIELDS else ""
    return ValidRecord(record, (f"ignored unknown field(s) {named}{more}",))


def check_record(raw: Any, prefix: str = "", errors: dict[str, str] | None = None,
                 now: Callable[[], float] = time.time) -> ValidRecord | None:
    """Validate one flow; collect problems into errors (keyed by field) and return None if any."""
    errors = {} if errors is None else errors
    try:
        record = _RECORD.validate_python(raw)
    except ValidationError as exc:
        errors.update(_fields(exc, prefix.rstrip(".")))
        errors.update(_unknown(raw, prefix.rstrip(".")))
        return None
    return _finish(raw, record, now())


def check_records(body: Any, max_batch: int) -> tuple[list[ValidRecord], bool]:
    """(records, is_batch) from a record object or a list of them; one 400 naming every bad field."""
    if isinstance(body, list):
        if not body:
            raise ValidationFailed("the batch is empty", fields={"body": "expected at least one record"})
        if len(body) > max_batch:
            raise ValidationFailed(f"a batch holds at most {counted(max_batch, 'record')}",
                                   fields={"body": f"{counted(len(body), 'record')}, at most {max_batch}"})
        adapter, is_batch = _BATCH, True
    elif isinstance(body, dict):
        adapter, is_batch = _RECORD, False
    else:
        raise ValidationFailed("the body must be a flow record object or a list of them",
                               fields={"body": f"expected an object or an array, got {type_name(body)}"})
    try:
        checked = adapter.validate_python(body)  # one call for the whole batch
    except ValidationError as exc:
        errors = _refused(exc, body, is_batch)
        summary = "" if is_batch else _summary(errors)
        if len(errors) > MAX_NAMED_ERRORS:
            extra = len(errors) - MAX_NAMED_ERRORS
            errors = dict(list(errors.items())[:MAX_NAMED_ERRORS]) | {"...": f"{extra} more problems"}
        message = "invalid flow records" if is_batch else "invalid flow record" + (f": {summary}" if summary else "")
        raise ValidationFailed(message, fields=errors) from None
    now = time.time()
    if not is_batch:
        return [_finish(body, checked, now)], False
    return [_finish(raw, rec, now) for raw, rec in zip(body, checked)], True


__all__ = ["FlowRecord", "KNOWN_FIELDS", "NUMBER_RULES", "RECORD_SCHEMA", "REQUIRED_FIELDS",
           "ValidRecord", "check_record", "check_records", "field_message", "type_name"]
