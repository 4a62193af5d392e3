"""Immutable content-addressed blobs (sha256); synchronous, call via ``asyncio.to_thread``.

Layout: ``<root>/sha256/<first two hex>/<64 hex>``, and each blob's signature (see
``server.store.signing``) at ``<root>/hmac/<first two hex>/<64 hex>``. Paths are only ever
built from a validated 64-hex digest, never from client input such as a file name.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from server.store.errors import BlobIntegrityError, BlobNotFound, InvalidValue

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"
TEMP_GRACE_S = 60.0
SIGNATURE_FOLDER = "hmac"


@dataclass(frozen=True, slots=True)
class BlobRef:
    """Digest and size of a stored blob."""

    sha256: str
    size: int


def check_digest(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lowercase hex digits, else raise :class:`InvalidValue`."""
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise InvalidValue("a blob digest must be 64 lowercase hex digits")
    return sha256


class BlobStore(ABC):
    """Where artifact bytes live; the database stores only their digests."""

    @abstractmethod
    def put(self, data: bytes) -> BlobRef:
        """Store ``data`` durably (idempotent for identical content)."""

    @abstractmethod
    def read(self, sha256: str, expected_size: int | None = None) -> bytes:
        """The bytes, verified against the digest (and size); else :class:`BlobIntegrityError`."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether a blob with this digest is stored (not verified)."""

    @abstractmethod
    def delete(self, sha256: str) -> bool:
        """Remove a blob; False if it was not there."""

    @abstractmethod
    def iter_all(self) -> Iterator[BlobRef]:
        """Every stored blob (size from the file system, not verified)."""

    @abstractmethod
    def gc(
        self, referenced: set[str], *, temp_grace_s: float = TEMP_GRACE_S, blob_grace_s: float = 0.0
    ) -> int:
        """Delete stale temp files and blobs not in ``referenced``; return how many went.

        Unreferenced blobs younger than ``blob_grace_s`` are kept: another process may have
        written them for a version whose rows it has not inserted yet.
        """

    @abstractmethod
    def put_signature(self, sha256: str, value: str) -> None:
        """Store a blob's signature (hex text) beside it; replaces an older one."""

    @abstractmethod
    def get_signature(self, sha256: str, *, fresh: bool = False) -> str | None:
        """A blob's stored signature, or None; ``fresh`` skips any local cache."""

    def health(self) -> str | None:
        """None when the store can be reached, else a short reason (``/readyz`` reports it)."""
        return None


def _short(sha256: str) -> str:
    return sha256[:12]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    """Blobs as read-only files; each write goes temp file -> fsync -> rename -> fsync dir.

    The registry must only reference a blob after :meth:`put` returned. :meth:`gc` deletes
    unreferenced blobs older than its ``blob_grace_s`` (every one by default), so with no grace
    run it when no training result is being registered, in this process or any other.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.base = self.root / "sha256"
        self.signatures = self.root / SIGNATURE_FOLDER

    def _path(self, sha256: str) -> Path:
        check_digest(sha256)
        return self.base / sha256[:2] / sha256

    def put(self, data: bytes) -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        ref = BlobRef(digest, len(data))
        final = self._path(digest)
        if final.is_file() and final.stat().st_size == len(data):
            try:
                self.read(digest, len(data))
                os.utime(final)  # identical content already stored: renew the gc grace
                return ref
            except BlobIntegrityError:
                pass  # a damaged copy: rewrite it below
            except OSError:
                pass  # cannot touch it (another user's file): a rewrite renews it too
        folder = final.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{TEMP_PREFIX}{digest}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return ref

    def read(self, sha256: str, expected_size: int | None = None) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"blob {_short(sha256)} is missing from the blob store") from None
        if expected_size is not None and len(data) != expected_size:
            raise BlobIntegrityError(
                f"blob {_short(sha256)} has {len(data)} bytes, the registry expects {expected_size}"
            )
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobIntegrityError(f"blob {_short(sha256)} does not match its sha256 digest")
        return data

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def _signature_path(self, sha256: str) -> Path:
        check_digest(sha256)
        return self.signatures / sha256[:2] / sha256

    def put_signature(self, sha256: str, value: str) -> None:
        final = self._signature_path(sha256)
        folder = final.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{TEMP_PREFIX}{sha256}-{secrets.token_hex(4)}"
        try:
            with open(tmp, "x", encoding="ascii") as out:
                out.write(value)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)

    def get_signature(self, sha256: str, *, fresh: bool = False) -> str | None:
        try:
            return self._signature_path(sha256).read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            return "not-a-signature"  # garbage written by someone else: refused as mis-signed

    def delete(self, sha256: str) -> bool:
        path = self._path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        finally:  # the blob first, then its signature (see gc)
            self._signature_path(sha256).unlink(missing_ok=True)
        return True

    def _files(self, base: Path | None = None) -> Iterator[Path]:
        base = self.base if base is None else base
        if not base.is_dir():
            return
        for folder in sorted(base.iterdir()):
            if folder.is_dir() and re.fullmatch(r"[0-9a-f]{2}", folder.name):
                yield from sorted(p for p in folder.iterdir() if p.is_file())

    def iter_all(self) -> Iterator[BlobRef]:
        for path in self._files():
            if SHA256_RE.match(path.name) and path.parent.name == path.name[:2]:
                yield BlobRef(path.name, path.stat().st_size)

    def gc(
        self, referenced: set[str], *, temp_grace_s: float = TEMP_GRACE_S, blob_grace_s: float = 0.0
    ) -> int:
        removed = 0
        now = time.time()
        # Blobs first, then signatures: a blob this GC keeps always keeps its signature.
        for path in [*self._files(), *self._files(self.signatures)]:
            counted = path.parent.parent == self.base
            try:
                if path.name.startswith(TEMP_PREFIX):
                    stale = path.stat().st_mtime < now - temp_grace_s
                else:
                    stale = SHA256_RE.match(path.name) is not None and path.name not in referenced
                    if stale and blob_grace_s > 0:
                        stale = path.stat().st_mtime < now - blob_grace_s
            except FileNotFoundError:
                continue  # renamed into place or collected by another process meanwhile
            if stale:
                path.unlink(missing_ok=True)
                removed += counted
        return removed
