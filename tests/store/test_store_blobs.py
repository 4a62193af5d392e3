"""LocalBlobStore: round trip, integrity checks, crash safety and garbage collection."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from server.store.blobs import TEMP_PREFIX, BlobRef, LocalBlobStore
from server.store.errors import BlobIntegrityError, BlobNotFound, InvalidValue


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    """An empty blob store in a tmp folder."""
    return LocalBlobStore(tmp_path / "blobs")


def test_round_trip_is_content_addressed(store: LocalBlobStore) -> None:
    data = b"pipeline bytes" * 1000
    ref = store.put(data)
    digest = hashlib.sha256(data).hexdigest()
    assert ref == BlobRef(digest, len(data))
    assert (store.root / "sha256" / digest[:2] / digest).is_file()
    assert store.read(digest, len(data)) == data
    assert store.exists(digest)
    assert store.put(data) == ref  # idempotent
    assert list(store.iter_all()) == [ref]
    assert store.delete(digest) and not store.delete(digest)
    with pytest.raises(BlobNotFound) as info:
        store.read(digest)
    assert info.value.code == "blob_not_found"


def test_tampered_blob_is_detected_without_leaking_paths(store: LocalBlobStore) -> None:
    ref = store.put(b"original content")
    path = store.root / "sha256" / ref.sha256[:2] / ref.sha256
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered content")  # same size, other bytes
    with pytest.raises(BlobIntegrityError) as info:
        store.read(ref.sha256, ref.size)
    assert info.value.code == "blob_integrity"
    assert str(store.root) not in str(info.value) and ref.sha256[:12] in str(info.value)
    with pytest.raises(BlobIntegrityError, match="bytes"):
        store.read(ref.sha256, ref.size + 1)
    assert store.put(b"original content") == ref  # put repairs a damaged copy
    assert store.read(ref.sha256, ref.size) == b"original content"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "ab", "g" * 64, "a" * 63 + "/"])
def test_digests_are_validated_before_any_path_is_built(store: LocalBlobStore, bad: str) -> None:
    for call in (store.read, store.exists, store.delete):
        with pytest.raises(InvalidValue):
            call(bad)


def test_crash_before_rename_leaves_no_partial_blob(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = store.put(b"already there")

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        store.put(b"new model")
    monkeypatch.undo()
    digest = hashlib.sha256(b"new model").hexdigest()
    assert not store.exists(digest)
    leftovers = [p for p in store.root.rglob("*") if p.is_file()]
    assert [p.name for p in leftovers] == [kept.sha256]
    assert store.read(kept.sha256, kept.size) == b"already there"
    assert store.put(b"new model").sha256 == digest


def test_gc_removes_unreferenced_blobs_and_stale_temp_files(store: LocalBlobStore) -> None:
    keep = store.put(b"keep me")
    drop = store.put(b"drop me")
    folder = store.root / "sha256" / keep.sha256[:2]
    stale = folder / f"{TEMP_PREFIX}{keep.sha256}-dead"
    fresh = folder / f"{TEMP_PREFIX}{keep.sha256}-busy"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 120
    os.utime(stale, (old, old))
    stranger = folder / "README.txt"  # not ours: left alone
    stranger.write_text("hi")
    assert store.gc({keep.sha256}) == 2
    assert store.exists(keep.sha256) and not store.exists(drop.sha256)
    assert not stale.exists() and fresh.exists() and stranger.exists()
    assert store.gc({keep.sha256}, temp_grace_s=0) == 1


def test_gc_grace_keeps_young_unreferenced_blobs(store: LocalBlobStore) -> None:
    """Another process may have written a blob whose artifact row is not inserted yet."""
    young = store.put(b"being saved elsewhere")
    old = store.put(b"orphan of a crash")
    hour_ago = time.time() - 3600
    os.utime(store.root / "sha256" / old.sha256[:2] / old.sha256, (hour_ago, hour_ago))
    assert store.gc(set(), blob_grace_s=600) == 1
    assert store.exists(young.sha256) and not store.exists(old.sha256)
    assert store.gc(set()) == 1, "no grace by default: every unreferenced blob goes"


def test_put_of_existing_content_renews_its_grace(store: LocalBlobStore) -> None:
    ref = store.put(b"same bytes")
    path = store.root / "sha256" / ref.sha256[:2] / ref.sha256
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))
    assert store.put(b"same bytes") == ref
    assert store.gc(set(), blob_grace_s=600) == 0 and store.exists(ref.sha256)
