"""Configuration: YAML + env overrides into frozen dataclasses, errors that name the key."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from server.config import DEFAULT_CONFIG_PATH, REPO_ROOT, Config, ConfigError, load_config, to_plain


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
    assert config.model.primary == "random_forest"
    assert config.versioning.auto_activate is True
    with pytest.raises(dataclasses.FrozenInstanceError):
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


@pytest.mark.parametrize("env, key", [
    ({"CONGESTION_SERVER__PORT": "eighty"}, "server.port"),
    ({"CONGESTION_SERVER__PROT": "1"}, "server.prot"),
    ({"CONGESTION_NOPE__X": "1"}, "nope"),
    ({"CONGESTION_MODEL__IMBALANCE__METHOD": "magic"}, "model.imbalance.method"),
    ({"CONGESTION_API__DEFAULT_THRESHOLD": "1.5"}, "api.default_threshold"),
    ({"CONGESTION_VERSIONING__AUTO_ACTIVATE": "maybe"}, "versioning.auto_activate"),
    ({"CONGESTION_DATA__ROWS": "true"}, "data.rows"),
])
def test_bad_values_name_the_key(env, key):
    with pytest.raises(ConfigError) as info:
        load_config(environ=env)
    assert info.value.key == key
    assert key in str(info.value)


def test_unknown_key_in_yaml_is_refused(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(DEFAULT_CONFIG_PATH.read_text() + "\nextra_section:\n  a: 1\n")
    with pytest.raises(ConfigError, match="extra_section"):
        load_config(path, environ={})


def test_every_key_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", readme, flags=re.M))
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
