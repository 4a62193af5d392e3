"""Configuration: YAML + env overrides into frozen pydantic models, errors that name the key."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.config import DEFAULT_CONFIG_PATH, REPO_ROOT, Config, ConfigError, load_config, replace, to_plain


def _keys(value, prefix=""):
    for name, child in value.items():
        if isinstance(child, dict) and name != "column_map" and name != "param_grid":
            yield from _keys(child, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_defaults_load_from_the_shipped_yaml():
    config = load_config(environ={})
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.model.primary == "xgboost"
    assert config.versioning.auto_activate is True
    with pytest.raises(ValidationError, match="frozen"):
        config.server.port = 1  # type: ignore[misc]


def test_env_overrides_win_over_yaml_and_are_typed():
    config = load_config(environ={
        "CONGESTION_SERVER__PORT": "9000",
        "CONGESTION_STORAGE__DATABASE_URL": "sqlite+aiosqlite:////tmp/x.db",
        "CONGESTION_STORAGE__BLOB_DIR": "/tmp/blobs",
        "CONGESTION_MODEL__SEARCH_ITERATIONS": "2",
        "CONGESTION_MODEL__IMBALANCE__METHOD": "random",
        "CONGESTION_FEATURES__WINDOWS_S": "[30, 90]",
    })
    assert config.server.port == 9000
    assert config.storage.database_url == "sqlite+aiosqlite:////tmp/x.db"
    assert config.storage.blob_dir == "/tmp/blobs"
    assert config.model.search_iterations == 2
    assert config.model.imbalance.method == "random"
    assert config.features.windows_s == (30, 90)


def test_env_strings_stay_strings_while_typed_keys_coerce():
    config = load_config(environ={
        "CONGESTION_SERVER__TOKEN": "123456",
        "CONGESTION_STORAGE__BLOB_DIR": "007",
        "CONGESTION_DATA__COLUMN_MAP__PROTO": "17",
        "CONGESTION_SERVER__PORT": "9000",
        "CONGESTION_VERSIONING__AUTO_ACTIVATE": "false",
        "CONGESTION_DATA__PATH": "null",
        "CONGESTION_MODEL__IMBALANCE__METHOD": "none",
    })
    assert config.server.token == "123456"
    assert config.storage.blob_dir == "007"
    assert config.data.column_map == {"proto": "17"}
    assert config.server.port == 9000
    assert config.versioning.auto_activate is False
    assert config.data.path is None
    assert config.model.imbalance.method == "none"


def test_a_mapping_override_replaces_the_yaml_mapping():
    config = load_config(environ={"CONGESTION_MODEL__XGBOOST__PARAM_GRID": "{max_depth: [3]}"})
    assert config.model.xgboost.param_grid == {"max_depth": [3]}


def test_non_override_variables_with_the_prefix_are_ignored():
    config = load_config(environ={"CONGESTION_TEST_POSTGRES_URL": "x", "CONGESTION_SERVER": "y"})
    assert config == load_config(environ={})


@pytest.mark.parametrize("env, key", [
    ({"CONGESTION_SERVER__PORT": "eighty"}, "server.port"),
    ({"CONGESTION_SERVER__PROT": "1"}, "server.prot"),
    ({"CONGESTION_NOPE__X": "1"}, "nope"),
    ({"CONGESTION_MODEL__IMBALANCE__METHOD": "magic"}, "model.imbalance.method"),
    ({"CONGESTION_API__DEFAULT_THRESHOLD": "1.5"}, "api.default_threshold"),
    ({"CONGESTION_VERSIONING__AUTO_ACTIVATE": "maybe"}, "versioning.auto_activate"),
    ({"CONGESTION_DATA__ROWS": "true"}, "data.rows"),
    ({"CONGESTION_FEATURES__WINDOWS_S": "[0, 60]"}, "features.windows_s[0]"),
    ({"CONGESTION_FEATURES__WINDOWS_S": "[60"}, "features.windows_s"),
    ({"CONGESTION_MODEL__XGBOOST__PARAM_GRID": "{max_depth: []}"}, "model.xgboost.param_grid.max_depth"),
    ({"CONGESTION_SERVER__TOKEN": "null"}, "server.token"),
])
def test_bad_values_name_the_key(env, key):
    with pytest.raises(ConfigError) as info:
        load_config(environ=env)
    assert info.value.key == key
    assert key in str(info.value)


def test_messages_say_what_is_wrong_in_the_projects_words():
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CONGESTION_API__MAX_BATCH": "0"})
    assert str(info.value) == "config key 'api.max_batch': must be between 1 and 100000, got 0"
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CONGESTION_SERVER__PROT": "1"})
    assert "unknown key (known: allowed_hosts, event_loop, host, port, shutdown_timeout_s, stream_send_timeout_s, token)" in str(info.value)


def test_replace_validates_the_change():
    config = load_config(environ={})
    assert replace(config, api=replace(config.api, max_batch=5)).api.max_batch == 5
    with pytest.raises(ConfigError, match="max_batch"):
        replace(config.api, max_batch=0)


def test_unknown_key_in_yaml_is_refused(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(DEFAULT_CONFIG_PATH.read_text() + "\nextra_section:\n  a: 1\n")
    with pytest.raises(ConfigError, match="extra_section"):
        load_config(path, environ={})


def test_every_key_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", readme, flags=re.M))
    keys = set(_keys(to_plain(Config())))
    missing = sorted(keys - documented)
    assert not missing, f"README's configuration reference lacks: {missing}"
    stale = sorted(documented - keys)
    assert not stale, f"README documents keys that do not exist: {stale}"


def test_cli_config_flag_is_honoured(tmp_path: Path, capsys):
    from server.__main__ import main

    path = tmp_path / "c.yaml"
    path.write_text("server:\n  port: 'x'\n")
    assert main(["db", "current", "--config", str(path)]) == 2
    assert "server.port" in capsys.readouterr().err


@pytest.mark.parametrize("raw, seconds", [("off", 0.0), ("90", 90.0), ("30m", 1800.0), ("6h", 21_600.0),
                                          ("1d", 86_400.0), ("1.5h", 5400.0)])
def test_the_retrain_schedule_reads_durations(raw, seconds):
    assert load_config(environ={"CONGESTION_RETRAIN__SCHEDULE": raw}).retrain.schedule == seconds


def test_the_shipped_retrain_schedule_is_off_and_a_bad_duration_names_the_key():
    assert load_config(environ={}).retrain.schedule == 0.0
    with pytest.raises(ConfigError, match=r"retrain\.schedule"):
        load_config(environ={"CONGESTION_RETRAIN__SCHEDULE": "weekly"})
