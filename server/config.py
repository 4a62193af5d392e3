"""Typed configuration: config/config.yaml loaded into frozen dataclasses, overridable by env."""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"
ENV_PREFIX = "CONGESTION_"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type; names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key '{key}': {message}")
        self.key = key


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = ""
    allowed_hosts: tuple[str, ...] = ()
    shutdown_timeout_s: float = 10.0


@dataclass(frozen=True)
class StorageConfig:
    database_url: str = "sqlite+aiosqlite:///blobs/metadata.sqlite3"
    blob_dir: str = "blobs"
    auto_upgrade: bool = True
    blob_gc_grace_s: float = 0.0


@dataclass(frozen=True)
class LoggingConfig:
    dir: str = "logs"
    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True)
class ScenarioConfig:
    load_multiplier: float = 1.0
    peak_hour_shift: int = 0
    protocol_mix_shift: float = 0.0
    new_subnets: int = 0
    label_prior_shift: float = 0.0
    start_timestamp: int | None = None


@dataclass(frozen=True)
class DataConfig:
    path: str | None = None
    rows: int = 20000
    seed: int = 7
    test_size: float = 0.2
    random_state: int = 42
    positive_rate: float = 0.15
    column_map: dict[str, str] = field(default_factory=dict)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)


@dataclass(frozen=True)
class FeaturesConfig:
    windows_s: tuple[int, ...] = (60, 600)
    subnet_prefix: int = 24
    max_window_keys: int = 50000


@dataclass(frozen=True)
class ImbalanceConfig:
    method: str = "none"
    class_weight: str | None = None


@dataclass(frozen=True)
class ModelFamilyConfig:
    param_grid: dict[str, list] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    primary: str = "random_forest"
    cv_splits: int = 3
    search_iterations: int = 8
    scoring: str = "average_precision"
    cost_tolerance: float = 0.005
    shap_sample: int = 400
    n_jobs: int = 2
    imbalance: ImbalanceConfig = field(default_factory=ImbalanceConfig)
    random_forest: ModelFamilyConfig = field(default_factory=ModelFamilyConfig)
    xgboost: ModelFamilyConfig = field(default_factory=ModelFamilyConfig)


@dataclass(frozen=True)
class ApiConfig:
    default_threshold: float = 0.5
    max_batch: int = 1000
    max_body_bytes: int = 1048576
    rate_limit_per_s: float = 200.0
    rate_limit_burst: int = 400


@dataclass(frozen=True)
class VersioningConfig:
    keep_last: int = 10
    auto_activate: bool = True
    follow_interval_s: float = 5.0


@dataclass(frozen=True)
class TrainingConfig:
    max_workers: int = 1
    rate_limit_per_min: int = 10


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    versioning: VersioningConfig = field(default_factory=VersioningConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def ml_snapshot(self) -> dict[str, Any]:
        """The plain-data sections a training worker needs (picklable, JSON-safe)."""
        return {name: to_plain(getattr(self, name)) for name in ("data", "features", "model")}


# Constraints checked after types: key -> (predicate, message).
_CHOICES: dict[str, tuple[str, ...]] = {
    "logging.level": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    "logging.format": ("text", "json"),
    "model.primary": ("random_forest", "xgboost"),
    "model.imbalance.method": ("smote", "random", "none"),
    "model.imbalance.class_weight": (None, "balanced"),
}
_RANGES: dict[str, tuple[float, float]] = {
    "server.port": (0, 65535),
    "data.rows": (100, 50_000_000),
    "data.test_size": (0.05, 0.5),
    "data.positive_rate": (0.01, 0.5),
    "features.subnet_prefix": (8, 32),
    "features.max_window_keys": (100, 10_000_000),
    "model.cv_splits": (2, 20),
    "model.search_iterations": (1, 500),
    "model.cost_tolerance": (0.0, 1.0),
    "model.shap_sample": (10, 100_000),
    "api.default_threshold": (0.0, 1.0),
    "api.max_batch": (1, 100_000),
    "api.max_body_bytes": (1024, 1 << 30),
    "storage.blob_gc_grace_s": (0, 30 * 86_400),
    "versioning.keep_last": (1, 10_000),
    "versioning.follow_interval_s": (0, 86_400),
    "training.max_workers": (1, 64),
    "training.rate_limit_per_min": (0, 100_000),
    "api.rate_limit_per_s": (0, 1_000_000),
    "api.rate_limit_burst": (1, 1_000_000),
}


def to_plain(value: Any) -> Any:
    """Dataclasses and tuples to dicts and lists, for snapshots and JSON."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read YAML, apply CONGESTION_* overrides, validate; raise ConfigError naming the key."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("<file>", f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"invalid YAML in {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("<root>", "the config file must be a mapping of sections")
    _apply_env(raw, os.environ if environ is None else environ)
    config = _build(Config, raw, "")
    _check_constraints(config)
    return config


def _apply_env(raw: dict, environ: Mapping[str, str]) -> None:
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except yaml.YAMLError:
            value = text
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(prefix.rstrip(".") or "<root>", "expected a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise ConfigError(f"{prefix}{key}", f"unknown key (known: {', '.join(sorted(names))})")
    values = {}
    for key, value in raw.items():
        values[key] = _coerce(hints[key], value, f"{prefix}{key}")
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {type(value).__name__}")
        return tuple(_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
        return dict(value)
    return _scalar(hint, value, key)


def _scalar(hint: type, value: Any, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise ConfigError(key, f"expected {hint.__name__}, got {type(value).__name__} ({value!r})")


def _lookup(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _check_constraints(config: Config) -> None:
    for key, allowed in _CHOICES.items():
        value = _lookup(config, key)
        if value not in allowed:
            raise ConfigError(key, f"must be one of {list(allowed)}, got {value!r}")
    for key, (low, high) in _RANGES.items():
        value = _lookup(config, key)
        if not low <= value <= high:
            raise ConfigError(key, f"must be between {low} and {high}, got {value!r}")
    if not config.features.windows_s or any(w <= 0 for w in config.features.windows_s):
        raise ConfigError("features.windows_s", "must be a non-empty list of positive seconds")
    for family in ("random_forest", "xgboost"):
        grid = getattr(config.model, family).param_grid
        for name, choices in grid.items():
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"model.{family}.param_grid.{name}", "must be a non-empty list")
