"""The blob store the config names: a local folder (the default) or an S3 bucket, always signed."""
from __future__ import annotations

from pathlib import Path

from server.config import StorageConfig
from server.store.blobs import BlobStore, LocalBlobStore
from server.store.signing import SignedBlobStore, key_path, load_or_create_key

S3_CACHE_FOLDER = "s3-cache"


def blob_location(storage: StorageConfig) -> str:
    """`storage.blob_url`, or `storage.blob_dir` when the URL is empty (today's behaviour)."""
    return storage.blob_url or storage.blob_dir


def open_unsigned_store(storage: StorageConfig) -> BlobStore:
    """LocalBlobStore for a path, S3BlobStore for s3://bucket/prefix (cache under blob_dir)."""
    location = blob_location(storage)
    if location.startswith("s3://"):
        from server.store.blobs_s3 import S3BlobStore  # boto3 is imported only when used

        return S3BlobStore(location, Path(storage.blob_dir) / S3_CACHE_FOLDER,
                           endpoint_url=storage.s3.endpoint_url, region=storage.s3.region,
                           multipart_threshold_mb=storage.s3.multipart_threshold_mb)
    return LocalBlobStore(Path(location))


def open_blob_store(storage: StorageConfig) -> SignedBlobStore:
    """The configured store, signing on write and verifying on read with storage.signing_key_file.

    Every reader (serving bundles, downloads, drift profiles, hold-outs, the scoring CLI and
    Dask) gets its store here, so none can read a blob this key did not sign. The key file
    is created (0600) the first time.
    """
    key = load_or_create_key(key_path(storage.signing_key_file))
    return SignedBlobStore(open_unsigned_store(storage), key)
