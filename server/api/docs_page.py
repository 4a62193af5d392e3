"""The /api/docs page's content, derived from the OpenAPI document: schema tables, curl lines, samples.

Every table row is (field, type, required, constraints, description); types that name a
component link to its table. Samples come from the examples written on the models and routes;
what has none is synthesised from the schema (tests/api/test_api_docs.py validates each sample
against its model, so a sample never shows a shape the server would not give).
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from server.security import MUTATING, PROTECTED_PREFIXES, STREAM_PATHS

REF_PREFIX = "#/components/schemas/"
# Sample values of the path parameters in curl lines ($TAG as in the README's quick start).
PATH_SAMPLES = {"timestamp": "$TAG", "run_id": "1", "alert_id": "1", "what": "model", "file": "$FILE"}
PATTERN_SAMPLES = {r"^\d{8}_\d{6}$": "20250101_120000", "^[0-9a-f]{32}$": "0190f3c2a1b24c3d8e5f60718293a4b5"}
MAX_DEPTH = 32
# Free-text fields whose name says what they hold: a sample that reads like a real answer.
NAME_SAMPLES = {"version": "20250101_120000", "timestamp": "20250101_120000", "previous": "20241231_090000",
                "active": "20250101_120000", "from_version": "20241231_090000", "model_type": "xgboost",
                "feature": "bytes_sent", "trigger": "api", "actor": "api",
                "events": "/ws", "run": "/api/train/runs/1", "phase": "training", "reason": "F1 dropped",
                "code": "validation_error", "message": "invalid flow record", "source": "holdout",
                "kind": "model", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "url": "/download/version/model.joblib", "group": "bytes_sent", "verdict": "not enough labels"}
EMPTY_LISTS = {"warnings", "invalid", "unknown"}
FORMAT_SAMPLES = {"date-time": "2025-01-01T12:00:00Z", "ipv4": "10.0.0.50", "ipv6": "2001:db8::1", "binary": "..."}


@dataclass(frozen=True)
class Row:
    """One field of a schema table."""

    name: str
    type: Markup
    required: bool
    constraints: str
    description: Markup


def inline_code(text: str) -> Markup:
    """Text with its `backtick` spans as <code>, everything else escaped."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def ref_name(schema: dict[str, Any]) -> str | None:
    """The component a schema refers to, if it is a $ref."""
    ref = schema.get("$ref", "")
    return ref[len(REF_PREFIX):] if ref.startswith(REF_PREFIX) else None


def _members(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return schema.get("anyOf") or schema.get("oneOf") or []


def type_html(schema: dict[str, Any]) -> Markup:
    """A schema's type in words, component names linked: `string or null`, `array of <Prediction>`."""
    name = ref_name(schema)
    if name:
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "const" in schema:
        return escape(_json_type(schema["const"]))
    kind = schema.get("type")
    members = _members(schema)
    if kind is None and members:
        parts: list[Markup] = []
        for member in members:
            text = type_html(member)
            if text not in parts:
                parts.append(text)
        return Markup(" or ").join(parts)
    if isinstance(kind, list):
        return Markup(" or ").join(escape(k) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return Markup("array of ") + type_html(items) if items else Markup("array")
    if kind == "object":
        extra = schema.get("additionalProperties")
        return Markup("map of ") + type_html(extra) if isinstance(extra, dict) and extra else Markup("object")
    if kind is None:
        return Markup("any")
    formats = [schema["format"]] if "format" in schema else [m["format"] for m in members if "format" in m]
    return escape(kind + (f" ({' or '.join(formats)})" if formats else ""))


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}.get(
        type(value), "object")


def _number(value: Any) -> str:
    """4102444800, not 4.10244e+09; 0.5 stays 0.5."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def constraints(schema: dict[str, Any]) -> str:
    """Bounds, lengths, patterns, allowed values and the default, in one short line."""
    found: list[str] = []
    for part in [schema, *_members(schema)]:
        for key, word in (("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
            if key in part:
                found.append(f"{word} {_number(part[key])}")
        for key, word in (("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"),
                          ("maxItems", "items ≤")):
            if key in part:
                found.append(f"{word} {part[key]}")
        if "pattern" in part:
            found.append(f"pattern {part['pattern']}")
        if "enum" in part:
            found.append("one of " + ", ".join(json.dumps(v) for v in part["enum"]))
        if "const" in part:
            found.append(f"= {json.dumps(part['const'])}")
    if "default" in schema:
        found.append(f"default {json.dumps(schema['default'])}")
    return "; ".join(dict.fromkeys(found))


def rows(schema: dict[str, Any]) -> list[Row]:
    """The fields of an object schema."""
    required = set(schema.get("required", ()))
    return [Row(name, type_html(prop), name in required, constraints(prop), inline_code(prop.get("description", "")))
            for name, prop in schema.get("properties", {}).items()]


def models_in(schema: dict[str, Any] | None) -> list[str]:
    """Components a schema names at its top (a ref, a union of refs, an array of refs), in order."""
    if not schema:
        return []
    name = ref_name(schema)
    if name:
        return [name]
    found: list[str] = []
    for member in [*_members(schema), schema.get("items") or {}]:
        found += [n for n in models_in(member) if n not in found]
    return found


def sample(schema: dict[str, Any], components: dict[str, Any], depth: int = 0, name: str = "") -> Any:
    """An example value for a schema: its own example, else one built from its types, bounds and field name."""
    for key in ("example", "default", "const"):
        if key in schema and not (key == "default" and schema[key] is None):
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if depth > MAX_DEPTH:  # a self-referencing schema
        return None
    component = ref_name(schema)
    if component:
        return sample(components.get(component, {}), components, depth + 1, name)
    if "enum" in schema:
        return schema["enum"][0]
    members = [m for m in _members(schema) if m.get("type") != "null"]
    if members and "type" not in schema:
        return sample(members[0], components, depth + 1, name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: sample(v, components, depth + 1, k) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [] if name in EMPTY_LISTS else [sample(schema.get("items", {}), components, depth + 1)]
    if kind == "string":
        fmt = schema.get("format") or next((m["format"] for m in _members(schema) if "format" in m), None)
        if "pattern" not in schema and fmt is None and name in NAME_SAMPLES:
            return NAME_SAMPLES[name]
        return PATTERN_SAMPLES.get(schema.get("pattern"), FORMAT_SAMPLES.get(fmt, "text"))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(low, 0) if kind == "integer" else max(low, 0.5)
        return min(value, schema.get("maximum", value))
    if kind == "boolean":
        return True
    return None


def curl(method: str, path: str, base: str, body: Any, has_body: bool, query: dict[str, str]) -> str:
    """A copyable curl command for one operation."""
    for name, value in PATH_SAMPLES.items():
        path = path.replace("{" + name + "}", value)
    url = base + path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    flags = "-s" + ("N" if path in STREAM_PATHS else "") + (" -OJ" if path.startswith("/download") else "")
    parts = [f"curl {flags}" + ("" if method == "GET" else f" -X {method}") + f' "{url}"']
    if path.startswith(PROTECTED_PREFIXES) and (method in MUTATING or path in STREAM_PATHS):
        parts.append('-H "Authorization: Bearer $TOKEN"')
    if has_body:
        parts += ['-H "Content-Type: application/json"', "-d " + shlex.quote(json.dumps(body, separators=(",", ":")))]
    return " \\\n    ".join(parts)


def anchor(method: str, path: str) -> str:
    """The id of an operation's section."""
    return re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-")
