"""Store-layer exceptions; each carries a stable ``code`` string for the API error envelope."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error raised by ``server.store``."""

    code: str = "store_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(StoreError):
    """A run, version, artifact or blob that does not exist."""

    code = "not_found"


class Conflict(StoreError):
    """A uniqueness rule or a state rule was violated (tag taken, phase started twice...)."""

    code = "conflict"


class InvalidValue(StoreError):
    """A value outside its allowed set (status, kind, actor, digest format...)."""

    code = "invalid_value"


class SchemaError(StoreError):
    """The database schema cannot be used by this code.

    ``code`` is one of ``schema_outdated`` (behind head, auto-upgrade off),
    ``schema_unknown_revision`` (newer or foreign revision) and ``schema_unmanaged``
    (tables exist but alembic has never stamped the database).
    """

    code = "schema_error"


class BlobNotFound(NotFound):
    """No blob is stored under this digest."""

    code = "blob_not_found"


class BlobIntegrityError(StoreError):
    """A stored blob's size or sha256 does not match what the registry recorded."""

    code = "blob_integrity"


class BlobSignatureError(BlobIntegrityError):
    """A blob without a valid signature from this server's key: refused before anyone unpickles it."""

    code = "blob_signature"
