"""Typed configuration: config/config.yaml loaded into frozen pydantic models, overridable by env.

Adding a key is one line in its section below: ``name: type = Field(default, ge=.., le=..)``
(or ``Literal[...]`` for a choice, a ``Section`` subclass for a nested group), plus the same key
in config/config.yaml and the README's "Configuration reference" (tests/foundation keeps the three
in step). A rule beyond type and range is a ``@field_validator`` raising ``ValueError("...")``:
its message is shown after the key. Change a loaded config with ``replace(config.api, x=1)``.

Environment overrides use pydantic-settings: ``CONGESTION_<SECTION>__<KEY>`` (more ``__`` parts
for nested keys). A string key keeps the variable's text as it is (an all-digit token stays a
string); typed keys are coerced (``"9000"`` -> 9000, ``"true"`` -> True, ``"null"`` -> None) and
lists and mappings are parsed as YAML flow values (``[30, 90]``, ``{max_depth: [3]}``).
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
import re
import types
from typing import Annotated, Any, Literal, Mapping, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from server.config_errors import ConfigError, config_error

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"
ENV_PREFIX = "CONGESTION_"
ENV_DELIMITER = "__"

__all__ = ["Config", "ConfigError", "DEFAULT_CONFIG_PATH", "REPO_ROOT", "load_config", "replace", "to_plain"]

# Strict: a YAML `port: "80"` or `rows: true` is a type error, as before; env strings are coerced
# by pydantic-settings before validation (it does so exactly when the model is strict).
_SECTION = ConfigDict(frozen=True, extra="forbid", strict=True)
# YAML and env give lists; strict mode alone would accept only real tuples.
_LIST = {"strict": False}
NonEmptyList = Annotated[list, Field(min_length=1)]


class Section(BaseModel):
    """A config section: frozen, unknown keys refused."""

    model_config = _SECTION


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    token: str = ""
    allowed_hosts: tuple[str, ...] = Field((), **_LIST)
    shutdown_timeout_s: float = 10.0
    # uvloop runs the same asyncio code with its transports and scheduler in C (bench/serve.py);
    # "auto" takes it where it is installed (not on Windows), "asyncio" forces the standard loop.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    # A /ws or SSE client that cannot take one frame in this long has stopped reading: dropped.
    stream_send_timeout_s: float = Field(10.0, gt=0)


class S3Config(Section):
    endpoint_url: str = ""  # empty: AWS itself; e.g. http://127.0.0.1:8333 for SeaweedFS/MinIO
    region: str = ""  # empty: AWS_DEFAULT_REGION / ~/.aws/config
    multipart_threshold_mb: int = Field(8, ge=5, le=5120)  # S3's smallest part is 5 MiB


class StorageConfig(Section):
    database_url: str = "sqlite+aiosqlite:///blobs/metadata.sqlite3"
    blob_dir: str = "blobs"
    blob_url: str = ""  # empty: the folder blob_dir; s3://bucket/prefix: an object store
    auto_upgrade: bool = True
    blob_gc_grace_s: float = Field(0.0, ge=0, le=30 * 86_400)
    # HMAC key signing every artifact; outside the blob folder and the database, created 0600.
    signing_key_file: str = "~/.config/congestion/signing.key"
    s3: S3Config = Field(default_factory=S3Config)

    @field_validator("blob_url")
    @classmethod
    def _bucket_named(cls, url: str) -> str:
        if url.startswith("s3://") and not url[5:].split("/", 1)[0]:
            raise ValueError("an s3:// URL needs a bucket: s3://bucket/prefix")
        return url

    @field_validator("signing_key_file")
    @classmethod
    def _key_outside_blobs(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError("a signing key file is required (artifacts are always signed)")
        key = Path(os.path.abspath(os.path.expanduser(value)))
        folders = [info.data.get("blob_dir")]
        url = info.data.get("blob_url") or ""
        if url and not url.startswith("s3://"):
            folders.append(url)
        for folder in filter(None, folders):
            root = Path(os.path.abspath(os.path.expanduser(folder)))
            if key == root or root in key.parents:
                raise ValueError(f"must be outside the blob folder ({folder}): whoever can write "
                                 "blobs must not be able to read the key that signs them")
        return value


class LoggingConfig(Section):
    dir: str = "logs"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"


class ScenarioConfig(Section):
    load_multiplier: float = 1.0
    peak_hour_shift: int = 0
    protocol_mix_shift: float = 0.0
    new_subnets: int = 0
    label_prior_shift: float = 0.0
    start_timestamp: int | None = None


class DataConfig(Section):
    path: str | None = None
    rows: int = Field(20000, ge=100, le=50_000_000)
    seed: int = 7
    test_size: float = Field(0.2, ge=0.05, le=0.5)
    random_state: int = 42
    positive_rate: float = Field(0.15, ge=0.01, le=0.5)
    column_map: dict[str, str] = Field(default_factory=dict)
    scenario: ScenarioConfig = Field(default_factory=ScenarioConfig)


class FeaturesConfig(Section):
    windows_s: tuple[PositiveInt, ...] = Field((60, 600), min_length=1, **_LIST)
    subnet_prefix: int = Field(24, ge=8, le=32)
    max_window_keys: int = Field(50000, ge=100, le=10_000_000)
    max_window_entries: int = Field(200000, ge=1000, le=100_000_000)


class ImbalanceConfig(Section):
    method: Literal["smote", "random", "none"] = "none"
    class_weight: Literal["balanced"] | None = None


class ModelFamilyConfig(Section):
    param_grid: dict[str, NonEmptyList] = Field(default_factory=dict)


class ModelConfig(Section):
    primary: Literal["random_forest", "xgboost"] = "xgboost"
    cv_splits: int = Field(3, ge=2, le=20)
    search_iterations: int = Field(8, ge=1, le=500)
    scoring: str = "average_precision"
    cost_tolerance: float = Field(0.005, ge=0.0, le=1.0)
    shap_sample: int = Field(400, ge=10, le=100_000)
    n_jobs: int = 2
    imbalance: ImbalanceConfig = Field(default_factory=ImbalanceConfig)
    random_forest: ModelFamilyConfig = Field(default_factory=ModelFamilyConfig)
    xgboost: ModelFamilyConfig = Field(default_factory=ModelFamilyConfig)
    update: Literal["retrain", "continue"] = "retrain"
    continue_rounds: int = Field(20, ge=1, le=10_000)
    continue_trees: int = Field(20, ge=1, le=10_000)


class ApiConfig(Section):
    default_threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_batch: int = Field(1000, ge=1, le=100_000)
    max_body_bytes: int = Field(1048576, ge=1024, le=1 << 30)
    rate_limit_per_s: float = Field(2000.0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(4000, ge=1, le=1_000_000)


PromotionMetric = Literal["f1_score", "pr_auc", "auc_roc", "precision", "recall"]


class PromotionConfig(Section):
    mode: Literal["auto", "manual", "always"] = "auto"
    metrics: tuple[PromotionMetric, ...] = Field(("f1_score", "pr_auc"), min_length=1, **_LIST)
    margin: float = Field(0.01, ge=0.0, le=1.0)
    min_labels: int = Field(200, ge=10, le=10_000_000)
    watch_windows: int = Field(3, ge=1, le=1000)


class VersioningConfig(Section):
    keep_last: int = Field(10, ge=1, le=10_000)
    auto_activate: bool = True
    follow_interval_s: float = Field(5.0, ge=0, le=86_400)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)

    @field_validator("promotion", mode="before")
    @classmethod
    def _mode_shorthand(cls, value: Any) -> Any:
        """``versioning.promotion: manual`` is short for ``versioning.promotion.mode: manual``."""
        return {"mode": value} if isinstance(value, str) else value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


class RetrainConfig(Section):
    mix_ratio: float = Field(0.0, ge=0.0, le=100.0)
    schedule: float = Field(0.0, ge=0, le=365 * 86_400)
    on_alerts: tuple[str, ...] = Field(("dataset_drift", "f1_drop"), **_LIST)
    min_new_labels: int = Field(500, ge=50, le=100_000_000)
    debounce_s: float = Field(3600.0, ge=0, le=365 * 86_400)
    lookback_s: float = Field(7 * 86_400.0, ge=60, le=365 * 86_400)

    @field_validator("schedule", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """``retrain.schedule`` reads as seconds or as a duration such as ``30m``, ``6h``, ``1d``; ``off`` is 0."""
        if value is False:  # YAML reads a bare `off` as false
            return 0.0
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in ("off", "never", "none", ""):
            return 0.0
        match = _DURATION.fullmatch(text)
        if match is None:
            raise ValueError("use seconds or a duration such as 30m, 6h or 1d (off: no schedule)")
        return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


class ThresholdConfig(Section):
    cost_fn: float = Field(5.0, ge=0.0, le=1e9)
    cost_fp: float = Field(1.0, ge=0.0, le=1e9)


class DaskConfig(Section):
    scheduler: str = "local"  # local: a LocalCluster on 127.0.0.1; or tcp://host:port of a cluster
    n_workers: int = Field(2, ge=1, le=256)  # LocalCluster only
    threads_per_worker: int = Field(1, ge=1, le=256)  # LocalCluster only
    memory_limit: str = "2GiB"  # per LocalCluster worker; past it Dask spills, then restarts the worker
    partition_rows: int = Field(250_000, ge=1000, le=50_000_000)  # generated data only

    @field_validator("scheduler")
    @classmethod
    def _scheduler_address(cls, value: str) -> str:
        if value != "local" and not value.startswith(("tcp://", "tls://")):
            raise ValueError("use local or a scheduler address such as tcp://127.0.0.1:8786")
        return value


class TrainingConfig(Section):
    max_workers: int = Field(1, ge=1, le=64)
    rate_limit_per_min: int = Field(10, ge=0, le=100_000)
    engine: Literal["local", "dask"] = "local"
    dask: DaskConfig = Field(default_factory=DaskConfig)


class MonitoringConfig(Section):
    enabled: bool = True
    flush_interval_s: float = Field(1.0, ge=0.05, le=3600)
    log_sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    retention_days: float = Field(30.0, ge=0, le=36_500)
    window_s: int = Field(3600, ge=60, le=7 * 86_400)
    max_queue: int = Field(100000, ge=1000, le=10_000_000)


RuleName = Literal["dataset_drift", "feature_drift", "prediction_drift", "f1_drop", "estimated_f1_drop",
                   "label_coverage", "prediction_rate", "probability_change", "error_change"]


class DriftConfig(Section):
    share: float = Field(0.25, ge=0.0, le=1.0)
    min_window_rows: int = Field(100, ge=1, le=10_000_000)
    columns: tuple[str, ...] = Field(("packet_size", "bytes_sent", "protocol", "dest_subnet"), **_LIST)
    p_value: float = Field(0.05, ge=0.0, le=1.0)
    wasserstein_threshold: float = Field(0.38, ge=0.0, le=100.0)
    jensenshannon_threshold: float = Field(0.46, ge=0.0, le=1.0)
    unseen_share: float | None = Field(0.02, ge=0.0, le=1.0)
    prediction_threshold: float = Field(0.9, ge=0.0, le=100.0)
    attribution_threshold: float = Field(0.1, ge=0.0, le=1.0)
    explain_sample: int = Field(50, ge=0, le=1000)
    reservoir_rows: int = Field(1000, ge=10, le=100_000)
    segment_min_rows: int = Field(30, ge=1, le=1_000_000)
    page_hinkley_threshold: float = Field(80.0, ge=0.0, le=1e9)
    page_hinkley_delta: float = Field(0.005, ge=0.0, le=1.0)
    page_hinkley_alpha: float = Field(0.999, gt=0.0, le=1.0)


class WebhookConfig(Section):
    url: str
    secret: str
    format: Literal["standard", "alertmanager"] = "standard"

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @field_validator("secret")
    @classmethod
    def _whsec(cls, secret: str) -> str:
        import base64
        import binascii

        try:
            if secret.startswith("whsec_") and base64.b64decode(secret[6:], validate=True):
                return secret
        except (ValueError, binascii.Error):
            pass
        raise ValueError("must be whsec_ followed by base64 (Standard Webhooks)")


class AlertsConfig(Section):
    rules: tuple[RuleName, ...] = Field(("dataset_drift", "feature_drift", "prediction_drift", "f1_drop",
                                         "estimated_f1_drop", "label_coverage", "prediction_rate",
                                         "probability_change", "error_change"), **_LIST)
    for_windows: int = Field(2, ge=1, le=1000)
    resolve_windows: int = Field(2, ge=1, le=1000)
    f1_drop: float = Field(0.05, ge=0.0, le=1.0)
    f1_drop_sigmas: float = Field(3.0, ge=0.0, le=10.0)
    f1_span_s: float = Field(86_400.0, ge=1, le=90 * 86_400)
    min_label_coverage: float = Field(0.1, ge=0.0, le=1.0)
    coverage_windows: int = Field(3, ge=1, le=1000)
    rate_factor: float = Field(3.0, ge=1.0, le=1e6)
    webhooks: tuple[WebhookConfig, ...] = Field((), **_LIST)
    webhook_timeout_s: float = Field(5.0, ge=0.1, le=300)
    webhook_retries: int = Field(5, ge=0, le=20)
    webhook_backoff_s: float = Field(1.0, ge=0.0, le=3600)


class Config(BaseSettings):
    """The whole configuration; sections are attributes (config.api.max_batch)."""

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", strict=True, env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER, env_parse_none_str="null", case_sensitive=False,
    )

    server: ServerConfig = Field(default_factory=ServerConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    versioning: VersioningConfig = Field(default_factory=VersioningConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    threshold: ThresholdConfig = Field(default_factory=ThresholdConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    def ml_snapshot(self) -> dict[str, Any]:
        """The plain-data sections a training worker needs (picklable, JSON-safe)."""
        return {name: to_plain(getattr(self, name)) for name in ("data", "features", "model")}

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        **_others: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: Config() is the defaults, load_config applies the environment."""
        return (init_settings,)


class EnvOverrides(EnvSettingsSource):
    """CONGESTION_<SECTION>__<KEY> variables of a mapping, decoded by each key's type."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        # Only names with a "__" after the prefix are overrides (CONGESTION_TEST_POSTGRES_URL
        # or a stray CONGESTION_SERVER are not config).
        self.overrides = {k: v for k, v in environ.items()
                          if k.upper().startswith(ENV_PREFIX) and ENV_DELIMITER in k[len(ENV_PREFIX):]}
        super().__init__(Config)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self.overrides, False, False, self.env_parse_none_str)

    def decode_complex_value(self, field_name: str, field: Any, value: Any) -> Any:
        """Lists and mappings are YAML flow values (a superset of JSON): `[30, 90]`, `{a: [3]}`."""
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            names = [n for n, text in self.overrides.items()
                     if text == value and n.lower().endswith(field_name.lower())]
            raise ConfigError(_key_of(names[0]) if names else field_name,
                              f"not a YAML value: {value!r}") from None

    def _coerce_env_val_strict(self, field: FieldInfo | None, value: Any) -> Any:
        """Text for string keys as it is; other scalars parsed as YAML, as they always were."""
        if not isinstance(value, str) or value == "" or not isinstance(field, FieldInfo):
            return value
        if _takes_text(field.annotation):
            return value
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value  # the type check then names the key

    def apply(self, raw: dict[str, Any]) -> dict[str, Any]:
        """`raw` with each variable's decoded value put at its key (replacing, not merging)."""
        try:
            decoded = self()
        except SettingsError as exc:
            raise (exc.__cause__ if isinstance(exc.__cause__, ConfigError) else exc) from None
        merged = copy.deepcopy(raw)
        for name in self.overrides:
            parts = _key_of(name).split(".")
            value: Any = decoded
            for part in parts:  # unknown sections are not decoded: keep the text for the error
                value = value.get(part, self.overrides[name]) if isinstance(value, dict) else value
            node = merged
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[parts[-1]] = value
        return merged


def _takes_text(annotation: Any) -> bool:
    """str, str | None, or a Literal of strings."""
    if annotation is str:
        return True
    if get_origin(annotation) is Literal:
        return all(isinstance(choice, str) for choice in get_args(annotation))
    return any(_takes_text(arg) for arg in get_args(annotation) if arg is not type(None)) \
        if get_origin(annotation) in (Union, types.UnionType) else False


def _key_of(name: str) -> str:
    """CONGESTION_MODEL__IMBALANCE__METHOD -> model.imbalance.method."""
    return name[len(ENV_PREFIX):].lower().replace(ENV_DELIMITER, ".")


def to_plain(value: Any) -> Any:
    """A config model (or section) as plain dicts and lists, for snapshots and JSON."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


M = TypeVar("M", bound=BaseModel)


def replace(model: M, **changes: Any) -> M:
    """A validated copy of a config model (or section) with some fields changed."""
    values = {name: getattr(model, name) for name in type(model).model_fields}
    try:
        return type(model).model_validate({**values, **changes})
    except ValidationError as exc:
        raise config_error(exc, type(model)) from None


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read YAML, apply CONGESTION_* overrides, validate; raise ConfigError naming the key."""
    import os

    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("<file>", f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"invalid YAML in {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("<root>", "the config file must be a mapping of sections")
    raw = EnvOverrides(os.environ if environ is None else environ).apply(raw)
    try:
        return Config(**{str(k): v for k, v in raw.items()})
    except ValidationError as exc:
        raise config_error(exc, Config) from None
