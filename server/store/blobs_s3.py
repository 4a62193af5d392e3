"""Content-addressed blobs in an S3-compatible bucket; synchronous, call via ``asyncio.to_thread``.

Layout: ``s3://<bucket>/<prefix>/sha256/<first two hex>/<64 hex>`` (signatures under
``.../hmac/``), the same addressing as :class:`~server.store.blobs.LocalBlobStore`. Reads stream the object into a local cache folder
(itself a LocalBlobStore), hashing on the way; bytes are returned only once their sha256 and
size match, and every later read re-verifies the cached copy.

Client: boto3, run in a thread. The BlobStore interface is synchronous (the registry, the
scoring CLI and worker threads call it through ``asyncio.to_thread``, as they do local file
I/O), boto3 clients are thread-safe, and boto3 is AWS's own SDK, released in lockstep with
botocore. Its s3transfer layer gives managed multipart uploads (threshold, part size, parallel
parts, abort on failure) that aiobotocore lacks: with aiobotocore we would hand-write multipart
and still need a loop bridge for the synchronous interface. aiobotocore is installed anyway (s3fs
uses it for Dask's ``s3://`` Parquet reads) and pip resolves boto3 to the same botocore.
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from server.store.blobs import (SHA256_RE, SIGNATURE_FOLDER, TEMP_GRACE_S, TEMP_PREFIX, BlobRef, BlobStore,
                                LocalBlobStore, check_digest)
from server.store.errors import BlobIntegrityError, BlobNotFound, InvalidValue

CHUNK = 1 << 20  # streamed read size
MIB = 1 << 20


class BlobStoreUnavailable(OSError):
    """The object store did not answer (down, unreachable, refused credentials).

    An OSError on purpose: the registry already turns OSErrors from a save into a clean
    ``storage_failure`` with nothing registered, exactly as for a full local disk.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message


@dataclass(frozen=True, slots=True)
class S3Location:
    """Bucket and key prefix parsed from ``s3://bucket/prefix``."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        parts = urlparse(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidValue("storage.blob_url must look like s3://bucket/prefix")
        return cls(parts.netloc, parts.path.strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)


def _short(sha256: str) -> str:
    return sha256[:12]


class S3BlobStore(BlobStore):
    """Blobs as S3 objects; a put becomes visible only once complete (multipart or not)."""

    def __init__(self, url: str, cache_dir: str | os.PathLike[str], *, endpoint_url: str = "",
                 region: str = "", multipart_threshold_mb: int = 8) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config as BotoConfig

        self.location = S3Location.parse(url)
        self.cache = LocalBlobStore(Path(cache_dir))
        # Credentials: the usual AWS chain (AWS_ACCESS_KEY_ID/..., AWS_PROFILE, ~/.aws/*).
        session = boto3.session.Session()

        def client(attempts: int):
            return session.client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                                  config=BotoConfig(connect_timeout=3, read_timeout=30,
                                                    retries={"max_attempts": attempts, "mode": "standard"}))

        self._client = client(2)  # a transient error is retried once, with backoff
        self._probe = client(1)  # /readyz wants an answer now, not after the backoff
        threshold = max(5, multipart_threshold_mb) * MIB  # S3's smallest part is 5 MiB
        self._transfer = TransferConfig(multipart_threshold=threshold, multipart_chunksize=threshold,
                                        max_concurrency=4)

    def _key(self, sha256: str) -> str:
        check_digest(sha256)
        return self.location.key("sha256", sha256[:2], sha256)

    def _signature_key(self, sha256: str) -> str:
        check_digest(sha256)
        return self.location.key(SIGNATURE_FOLDER, sha256[:2], sha256)

    def put_signature(self, sha256: str, value: str) -> None:
        self._call("put_object", Bucket=self.location.bucket, Key=self._signature_key(sha256),
                   Body=value.encode("ascii"))
        self.cache.put_signature(sha256, value)

    def get_signature(self, sha256: str, *, fresh: bool = False) -> str | None:
        """The signature, from the cache unless ``fresh`` (a wrong one is checked, not trusted)."""
        from botocore.exceptions import ClientError

        cached = None if fresh else self.cache.get_signature(sha256)
        if cached is not None:
            return cached
        try:
            response = self._call("get_object", Bucket=self.location.bucket, Key=self._signature_key(sha256))
        except ClientError:  # 404: not signed
            return None
        value = response["Body"].read(4096).decode("ascii", "replace").strip()
        if not value:
            return None
        self.cache.put_signature(sha256, value)
        return value

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise
            raise BlobStoreUnavailable(f"object store refused {method}: {code or exc}") from None
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(f"object store unreachable: {type(exc).__name__}") from None

    def _head(self, sha256: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self._call("head_object", Bucket=self.location.bucket, Key=self._key(sha256))
        except ClientError:
            return None

    def put(self, data: bytes) -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        ref = BlobRef(digest, len(data))
        key = self._key(digest)
        if self._stored_intact(digest, len(data)):
            # Identical content stored already: copying it onto itself renews LastModified,
            # the clock the GC grace reads, so another server's GC cannot take it mid-save.
            self._call("copy_object", Bucket=self.location.bucket, Key=key, MetadataDirective="REPLACE",
                       CopySource={"Bucket": self.location.bucket, "Key": key}, Metadata={"sha256": digest})
            return ref
        from botocore.exceptions import BotoCoreError, ClientError

        try:  # s3transfer switches to multipart above the threshold and aborts parts on failure
            self._client.upload_fileobj(io.BytesIO(data), self.location.bucket, key, Config=self._transfer,
                                        ExtraArgs={"Metadata": {"sha256": digest}})
        except (BotoCoreError, ClientError) as exc:
            raise BlobStoreUnavailable(f"could not upload blob {_short(digest)}: {type(exc).__name__}") from None
        return ref

    def _stored_intact(self, sha256: str, size: int) -> bool:
        """Whether the object exists and verifies (a damaged one is overwritten by the put)."""
        head = self._head(sha256)
        if head is None or head.get("ContentLength") != size:
            return False
        try:
            self.cache.delete(sha256)
            self._download(sha256, size)
        except (BlobNotFound, BlobIntegrityError):
            return False
        return True

    def read(self, sha256: str, expected_size: int | None = None) -> bytes:
        try:
            return self.cache.read(sha256, expected_size)
        except (BlobNotFound, BlobIntegrityError):
            pass  # not cached yet (or a damaged copy): fetch it again
        self._download(sha256, expected_size)
        return self.cache.read(sha256, expected_size)

    def _download(self, sha256: str, expected_size: int | None) -> None:
        """Stream the object into a cache temp file, verify, then rename it into place."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._call("get_object", Bucket=self.location.bucket, Key=self._key(sha256))
        except ClientError:
            raise BlobNotFound(f"blob {_short(sha256)} is missing from the object store") from None
        final = self.cache.base / sha256[:2] / sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{TEMP_PREFIX}{sha256}-{secrets.token_hex(4)}"
        digest, size = hashlib.sha256(), 0
        try:
            with open(tmp, "xb") as out:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected_size is not None and size != expected_size:
                raise BlobIntegrityError(
                    f"blob {_short(sha256)} has {size} bytes, the registry expects {expected_size}")
            if digest.hexdigest() != sha256:
                raise BlobIntegrityError(f"blob {_short(sha256)} does not match its sha256 digest")
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        except (BotoCoreError, ClientError) as exc:
            raise BlobStoreUnavailable(f"could not read blob {_short(sha256)}: {type(exc).__name__}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def delete(self, sha256: str) -> bool:
        existed = self.exists(sha256)
        self._call("delete_object", Bucket=self.location.bucket, Key=self._key(sha256))
        self._call("delete_object", Bucket=self.location.bucket, Key=self._signature_key(sha256))
        self.cache.delete(sha256)
        return existed

    def _objects(self, folder: str = "sha256") -> Iterator[dict]:
        prefix = self.location.key(folder) + "/"
        token: dict[str, str] = {}
        while True:
            page = self._call("list_objects_v2", Bucket=self.location.bucket, Prefix=prefix, **token)
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    @staticmethod
    def _digest_of(key: str) -> str | None:
        parts = key.rsplit("/", 2)
        if len(parts) == 3 and SHA256_RE.match(parts[2]) and parts[1] == parts[2][:2]:
            return parts[2]
        return None

    def iter_all(self) -> Iterator[BlobRef]:
        for obj in self._objects():
            digest = self._digest_of(obj["Key"])
            if digest is not None:
                yield BlobRef(digest, obj["Size"])

    def gc(
        self, referenced: set[str], *, temp_grace_s: float = TEMP_GRACE_S, blob_grace_s: float = 0.0
    ) -> int:
        now = time.time()
        removed = self._abort_stale_uploads(now - temp_grace_s)
        # Blobs first, then signatures: a blob this GC keeps always keeps its signature.
        for folder in ("sha256", SIGNATURE_FOLDER):
            for obj in list(self._objects(folder)):
                digest = self._digest_of(obj["Key"])
                if digest is None or digest in referenced:
                    continue  # not ours, or live
                if blob_grace_s > 0 and obj["LastModified"].timestamp() >= now - blob_grace_s:
                    continue  # maybe another server's save whose rows are not inserted yet
                self._call("delete_object", Bucket=self.location.bucket, Key=obj["Key"])
                removed += folder == "sha256"
        self.cache.gc(referenced, temp_grace_s=temp_grace_s)  # the cache only mirrors live blobs
        return removed

    def _abort_stale_uploads(self, before: float) -> int:
        """Multipart uploads a killed process never completed: the S3 analogue of temp files."""
        page = self._call("list_multipart_uploads", Bucket=self.location.bucket,
                          Prefix=self.location.key("sha256") + "/")
        aborted = 0
        for upload in page.get("Uploads", []):
            if upload["Initiated"].timestamp() < before:
                self._call("abort_multipart_upload", Bucket=self.location.bucket, Key=upload["Key"],
                           UploadId=upload["UploadId"])
                aborted += 1
        return aborted

    def health(self) -> str | None:
        """None when the bucket answers, else a short reason (for /readyz)."""
        try:
            self._probe.head_bucket(Bucket=self.location.bucket)
        except Exception as exc:  # a missing bucket (404) as much as a dead endpoint
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            return f"object store unreachable: {code or type(exc).__name__}"  # no URL or key leaks
        return None
