"""Start-up degrades on any load error, locally, without moving other servers (issue 11 item 5)."""
from __future__ import annotations

import hashlib
import io
import sqlite3

import joblib

from server import keys
from server.app import create_app
from server.store.blob_factory import open_blob_store
from tests.conftest import check_error, check_json, tiny_config
from tests.hardening.test_integrity import RECORD, _events, _pipeline_blobs

# What a pickle written by another scikit-learn looks like here: a class this install lacks.
OTHER_SKLEARN_PICKLE = b"csklearn.ensemble._forest_v9\nRandomForestClassifier\n."


class _Exploding:
    """A model step that unpickles fine and fails the warm-up prediction."""

    n_features_in_ = 1

    def predict_proba(self, X):
        raise RuntimeError("warm-up exploded")


def _replace_pipeline(workdir, tag: str, data: bytes) -> None:
    """Store `data` as the version's pipeline blob, with a matching row (hash and size).

    Written through the server's own (signing) store: an artifact this deployment saved, e.g.
    under another library release, not a planted one (tests/hardening/test_signing.py).
    """
    ref = open_blob_store(tiny_config(workdir).storage).put(data)
    sha = ref.sha256
    assert sha == hashlib.sha256(data).hexdigest()
    with sqlite3.connect(workdir / "metadata.sqlite3") as conn:
        conn.execute("update artifacts set sha256 = ?, size_bytes = ? where kind = 'pipeline' and version_id = "
                     "(select id from model_versions where tag = ?)", (sha, len(data), tag))


def _exploding_pipeline(workdir, tag: str) -> bytes:
    sha, _ = _pipeline_blobs(workdir)[tag]
    pipeline = joblib.load(workdir / "blobs" / "sha256" / sha[:2] / sha)
    pipeline.steps[-1] = ("model", _Exploding())
    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    return buf.getvalue()


def _tags(workdir) -> tuple[str, str]:
    blobs = _pipeline_blobs(workdir)
    return next(t for t, v in blobs.items() if v[1]), next(t for t, v in blobs.items() if not v[1])


async def test_a_pickle_of_another_library_version_falls_back_locally(aiohttp_client, trained_workdir):
    """The active pickle names a class this install lacks: serve the older version, write no event."""
    active_tag, other_tag = _tags(trained_workdir)
    _replace_pipeline(trained_workdir, active_tag, OTHER_SKLEARN_PICKLE)
    events_before = _events(trained_workdir)

    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded" and ready["model"]["version"] == other_tag
    assert f"{active_tag} cannot be loaded" in ready["degraded"] and "ModuleNotFoundError" in ready["degraded"]
    assert (await check_json(await client.post("/api/predict", json=RECORD), 200))["version"] == other_tag

    assert await client.app[keys.REGISTRY].follow_database() is None, "the follower does not retry it"
    assert _events(trained_workdir) == events_before, "a local load problem wrote a global event"


async def test_nothing_loadable_starts_degraded_and_predict_is_503(aiohttp_client, trained_workdir):
    """Active: another library's pickle; the older one fails its warm-up. The server starts, predict is 503."""
    active_tag, other_tag = _tags(trained_workdir)
    exploding = _exploding_pipeline(trained_workdir, other_tag)
    _replace_pipeline(trained_workdir, active_tag, OTHER_SKLEARN_PICKLE)
    _replace_pipeline(trained_workdir, other_tag, exploding)
    events_before = _events(trained_workdir)

    client = await aiohttp_client(create_app(tiny_config(trained_workdir)))
    assert (await client.get("/healthz")).status == 200
    ready = await check_json(await client.get("/readyz"), 200)
    assert ready["status"] == "degraded" and ready["model"]["loaded"] is False
    assert active_tag in ready["degraded"] and "warm-up exploded" in ready["degraded"]
    error = await check_error(await client.post("/api/predict", json=RECORD), 503, "unavailable")
    assert "no model" in error["message"]
    assert _events(trained_workdir) == events_before
