"""Artifact authenticity: every blob is signed with an HMAC key kept outside the blob folder.

The sha256 only proves a blob is the one a database row names, and whoever can write the blob
folder can often write that row too (by default the SQLite file sits inside the folder). The
signature, HMAC-SHA256 over the digest and size with ``storage.signing_key_file``, proves this
deployment wrote the blob: :class:`SignedBlobStore` signs on every put and checks on every
read, so nothing unsigned or mis-signed reaches ``joblib.load``. The signatures themselves are
stored beside the blobs (``<blob_dir>/hmac/``, ``s3://.../hmac/``): they need no secrecy.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Iterator

from server.store.blobs import TEMP_GRACE_S, BlobRef, BlobStore, check_digest
from server.store.errors import BlobSignatureError

log = logging.getLogger(__name__)

KEY_BYTES = 32
CONTEXT = b"congestion-blob-v1"  # a new layout of the signed message gets a new context
SIGN_COMMAND = "congestion versions sign"


class SigningKeyError(OSError):
    """The key file cannot be read, created or parsed (start-up stops with this message)."""


def key_path(configured: str) -> Path:
    """``storage.signing_key_file`` with ``~`` expanded, made absolute."""
    return Path(os.path.abspath(os.path.expanduser(configured)))


def _parse(text: str, path: Path) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise SigningKeyError(f"signing key file {path} is not hex text") from None
    if len(key) < KEY_BYTES:
        raise SigningKeyError(f"signing key file {path} holds {len(key)} bytes; at least {KEY_BYTES} are needed")
    return key


def _create(path: Path) -> bytes:
    """Write a fresh random key, mode 0600; if another process wins the race, use its key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, key.hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process just wrote
        except FileExistsError:
            return _parse(path.read_text(encoding="ascii"), path)
    finally:
        tmp.unlink(missing_ok=True)
    log.warning("created a new artifact signing key at %s (mode 0600): back it up, and give every "
                "process that shares this registry the same file", path)
    return key


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; created (0600) when the file does not exist yet."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        try:
            return _create(path)
        except OSError as exc:
            raise SigningKeyError(f"cannot create the signing key file {path}: {exc.strerror or exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"cannot read the signing key file {path}: {exc}") from None
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("signing key file %s can be read by other users; chmod 600 it", path)
    return _parse(text, path)


def signature(key: bytes, sha256: str, size: int) -> str:
    """HMAC-SHA256 (hex) of one blob's digest and size."""
    message = b"\0".join((CONTEXT, check_digest(sha256).encode(), str(int(size)).encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _short(sha256: str) -> str:
    return sha256[:12]


class SignedBlobStore(BlobStore):
    """Any blob store, signing every put and refusing every read without this key's signature."""

    def __init__(self, inner: BlobStore, key: bytes) -> None:
        self.inner = inner
        self._key = key

    def sign(self, sha256: str, size: int) -> str:
        """The signature this key gives a blob."""
        return signature(self._key, sha256, size)

    def put(self, data: bytes) -> BlobRef:
        ref = self.inner.put(data)
        self.inner.put_signature(ref.sha256, self.sign(ref.sha256, ref.size))
        return ref

    def read(self, sha256: str, expected_size: int | None = None) -> bytes:
        data = self.inner.read(sha256, expected_size)  # digest and size checked
        self.verify(sha256, len(data))
        return data

    def verify(self, sha256: str, size: int) -> None:
        """Raise :class:`BlobSignatureError` unless the stored signature is this key's."""
        expected = self.sign(sha256, size)
        stored = self.inner.get_signature(sha256)
        if stored is not None and not hmac.compare_digest(stored, expected):
            stored = self.inner.get_signature(sha256, fresh=True)  # a cached copy may be stale
        if stored is None:
            raise BlobSignatureError(
                f"blob {_short(sha256)} is not signed, so it is refused; artifacts saved before "
                f"signing existed are signed once with `{SIGN_COMMAND}` (see the README)")
        if not hmac.compare_digest(stored, expected):
            raise BlobSignatureError(
                f"blob {_short(sha256)} has a signature that storage.signing_key_file did not make "
                "(tampered, or signed with another key), so it is refused")

    def sign_existing(self, sha256: str, size: int, *, resign: bool = False) -> str:
        """Sign one stored blob whose digest and size verify; the outcome as a word.

        ``valid`` (already signed with this key), ``signed`` (had no signature), ``resigned``
        (had another key's signature, replaced because ``resign``), ``foreign`` (same, kept).
        """
        self.inner.read(sha256, size)  # BlobNotFound / BlobIntegrityError: nothing is signed
        stored = self.inner.get_signature(sha256, fresh=True)
        expected = self.sign(sha256, size)
        if stored is not None and hmac.compare_digest(stored, expected):
            return "valid"
        if stored is not None and not resign:
            return "foreign"
        self.inner.put_signature(sha256, expected)
        return "signed" if stored is None else "resigned"

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256) and self.inner.get_signature(sha256, fresh=True) is not None

    def delete(self, sha256: str) -> bool:
        return self.inner.delete(sha256)

    def iter_all(self) -> Iterator[BlobRef]:
        return self.inner.iter_all()

    def gc(self, referenced: set[str], *, temp_grace_s: float = TEMP_GRACE_S, blob_grace_s: float = 0.0) -> int:
        return self.inner.gc(referenced, temp_grace_s=temp_grace_s, blob_grace_s=blob_grace_s)

    def health(self) -> str | None:
        return self.inner.health()

    def put_signature(self, sha256: str, value: str) -> None:
        self.inner.put_signature(sha256, value)

    def get_signature(self, sha256: str, *, fresh: bool = False) -> str | None:
        return self.inner.get_signature(sha256, fresh=fresh)
