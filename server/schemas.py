"""Request validation for flow records and the predict/explain query parameters.

Every check names the field it rejects; a batch prefixes the field with the record's index
(`[3].packet_size`). Records come out as plain dicts in the pipeline's raw schema.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web

from server.errors import ValidationFailed
from server.ml.iputil import parse_ip
from server.ml.schema import (
    BYTES_SENT, DEST_IP, HOUR, PACKET_SIZE, PROTOCOL, SOURCE_IP, TIMESTAMP,
)

MAX_PACKET_SIZE = 65_535            # the largest IP datagram (jumbograms aside)
MAX_BYTES_SENT = 10**12             # one terabyte in one flow record is a unit mix-up, not traffic
MAX_TIMESTAMP = 4_102_444_800       # 2100-01-01T00:00:00Z
MAX_TEXT = 64                       # longest IP or protocol text we bother parsing
MAX_WARNED_FIELDS = 20              # unknown fields named in warnings, per record
KNOWN_FIELDS = frozenset((PACKET_SIZE, BYTES_SENT, SOURCE_IP, DEST_IP, PROTOCOL, TIMESTAMP, HOUR))
# Numeric fields as (lowest, highest, whole numbers only). The validator below, the OpenAPI
# FlowRecord schema and (through that schema) the predict form's min/max all read this table.
NUMBER_RULES: dict[str, tuple[int, int, bool]] = {
    PACKET_SIZE: (0, MAX_PACKET_SIZE, False),
    BYTES_SENT: (0, MAX_BYTES_SENT, False),
    TIMESTAMP: (0, MAX_TIMESTAMP, True),
    HOUR: (0, 23, True),
}


@dataclass(frozen=True)
class ValidRecord:
    """One validated flow: the raw record for the pipeline and what was ignored."""

    record: dict[str, Any]
    warnings: tuple[str, ...]


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, dict)):
        return "array" if isinstance(value, list) else "object"
    return "number"


def _number(value: Any, low: float, high: float, *, integer: bool = False) -> tuple[float | int | None, str]:
    """(value, "") when acceptable, else (None, reason)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"expected a number, got {_type_name(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "must be a finite number"
    if integer and isinstance(value, float):
        if not value.is_integer():
            return None, "expected a whole number"
        value = int(value)
    if not low <= value <= high:
        return None, f"must be between {low:g} and {high:g}"
    return value, ""


def _ip(value: Any) -> tuple[str | None, str]:
    if not isinstance(value, str):
        return None, f"expected an IPv4 or IPv6 address string, got {_type_name(value)}"
    if not value or len(value) > MAX_TEXT or value != value.strip():
        return None, "expected an IPv4 or IPv6 address"
    try:
        parse_ip(value)
    except ValueError:
        return None, "expected an IPv4 or IPv6 address"
    return value, ""


def _protocol(value: Any) -> tuple[str | None, str]:
    if not isinstance(value, str):
        return None, f"expected a protocol name string, got {_type_name(value)}"
    text = value.strip()
    if not text:
        return None, "must not be empty"
    if len(text) > MAX_TEXT or not text.isprintable():
        return None, f"expected a protocol name of at most {MAX_TEXT} printable characters"
    return text, ""


def _rule(name: str) -> Callable[[Any], tuple[Any, str]]:
    low, high, integer = NUMBER_RULES[name]
    return lambda v: _number(v, low, high, integer=integer)


_CHECKS: dict[str, Callable[[Any], tuple[Any, str]]] = {
    PACKET_SIZE: _rule(PACKET_SIZE),
    BYTES_SENT: _rule(BYTES_SENT),
    SOURCE_IP: _ip,
    DEST_IP: _ip,
    PROTOCOL: _protocol,
    TIMESTAMP: _rule(TIMESTAMP),
    HOUR: _rule(HOUR),
}
_REQUIRED = (PACKET_SIZE, BYTES_SENT, SOURCE_IP, DEST_IP, PROTOCOL)


def _short(name: str) -> str:
    return name if len(name) <= MAX_TEXT else name[:MAX_TEXT] + "..."


def check_record(raw: Any, prefix: str = "", errors: dict[str, str] | None = None,
                 now: Callable[[], float] = time.time) -> ValidRecord | None:
    """Validate one flow; collect problems into errors (keyed by field) and return None if any."""
    errors = {} if errors is None else errors
    if not isinstance(raw, dict):
        errors[prefix.rstrip(".") or "body"] = f"expected a flow record object, got {_type_name(raw)}"
        return None
    record: dict[str, Any] = {}
    failed = False
    for name, check in _CHECKS.items():
        if name not in raw:
            if name in _REQUIRED:
                errors[prefix + name] = "is required"
                failed = True
            continue
        value, reason = check(raw[name])
        if reason:
            errors[prefix + name] = reason
            failed = True
        else:
            record[name] = value
    if failed:
        return None
    if TIMESTAMP not in record:
        record[TIMESTAMP] = int(now())
    warnings: list[str] = []
    unknown = [k for k in raw if k not in KNOWN_FIELDS]
    if unknown:
        named = ", ".join(repr(_short(k)) for k in unknown[:MAX_WARNED_FIELDS])
        more = f" and {len(unknown) - MAX_WARNED_FIELDS} more" if len(unknown) > MAX_WARNED_FIELDS else ""
        warnings.append(f"ignored unknown field(s) {named}{more}")
    return ValidRecord(record, tuple(warnings))


def check_records(body: Any, max_batch: int) -> tuple[list[ValidRecord], bool]:
    """(records, is_batch) from a record object or a list of them; one 400 naming every bad field."""
    errors: dict[str, str] = {}
    if isinstance(body, list):
        if not body:
            raise ValidationFailed("the batch is empty", fields={"body": "expected at least one record"})
        if len(body) > max_batch:
            raise ValidationFailed(f"a batch holds at most {max_batch} records",
                                   fields={"body": f"{len(body)} records, at most {max_batch}"})
        records = [check_record(item, f"[{i}].", errors) for i, item in enumerate(body)]
        is_batch = True
    elif isinstance(body, dict):
        records = [check_record(body, "", errors)]
        is_batch = False
    else:
        raise ValidationFailed("the body must be a flow record object or a list of them",
                               fields={"body": f"expected an object or an array, got {_type_name(body)}"})
    if errors:
        if len(errors) > 50:
            errors = dict(list(errors.items())[:50]) | {"...": f"{len(errors) - 50} more problems"}
        raise ValidationFailed("invalid flow record" + ("s" if is_batch else ""), fields=errors)
    return [r for r in records if r is not None], is_batch


def query_threshold(request: web.Request, default: float | None) -> float | None:
    """`?threshold=` as a probability in [0, 1]; 400 naming it when malformed."""
    raw = request.query.get("threshold")
    if raw is None:
        return default
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValidationFailed("threshold must be a number between 0 and 1",
                               fields={"threshold": "expected a number in [0, 1]"})
    return value
