"""Every example query runs with results: example_queries.sql in stdlib sqlite3, and
example_queries.postgresql.sql through asyncpg on PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.store import repo
from tests.backends import execute_sql

SQL_FILE = Path(__file__).resolve().parents[2] / "server" / "store" / "example_queries.sql"
SQL_FILES = {"sqlite": SQL_FILE, "postgresql": SQL_FILE.with_name("example_queries.postgresql.sql")}
T0 = datetime(2026, 11, 26, 7, 0, 0, tzinfo=timezone.utc)


def example_queries(path: Path = SQL_FILE) -> dict[str, str]:
    """Title -> SQL, split on the ``-- name:`` headers."""
    parts = re.split(r"^-- name: (.+)$", path.read_text(), flags=re.MULTILINE)
    return {title.strip(): body.strip() for title, body in zip(parts[1::2], parts[2::2])}


def test_both_dialects_offer_the_same_queries() -> None:
    assert example_queries(SQL_FILES["postgresql"]).keys() == example_queries().keys()


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL's round(numeric) answers Decimal; compare as floats like SQLite's."""
    return tuple(float(v) if isinstance(v, Decimal) else v for v in row)


async def test_example_queries_return_sensible_rows(
    db_url: str, backend: str, sm: async_sessionmaker[AsyncSession], add_version: Any
) -> None:
    v1 = await add_version(T0, f1=0.71, activate=True)
    v2 = await add_version(T0 + timedelta(hours=1), f1=0.64, model_type="xgboost", activate=True)
    async with sm.begin() as s:
        await repo.activate(s, v1.id, actor="cli", kind="rolled_back", reason="worse f1",
                            now=T0 + timedelta(hours=2))
        failed = await repo.create_run(s, trigger="api", model_type="xgboost", config_snapshot={},
                                       now=T0 + timedelta(hours=3))
        await repo.finish_run(s, failed.id, status="failed", error="out of memory",
                              now=T0 + timedelta(hours=3, minutes=1))

    queries = example_queries(SQL_FILES[backend])
    assert len(queries) >= 4
    results = {
        title: [_plain(r) for r in execute_sql(db_url, sql.rstrip(";"))]
        for title, sql in queries.items()
    }
    assert all(results.values()), {t: r for t, r in results.items() if not r}

    active = results["Which version was active at a given time"]
    assert active[0][:3] == (v1.tag, "random_forest", "rolled_back")  # T = 12:00, after the rollback
    trend = results["F1 trend of the last 10 versions"]
    assert [(r[0], r[1], r[2]) for r in trend] == [(v2.tag, "xgboost", 0.64), (v1.tag, "random_forest", 0.71)]
    phases = results["Phase durations of the last 5 runs"]
    assert {(r[3], r[4]) for r in phases} == {("load", 1.5), ("fit", 10.0)}
    rollbacks = results["Rollbacks with from and to tags"]
    assert [(r[1], r[2], r[4]) for r in rollbacks] == [(v2.tag, v1.tag, "worse f1")]
    failures = results["Failed or interrupted runs and why"]
    assert [(r[1], r[5]) for r in failures] == [("failed", "out of memory")]
