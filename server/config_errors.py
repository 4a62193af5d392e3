"""Config validation errors in the project's words: `config key 'api.max_batch': <what is wrong>`."""
from __future__ import annotations

from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError

_EXPECTED = {
    "int_type": "int", "int_parsing": "int", "int_from_float": "int",
    "float_type": "float", "float_parsing": "float",
    "bool_type": "bool", "bool_parsing": "bool",
    "string_type": "str",
    "list_type": "a list", "tuple_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type; names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key '{key}': {message}")
        self.key = key


def config_error(exc: ValidationError, root: type[BaseModel]) -> ConfigError:
    """The first validation error as a ConfigError naming its dotted key."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    return ConfigError(dotted(loc) or "<root>", _message(error, root, loc))


def dotted(loc: tuple[Any, ...]) -> str:
    """('features', 'windows_s', 0) -> 'features.windows_s[0]'."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _message(error: dict[str, Any], root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        known = ", ".join(sorted(parent.model_fields)) if parent else ""
        return f"unknown key (known: {known})"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {type(value).__name__} ({value!r})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(root, loc)
        return f"must be between {low} and {high}, got {value!r}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}, got {value!r}"
    if kind == "too_short":
        return "must be a non-empty list"
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"invalid value {value!r}"


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = root
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
    return model


def _bounds(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, Any]:
    parent = _model_at(root, loc[:-1])
    field = parent.model_fields.get(loc[-1]) if parent else None
    low = high = None
    for item in field.metadata if field else ():
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
    return low, high
