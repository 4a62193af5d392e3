"""Lifecycle tests run on every metadata backend: SQLite, and PostgreSQL when configured."""

from __future__ import annotations

import pytest

from tests import backends


@pytest.fixture(params=backends.backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """The metadata backend of this test (PostgreSQL skips, or fails in CI, when not set up)."""
    if request.param == "postgresql":
        backends.require_postgres()
    return request.param
