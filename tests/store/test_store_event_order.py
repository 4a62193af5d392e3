"""The active version follows the database-assigned event id, not a writer's clock (issue 11 item 6)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.store import repo
from tests.backends import execute_sql
from tests.store.conftest import T0, AddVersion
from tests.store.test_store_example_queries import SQL_FILES, example_queries


async def test_an_activation_written_by_a_host_whose_clock_lags_still_wins(
    db_url: str, backend: str, sm: async_sessionmaker[AsyncSession], add_version: AddVersion
) -> None:
    """Host A activates v1 at 10:00; host B, 5 minutes slow, activates v2 a minute later (stamped 09:56)."""
    v1 = await add_version(T0)
    v2 = await add_version(T0 + timedelta(minutes=1))
    host_a = T0 + timedelta(hours=3)
    async with sm.begin() as s:
        await repo.activate(s, v1.id, actor="api", now=host_a)
    async with sm.begin() as s:
        second = await repo.activate(s, v2.id, actor="cli", now=host_a - timedelta(minutes=4))
        assert second.from_version_id == v1.id
    async with sm.begin() as s:  # a third host, 10 minutes slow, rolls back to v1
        third = await repo.activate(s, v1.id, actor="cli", kind="rolled_back", now=host_a - timedelta(minutes=10))
        assert third.from_version_id == v2.id, "the rollback starts from what is really active"

    async with sm() as s:
        assert (await repo.active_version(s)).id == v1.id
        events = await repo.list_events(s, kinds=["activated", "rolled_back"])
        assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
        assert [e.kind for e in events[:2]] == ["rolled_back", "activated"]
        # At a time after every stamp, the answer is the latest write, whatever its clock said.
        assert await repo.active_version_id_at(s, host_a + timedelta(hours=1)) == v1.id
        assert events[0].id == third.id

    async with sm.begin() as s:  # one more activation by the slow host: followers must move to v2
        await repo.activate(s, v2.id, actor="cli", now=host_a - timedelta(minutes=20))
    async with sm() as s:
        assert (await repo.active_version(s)).id == v2.id
        history = await repo.metrics_history(s)
        assert [e.id for e in history.rollbacks] == [third.id]

    # The documented "which version was active at T" SQL gives the same answer as the server.
    sql = example_queries(SQL_FILES[backend])["Which version was active at a given time"]
    at = "TIMESTAMPTZ '2030-01-01 12:00:00+00'" if backend == "postgresql" else "'2030-01-01 12:00:00'"
    sql = sql.replace("TIMESTAMPTZ '2026-11-26 12:00:00+00'", at).replace("'2026-11-26 12:00:00'", at)
    [row] = execute_sql(db_url, sql.rstrip(";"))
    assert row[0] == v2.tag
