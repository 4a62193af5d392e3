"""The BlobStore contract on both backends: a local folder and a real S3 server (SeaweedFS)."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from server.config import load_config
from server.store.blob_factory import open_blob_store
from server.store.blobs import BlobRef, BlobStore, LocalBlobStore
from server.store.blobs_s3 import BlobStoreUnavailable, S3BlobStore
from server.store.errors import BlobIntegrityError, BlobNotFound, InvalidValue
from tests.conftest import s3_environ_overrides


class Backend:
    """A store plus the two things a test does behind its back: damage a blob, age it."""

    def __init__(self, store: BlobStore, server=None) -> None:
        self.store = store
        self.raw = getattr(store, "inner", store)  # the backend under the signing layer
        self.server = server

    def tamper(self, ref: BlobRef, data: bytes) -> None:
        if isinstance(self.raw, S3BlobStore):
            loc = self.raw.location
            self.server.client().put_object(Bucket=loc.bucket, Key=self.raw._key(ref.sha256), Body=data)
            self.raw.cache.delete(ref.sha256)  # force the next read to fetch the damaged object
            return
        path = self.raw.base / ref.sha256[:2] / ref.sha256
        os.chmod(path, 0o644)
        path.write_bytes(data)

    def age(self, ref: BlobRef, seconds: float) -> None:
        """Make a blob look `seconds` old (S3 stamps LastModified itself: we wait instead)."""
        if isinstance(self.raw, S3BlobStore):
            time.sleep(seconds)
            return
        path = self.raw.base / ref.sha256[:2] / ref.sha256
        past = time.time() - seconds
        os.utime(path, (past, past))


@pytest.fixture(params=["local", "s3"])
def backend_store(request, tmp_path: Path) -> Backend:
    """A store of each kind, built by the same factory the server uses."""
    env = {"CONGESTION_STORAGE__BLOB_DIR": str(tmp_path / "blobs"),
           "CONGESTION_STORAGE__SIGNING_KEY_FILE": str(tmp_path / "signing.key")}
    server = None
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        env.update(s3_environ_overrides(server, request.getfixturevalue("s3_url")))
    store = open_blob_store(load_config(environ=env).storage)
    assert isinstance(store.inner, S3BlobStore if server else LocalBlobStore)
    return Backend(store, server)


def test_round_trip_is_content_addressed_and_idempotent(backend_store: Backend) -> None:
    store = backend_store.store
    data = b"pipeline bytes" * 1000
    ref = store.put(data)
    assert ref == BlobRef(hashlib.sha256(data).hexdigest(), len(data))
    assert store.read(ref.sha256, ref.size) == data and store.exists(ref.sha256)
    assert store.put(data) == ref
    assert list(store.iter_all()) == [ref]
    assert store.health() is None
    assert store.delete(ref.sha256) and not store.delete(ref.sha256)
    with pytest.raises(BlobNotFound):
        store.read(ref.sha256)


def test_tampered_blob_is_detected_and_put_repairs_it(backend_store: Backend) -> None:
    store = backend_store.store
    ref = store.put(b"original content")
    backend_store.tamper(ref, b"tampered content")
    with pytest.raises(BlobIntegrityError) as info:
        store.read(ref.sha256, ref.size)
    assert info.value.code == "blob_integrity" and ref.sha256[:12] in str(info.value)
    assert store.put(b"original content") == ref
    assert store.read(ref.sha256, ref.size) == b"original content"


def test_wrong_expected_size_is_an_integrity_error(backend_store: Backend) -> None:
    ref = backend_store.store.put(b"twelve bytes")
    with pytest.raises(BlobIntegrityError, match="bytes"):
        backend_store.store.read(ref.sha256, ref.size + 1)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "g" * 64, "a" * 63 + "/"])
def test_digests_are_validated_before_any_key_is_built(backend_store: Backend, bad: str) -> None:
    for call in (backend_store.store.read, backend_store.store.exists, backend_store.store.delete):
        with pytest.raises(InvalidValue):
            call(bad)


def test_gc_removes_only_unreferenced_blobs(backend_store: Backend) -> None:
    store = backend_store.store
    keep, drop = store.put(b"keep me"), store.put(b"drop me")
    assert store.gc({keep.sha256}) == 1
    assert store.exists(keep.sha256) and not store.exists(drop.sha256)
    assert store.read(keep.sha256, keep.size) == b"keep me"


def test_gc_grace_keeps_young_blobs_and_a_repeated_put_renews_it(backend_store: Backend) -> None:
    store = backend_store.store
    old = store.put(b"orphan of a crash")
    renewed = store.put(b"saved again by another server")
    backend_store.age(old, 3)
    if isinstance(backend_store.raw, LocalBlobStore):
        backend_store.age(renewed, 3)
    assert store.put(b"saved again by another server") == renewed  # renews its grace
    young = store.put(b"being saved elsewhere")
    assert store.gc(set(), blob_grace_s=2) == 1
    assert not store.exists(old.sha256)
    assert store.exists(young.sha256) and store.exists(renewed.sha256)


def test_s3_reads_are_cached_locally_and_the_cache_is_verified(s3_server, s3_url, tmp_path: Path) -> None:
    env = {"CONGESTION_STORAGE__BLOB_DIR": str(tmp_path / "blobs"), **s3_environ_overrides(s3_server, s3_url),
           "CONGESTION_STORAGE__SIGNING_KEY_FILE": str(tmp_path / "signing.key")}
    store = open_blob_store(load_config(environ=env).storage)
    ref = store.put(b"cached bytes")
    assert store.read(ref.sha256, ref.size) == b"cached bytes"
    cached = tmp_path / "blobs" / "s3-cache" / "sha256" / ref.sha256[:2] / ref.sha256
    assert cached.read_bytes() == b"cached bytes"
    os.chmod(cached, 0o644)
    cached.write_bytes(b"cached BYTES")  # a damaged cache copy is fetched again, never served
    assert store.read(ref.sha256, ref.size) == b"cached bytes"
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".tmp-")]


def test_s3_large_artifacts_upload_in_parts(s3_server, s3_url, tmp_path: Path) -> None:
    env = {"CONGESTION_STORAGE__BLOB_DIR": str(tmp_path / "blobs"), **s3_environ_overrides(s3_server, s3_url),
           "CONGESTION_STORAGE__SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
           "CONGESTION_STORAGE__S3__MULTIPART_THRESHOLD_MB": "5"}
    store = open_blob_store(load_config(environ=env).storage)
    data = os.urandom(12 * (1 << 20))  # 12 MiB: three 5 MiB parts
    ref = store.put(data)
    head = s3_server.client().head_object(Bucket=store.inner.location.bucket, Key=store.inner._key(ref.sha256))
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]  # S3 marks multipart ETags "-<parts>"
    assert store.read(ref.sha256, ref.size) == data


def test_s3_gc_aborts_stale_multipart_uploads(s3_server, s3_url, tmp_path: Path) -> None:
    env = {"CONGESTION_STORAGE__BLOB_DIR": str(tmp_path / "blobs"), **s3_environ_overrides(s3_server, s3_url),
           "CONGESTION_STORAGE__SIGNING_KEY_FILE": str(tmp_path / "signing.key")}
    store = open_blob_store(load_config(environ=env).storage).inner
    key = store._key("ab" * 32)
    client = s3_server.client()
    client.create_multipart_upload(Bucket=store.location.bucket, Key=key)  # a killed uploader's parts
    assert store.gc(set(), temp_grace_s=60) == 0, "a fresh upload may still be in progress"
    time.sleep(1.1)
    assert store.gc(set(), temp_grace_s=0) == 1
    uploads = client.list_multipart_uploads(Bucket=store.location.bucket, Prefix=store.location.prefix)
    assert not uploads.get("Uploads")


@pytest.mark.slow  # botocore's retry backoff on a refused connection
def test_an_unreachable_object_store_raises_an_os_error_naming_it(tmp_path: Path, s3_credentials) -> None:
    from tests.conftest import free_port

    store = S3BlobStore("s3://nowhere/prefix", tmp_path / "cache",
                        endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1")
    with pytest.raises(BlobStoreUnavailable) as info:
        store.put(b"model")
    assert isinstance(info.value, OSError) and "object store" in str(info.value)
    assert store.health() is not None
    with pytest.raises(BlobStoreUnavailable):
        store.read("ab" * 32)
