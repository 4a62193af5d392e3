"""Hostile and broken files: tampered pickles, corrupted blobs at start-up, a full disk."""
from __future__ import annotations

import errno
import pickle
import sqlite3

from server import keys
from server.app import create_app
from server.store.blobs import LocalBlobStore
from tests.conftest import check_error, check_json, tiny_config


def _pipeline_blobs(workdir) -> dict[str, tuple[str, bool]]:
    """tag -> (sha256 of its pipeline blob, active?)."""
    with sqlite3.connect(workdir / "metadata.sqlite3") as conn:
        active = conn.execute(
            "select version_id from model_events where kind in ('activated','rolled_back','promoted') "
            "order by id desc limit 1").fetchone()[0]
        rows = conn.execute("select v.tag, a.sha256, v.id from artifacts a join model_versions v "
                            "on v.id = a.version_id where a.kind = 'pipeline'").fetchall()
    return {tag: (sha, vid == active) for tag, sha, vid in rows}


RECORD = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
          "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}


def _events(workdir) -> list[tuple]:
    with sqlite3.connect(workdir / "metadata.sqlite3") as conn:
        return conn.execute("select id, kind, version_id from model_events order by id").fetchall()


def _blob_path(workdir, sha):
    path = workdir / "blobs" / "sha256" / sha[:2] / sha
    path.chmod(0o644)
    return path


class _Marker:
    """Unpickling this calls open(path, 'w'): proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


async def test_tampered_pickle_is_refused_before_unpickling(aiohttp_client, trained_workdir, tmp_path):
    marker = tmp_path / "pwned"
    blobs = _pipeline_blobs(trained_workdir)
    old_tag, (old_sha, _) = next((t, v) for t, v in blobs.items() if not v[1])
    active_tag = next(t for t, v in blobs.items() if v[1])
    _blob_path(trained_workdir, old_sha).write_bytes(pickle.dumps(_Marker(str(marker))))

    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    error = await check_error(await client.post(f"/api/versions/rollback/{old_tag}"), 409, "integrity_error")
    assert str(trained_workdir) not in error["message"]
    assert not marker.exists(), "the tampered pickle was never loaded"
    assert client.app[keys.INFERENCE].version == active_tag
    assert (await check_json(await client.get("/api/metrics"), 200))["version"] == active_tag


async def test_corrupted_active_blob_at_start_up_serves_the_newest_good_version(aiohttp_client, trained_workdir):
    blobs = _pipeline_blobs(trained_workdir)
    active_tag, (active_sha, _) = next((t, v) for t, v in blobs.items() if v[1])
    other_tag = next(t for t, v in blobs.items() if not v[1])
    _blob_path(trained_workdir, active_sha).write_bytes(b"garbage")

    events_before = _events(trained_workdir)

    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded"
    assert active_tag in ready["degraded"] and other_tag in ready["degraded"]
    assert ready["model"]["version"] == other_tag
    assert (await check_json(await client.post("/api/predict", json=RECORD), 200))["version"] == other_tag
    # A blob missing here is this process's problem: nothing moves the servers sharing the database.
    assert _events(trained_workdir) == events_before
    versions = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    assert [v["timestamp"] for v in versions if v["active"]] == [active_tag]


async def test_no_good_version_means_503_on_predict(aiohttp_client, trained_workdir):
    for sha, _ in _pipeline_blobs(trained_workdir).values():
        _blob_path(trained_workdir, sha).unlink()
    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded" and ready["model"]["loaded"] is False
    await check_error(await client.post("/api/predict", json=RECORD), 503)


class _FullDisk(LocalBlobStore):
    """A blob store whose disk fills up after two artifacts."""

    writes = 0

    def put(self, data: bytes):
        type(self).writes += 1
        if type(self).writes > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().put(data)


async def test_disk_full_while_saving_fails_the_run_and_keeps_everything(aiohttp_client, trained_workdir, monkeypatch):
    import server.store.blob_factory as factory  # the app builds its store through the factory

    monkeypatch.setattr(factory, "LocalBlobStore", _FullDisk)
    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    before = await check_json(await client.get("/api/versions/detail"), 200)
    files_before = sorted(p.name for p in (trained_workdir / "blobs").rglob("*") if p.is_file())

    run = await check_json(await client.post("/api/train", json={}), 200)
    assert run["status"] == "failed"
    assert "No space left on device" in run["error"]
    after = await check_json(await client.get("/api/versions/detail"), 200)
    assert after == before, "no version row was added and none changed"
    files_after = sorted(p.name for p in (trained_workdir / "blobs").rglob("*") if p.is_file())
    assert files_after == files_before, "no partial or orphan file remains"
    assert client.app[keys.INFERENCE].version == next(v for v in before["versions"] if v["active"])["timestamp"]
