"""Monitoring tests run on every metadata backend; real server processes for signal tests."""

from __future__ import annotations

import pytest

from tests import backends
from tests.hardening.conftest import ServerProcess, server_factory  # noqa: F401  (fixture)

__all__ = ["ServerProcess", "server_factory"]

BASE_TS = 1_780_000_000 - 1_780_000_000 % 3600  # a window boundary


@pytest.fixture(params=backends.backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The metadata backend of this test (PostgreSQL skips, or fails in CI, when not set up)."""
    if request.param == "postgresql":
        backends.require_postgres()
    return request.param


def flow(i: int, ts: int | None = None, **changes) -> dict:
    """A valid flow record; `i` varies the hosts and sizes."""
    record = {"packet_size": 200 + (i * 37) % 1200, "bytes_sent": 1000 + (i * 7919) % 90000,
              "source_ip": f"10.0.{i % 7}.{i % 250 + 1}", "dest_ip": f"192.168.{i % 5}.{i % 200 + 2}",
              "protocol": ("TCP", "UDP", "ICMP")[i % 3],
              "timestamp_seconds": BASE_TS + i * 13 if ts is None else ts}
    record.update(changes)
    return record
