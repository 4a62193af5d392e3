"""Issue 11 item 11: artifacts are signed with a key outside the blob folder; unsigned or
mis-signed blobs are refused before anything unpickles them, whoever wrote the matching row."""
from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server import keys
from server.app import create_app
from server.config import REPO_ROOT, ConfigError
from server.scoring.cli import load_bundle
from server.errors import IntegrityFailure
from server.store import repo
from server.store.errors import BlobSignatureError
from tests.conftest import SIGNING_KEY, check_error, check_json, tiny_config, tiny_environ


class _Marker:
    """Unpickling this calls open(path, 'w'): proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _active_pipeline(workdir: Path) -> tuple[str, int]:
    """(tag, artifact id) of the active version's pipeline."""
    with sqlite3.connect(workdir / "metadata.sqlite3") as conn:
        active = conn.execute(
            "select version_id from model_events where kind in ('activated','rolled_back','promoted') "
            "order by id desc limit 1").fetchone()[0]
        return conn.execute("select v.tag, a.id from artifacts a join model_versions v on v.id = a.version_id "
                            "where a.kind = 'pipeline' and v.id = ?", (active,)).fetchone()


def _plant(workdir: Path, artifact_id: int, data: bytes, signature: str | None = None) -> str:
    """What an attacker with write access to the blob folder and the DB does: a blob, its row."""
    sha = hashlib.sha256(data).hexdigest()
    path = workdir / "blobs" / "sha256" / sha[:2] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if signature is not None:
        sig = workdir / "blobs" / "hmac" / sha[:2] / sha
        sig.parent.mkdir(parents=True, exist_ok=True)
        sig.write_text(signature)
    with sqlite3.connect(workdir / "metadata.sqlite3") as conn:
        conn.execute("update artifacts set sha256 = ?, size_bytes = ? where id = ?", (sha, len(data), artifact_id))
    return sha


@pytest.mark.parametrize("forged", [None, "00" * 32, hashlib.sha256(b"guess").hexdigest()],
                         ids=["unsigned", "zero-signature", "guessed-signature"])
async def test_planted_pickle_with_a_matching_sha256_row_is_refused_and_never_loaded(
        aiohttp_client, trained_workdir, tmp_path, forged):
    marker = tmp_path / "pwned"
    tag, artifact_id = _active_pipeline(trained_workdir)
    _plant(trained_workdir, artifact_id, pickle.dumps(_Marker(str(marker))), forged)

    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))  # start-up degrades
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded" and tag in ready["degraded"]
    assert ("is not signed" if forged is None else "signature that storage.signing_key_file did not make") \
        in ready["degraded"]
    assert client.app[keys.INFERENCE].version != tag
    error = await check_error(await client.post(f"/api/versions/rollback/{tag}"), 409, "integrity_error")
    assert str(trained_workdir) not in error["message"]
    await check_error(await client.get(f"/download/version/model_{tag}.joblib"), 409, "integrity_error")
    with pytest.raises(IntegrityFailure, match="signature|not signed"):
        await load_bundle(tiny_config(trained_workdir), tag)  # `congestion score` (and Dask scoring)
    assert not marker.exists(), "the planted pickle was never loaded"


async def test_every_reader_refuses_a_planted_json_artifact(aiohttp_client, trained_workdir):
    tag, _ = _active_pipeline(trained_workdir)
    with sqlite3.connect(trained_workdir / "metadata.sqlite3") as conn:
        rows = dict(conn.execute("select a.kind, a.id from artifacts a join model_versions v on v.id = a.version_id "
                                 "where v.tag = ?", (tag,)).fetchall())
    for kind in ("metrics", "holdout", "profile"):
        if kind in rows:
            _plant(trained_workdir, rows[kind], b'{"planted": true}')
    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    assert client.app[keys.INFERENCE].version == tag  # its pipeline, shap and distribution are intact
    async with client.app[keys.SESSIONS]() as session:
        version = await repo.get_version_by_tag(session, tag)

    await check_error(await client.get("/download/metrics"), 409, "integrity_error")
    with pytest.raises(BlobSignatureError):
        await client.app[keys.REGISTRY].read_blob(version.artifact("metrics"))
    if "holdout" in rows:  # server/lifecycle/thresholds.py
        with pytest.raises(BlobSignatureError):
            await client.app[keys.REGISTRY].thresholds.holdout(version)
    if "profile" in rows:  # the drift monitor's reference: refused, so drift tests are off for it
        assert await client.app[keys.DRIFT].profile(tag) is None


def test_the_key_is_created_once_mode_0600_and_reused(tmp_path):
    from server.store.blob_factory import open_blob_store

    key_file = tmp_path / "keys" / "signing.key"
    config = tiny_config(tmp_path / "work", CONGESTION_STORAGE__SIGNING_KEY_FILE=str(key_file))
    first = open_blob_store(config.storage)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    ref = first.put(b"artifact")
    content = key_file.read_text()
    second = open_blob_store(config.storage)
    assert key_file.read_text() == content and second.read(ref.sha256, ref.size) == b"artifact"

    other = open_blob_store(tiny_config(tmp_path / "work",
                                        CONGESTION_STORAGE__SIGNING_KEY_FILE=str(tmp_path / "other.key")).storage)
    with pytest.raises(BlobSignatureError, match="did not make"):
        other.read(ref.sha256, ref.size)


def test_a_key_inside_the_blob_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="storage.signing_key_file") as info:
        tiny_config(tmp_path, CONGESTION_STORAGE__SIGNING_KEY_FILE=str(tmp_path / "blobs" / "k"))
    assert "outside the blob folder" in str(info.value)


def _cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **tiny_environ(workdir)}
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


async def test_artifacts_from_before_signing_serve_after_one_versions_sign(aiohttp_client, trained_workdir):
    import shutil

    shutil.rmtree(trained_workdir / "blobs" / "hmac")  # what a registry from the previous release looks like
    (trained_workdir / SIGNING_KEY).unlink()
    before = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    ready = await check_json(await before.get("/readyz"), 200)
    assert ready["model"]["loaded"] is False and "versions sign" in ready["degraded"]
    await before.close()

    # The command signs only blobs whose sha256 and size match their rows: one that does not is named.
    tag, artifact_id = _active_pipeline(trained_workdir)
    with sqlite3.connect(trained_workdir / "metadata.sqlite3") as conn:
        conn.execute("update artifacts set size_bytes = size_bytes + 1 where id = ?", (artifact_id,))
    signed = _cli(trained_workdir, "versions", "sign")
    assert signed.returncode == 1, signed.stdout + signed.stderr  # one artifact failed its check
    assert f"model_{tag}.joblib" in signed.stderr and "signed " in signed.stdout
    with sqlite3.connect(trained_workdir / "metadata.sqlite3") as conn:
        conn.execute("update artifacts set size_bytes = size_bytes - 1 where id = ?", (artifact_id,))
    again = _cli(trained_workdir, "versions", "sign")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("signed 1 artifact(s)"), again.stdout

    after = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    ready = await check_json(await after.get("/readyz"), 200)
    assert ready["status"] == "ok" and ready["model"]["version"] == tag, ready


async def test_signatures_are_collected_with_their_blobs(aiohttp_client, trained_workdir):
    client = await aiohttp_client(create_app(tiny_config(trained_workdir, CONGESTION_VERSIONING__KEEP_LAST="1")))
    blobs = {p.name for p in (trained_workdir / "blobs" / "sha256").rglob("*") if p.is_file()}
    signatures = {p.name for p in (trained_workdir / "blobs" / "hmac").rglob("*") if p.is_file()}
    assert blobs == signatures
    await asyncio.to_thread(client.app[keys.BLOBS].put, b"orphan of a killed save")
    removed = await client.app[keys.REGISTRY]._collect_garbage()
    assert removed == 1
    assert {p.name for p in (trained_workdir / "blobs" / "hmac").rglob("*") if p.is_file()} == signatures
