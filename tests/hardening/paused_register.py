"""A second process for the blob-lock tests: registers a version and pauses mid-registration.

``python -m tests.hardening.paused_register WORKDIR PAUSED GO [WHEN]``: opens the registry on
WORKDIR as a server does, registers a copy of the active version and pauses: creates PAUSED,
then waits for GO to appear. WHEN is ``after-put`` (the default: its pipeline blob is written
and verified, its rows not inserted yet) or ``before-commit`` (its rows are inserted, the
transaction not committed yet). The tag it registered is written to PAUSED + ".tag" at the end.
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Iterator

from server.store.blobs import BlobRef, BlobStore
from tests.conftest import tiny_config
from tests.hardening.registry_copies import open_stack, register_copy, trained_result

WAIT_LIMIT_S = 300.0  # the test creates GO long before; this only ends a forgotten process


class PausingStore(BlobStore):
    """A real blob store that stops, once, after the first verified read (the pipeline's)."""

    def __init__(self, inner: BlobStore, paused: Path, go: Path) -> None:
        self.inner, self.paused, self.go = inner, paused, go
        self.armed = False

    def pause(self) -> None:
        self.paused.touch()
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not self.go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def put(self, data: bytes) -> BlobRef:
        return self.inner.put(data)

    def read(self, sha256: str, expected_size: int | None = None) -> bytes:
        data = self.inner.read(sha256, expected_size)
        if self.armed:
            self.armed = False
            self.pause()
        return data

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def delete(self, sha256: str) -> bool:
        return self.inner.delete(sha256)

    def iter_all(self) -> Iterator[BlobRef]:
        return self.inner.iter_all()

    def gc(self, referenced: set[str], **kwargs) -> int:
        return self.inner.gc(referenced, **kwargs)

    def put_signature(self, sha256: str, value: str) -> None:
        self.inner.put_signature(sha256, value)

    def get_signature(self, sha256: str, *, fresh: bool = False) -> str | None:
        return self.inner.get_signature(sha256, fresh=fresh)


def pause_before_committing_a_version(store: PausingStore) -> None:
    """Pause in the commit of the transaction that inserts a version (blocks this process only)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from server.store.tables import ModelVersion

    @event.listens_for(Session, "after_flush")
    def _note(session, _context) -> None:  # objects flushed are still in session.new here
        if any(isinstance(obj, ModelVersion) for obj in session.new):
            session.info["version_inserted"] = True

    @event.listens_for(Session, "before_commit")
    def _pause(session) -> None:
        if session.info.pop("version_inserted", False):
            store.pause()


async def main(workdir: Path, paused: Path, go: Path, when: str) -> None:
    stack = await open_stack(tiny_config(workdir))
    try:
        template = await trained_result(stack)
        store = PausingStore(stack.registry._blobs, paused, go)
        stack.registry._blobs = store
        if when == "before-commit":
            pause_before_committing_a_version(store)
        else:
            store.armed = True
        tag = await register_copy(stack, template, 1000)
        Path(f"{paused}.tag").write_text(tag)
    finally:
        await stack.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                     sys.argv[4] if len(sys.argv) > 4 else "after-put"))
