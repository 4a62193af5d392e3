"""Shared fixtures: configs on tmp SQLite files and blob dirs, and apps built by the real factory."""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from server.app import create_app
from server.config import Config, load_config
from tests import backends

if TYPE_CHECKING:
    from tests.s3server import SeaweedServer

# Small enough that a full training run (all phases) takes seconds on 2 cores.
TINY_ENV = {
    "CONGESTION_DATA__ROWS": "1500",
    "CONGESTION_MODEL__SEARCH_ITERATIONS": "2",
    "CONGESTION_MODEL__CV_SPLITS": "2",
    "CONGESTION_MODEL__SHAP_SAMPLE": "60",
    "CONGESTION_MODEL__N_JOBS": "1",
    "CONGESTION_MODEL__RANDOM_FOREST__PARAM_GRID": "{n_estimators: [15, 25], max_depth: [5, 6]}",
    "CONGESTION_MODEL__XGBOOST__PARAM_GRID": "{n_estimators: [20, 30], max_depth: [3]}",
    "CONGESTION_LOGGING__DIR": "",
    # Tiny models differ by chance; tests that are not about the promotion gate expect each new
    # version to serve, as before the gate existed (tests/lifecycle sets "auto" itself).
    "CONGESTION_VERSIONING__PROMOTION__MODE": "always",
}


SIGNING_KEY = "signing.key"


def tiny_environ(workdir: Path, **overrides: str) -> dict[str, str]:
    """Env overrides pointing storage at `workdir`, with tiny data and search settings."""
    env = {
        **TINY_ENV,
        "CONGESTION_STORAGE__DATABASE_URL": backends.workdir_url(workdir),
        "CONGESTION_STORAGE__BLOB_DIR": str(workdir / "blobs"),
        # Beside the blob folder, not in it; copied with the workdir (see _copy_workdir).
        "CONGESTION_STORAGE__SIGNING_KEY_FILE": str(workdir / SIGNING_KEY),
    }
    env.update(overrides)
    return env


def tiny_config(workdir: Path, **overrides: str) -> Config:
    """A Config for tests: real files under `workdir`, tiny training."""
    return load_config(environ=tiny_environ(workdir, **overrides))


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory) -> Path:
    """A DB + blob dir holding two registered versions (random forest active), built once."""
    from server import commands
    from server.services.training import TrainRequest

    workdir = tmp_path_factory.mktemp("trained")
    config = tiny_config(workdir)
    for model_type in ("xgboost", "random_forest"):
        code = asyncio.run(commands.pipeline(config, TrainRequest(model_type=model_type)))
        assert code == 0, f"training the {model_type} template failed"
    return workdir


def _copy_workdir(template: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(template / "metadata.sqlite3", target / "metadata.sqlite3")
    for suffix in ("-wal", "-shm"):
        extra = template / f"metadata.sqlite3{suffix}"
        if extra.exists():
            shutil.copy2(extra, target / extra.name)
    shutil.copytree(template / "blobs", target / "blobs")
    shutil.copy2(template / SIGNING_KEY, target / SIGNING_KEY)
    return target


@pytest.fixture
def backend() -> str:
    """Metadata backend of a test; tests/store and tests/api parametrise it over every backend."""
    return "sqlite"


@pytest.fixture(scope="session")
def trained_pg_template(tmp_path_factory) -> Iterator[Path]:
    """Like `trained_template`, the pipeline run twice against a PostgreSQL template database."""
    from server import commands
    from server.services.training import TrainRequest

    backends.require_postgres()
    workdir = tmp_path_factory.mktemp("trained_pg")
    url = backends.create_database()
    (workdir / backends.DATABASE_URL_FILE).write_text(url)
    try:
        config = tiny_config(workdir)
        for model_type in ("xgboost", "random_forest"):
            code = asyncio.run(commands.pipeline(config, TrainRequest(model_type=model_type)))
            assert code == 0, f"training the {model_type} PostgreSQL template failed"
        yield workdir
    finally:
        backends.drop_database(url)


@pytest.fixture
def trained_workdir(backend: str, request, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the trained template (DB + blobs) for one test."""
    if backend == "postgresql":
        template = request.getfixturevalue("trained_pg_template")
        target = tmp_path / "work"
        shutil.copytree(template / "blobs", target / "blobs")
        shutil.copy2(template / SIGNING_KEY, target / SIGNING_KEY)
        url = backends.create_database(template=backends.workdir_url(template))
        (target / backends.DATABASE_URL_FILE).write_text(url)
        yield target
        backends.drop_database(url)
        return
    yield _copy_workdir(request.getfixturevalue("trained_template"), tmp_path / "work")


@pytest.fixture
def trained_config(trained_workdir: Path) -> Config:
    """Config pointing at the copied trained DB and blobs."""
    return tiny_config(trained_workdir)


@pytest.fixture
def empty_config(backend: str, tmp_path: Path) -> Iterator[Config]:
    """Config pointing at a DB (file, or PostgreSQL database) and blob dir with nothing in them."""
    workdir = tmp_path / "empty"
    if backend == "postgresql":
        workdir.mkdir()
        url = backends.create_database()
        (workdir / backends.DATABASE_URL_FILE).write_text(url)
        yield tiny_config(workdir)
        backends.drop_database(url)
        return
    yield tiny_config(workdir)


@pytest.fixture
async def client(aiohttp_client, trained_config):
    """A test client on an app with two trained versions (random forest active)."""
    return await aiohttp_client(create_app(trained_config))


@pytest.fixture
async def empty_client(aiohttp_client, empty_config):
    """A test client on an app with an empty DB (no model)."""
    return await aiohttp_client(create_app(empty_config))


async def check_json(response, status: int) -> dict:
    """Assert status and a JSON body; return the body."""
    text = await response.text()
    assert response.status == status, f"expected {status}, got {response.status}: {text[:500]}"
    assert response.content_type == "application/json", response.content_type
    import json

    return json.loads(text)


async def check_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Assert the common error envelope; optionally its code and a named field."""
    body = await check_json(response, status)
    error = body["error"]
    assert set(error) >= {"code", "message", "fields"}, body
    if code is not None:
        assert error["code"] == code, body
    if field is not None:
        assert field in error["fields"], body
    return error


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch):
    """Tests never inherit CONGESTION_* settings from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("CONGESTION_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator["SeaweedServer"]:
    """One real SeaweedFS S3 server on loopback for the whole session (started and stopped here)."""
    from tests.s3server import SeaweedServer, s3_environ

    server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs")).start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in s3_environ().items():  # the usual AWS variables boto3/s3fs read
            patch.setenv(name, value)
        server.create_bucket(S3_TEST_BUCKET)
        try:
            yield server
        finally:
            server.stop()


S3_TEST_BUCKET = "congestion-tests"


@pytest.fixture
def s3_credentials(monkeypatch) -> None:
    """The AWS variables of the test servers, for a test that starts its own server."""
    from tests.s3server import s3_environ

    for name, value in s3_environ().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_url(s3_server, request) -> str:
    """A fresh s3://bucket/prefix of the session's server, private to one test."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40]
    return f"s3://{S3_TEST_BUCKET}/{name}-{uuid.uuid4().hex[:8]}"


def s3_environ_overrides(server, url: str) -> dict[str, str]:
    """CONGESTION_* overrides that point a config's blobs at `url` on `server`."""
    return {"CONGESTION_STORAGE__BLOB_URL": url, "CONGESTION_STORAGE__S3__ENDPOINT_URL": server.endpoint_url,
            "CONGESTION_STORAGE__S3__REGION": "us-east-1"}
