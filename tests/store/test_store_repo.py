"""Repository functions against a migrated SQLite file: runs, versions, events, retention."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.store import repo
from server.store.errors import Conflict, InvalidValue, NotFound
from server.store.records import ArtifactSpec
from server.store.run_owner import UNKNOWN_START, current_owner
from tests.backends import execute_sql

T0 = datetime(2026, 11, 26, 7, 0, 0, tzinfo=timezone.utc)
Sm = async_sessionmaker[AsyncSession]


def metrics(f1: float = 0.8) -> dict[str, Any]:
    return {
        "precision": 0.7, "recall": 0.9, "f1_score": f1, "auc_roc": 0.93, "pr_auc": 0.81,
        "brier": 0.08, "threshold": 0.5, "best_f1_threshold": 0.42, "tn": 800, "fp": 50,
        "fn": 20, "tp": 130, "samples": 1000, "features": 24,
    }


async def test_run_lifecycle_and_phases(sm: Sm) -> None:
    async with sm.begin() as s:
        run = await repo.create_run(s, trigger="cli", model_type="xgboost", config_snapshot={"a": 1}, now=T0)
        assert run.status == "queued" and run.is_open
        assert (await repo.running_run(s)).id == run.id  # type: ignore[union-attr]
        await repo.set_run_status(s, run.id, "running")
        await repo.record_phase_started(s, run.id, "load", now=T0)
        with pytest.raises(Conflict):
            await repo.record_phase_started(s, run.id, "load", now=T0)
        phase = await repo.record_phase_finished(s, run.id, "load", now=T0 + timedelta(seconds=2.5))
        assert phase.duration_s == 2.5
        with pytest.raises(NotFound):
            await repo.record_phase_finished(s, run.id, "never", now=T0)
        done = await repo.finish_run(s, run.id, status="failed", error="boom", now=T0 + timedelta(seconds=9))
    assert (done.status, done.error, done.duration_s) == ("failed", "boom", 9.0)
    assert done.finished_at == T0 + timedelta(seconds=9) and done.finished_at.tzinfo is not None
    assert [p.name for p in done.phases] == ["load"]
    async with sm.begin() as s:
        with pytest.raises(Conflict):
            await repo.finish_run(s, run.id, status="succeeded")
        with pytest.raises(InvalidValue):
            await repo.create_run(s, trigger="cron", model_type="x", config_snapshot={})
        assert await repo.running_run(s) is None
        with pytest.raises(NotFound):
            await repo.get_run(s, 999)


async def test_mark_interrupted_runs(sm: Sm) -> None:
    async with sm.begin() as s:
        a = await repo.create_run(s, trigger="api", model_type="m", config_snapshot={}, now=T0)
        b = await repo.create_run(s, trigger="startup", model_type="m", config_snapshot={}, status="running", now=T0)
        c = await repo.create_run(s, trigger="api", model_type="m", config_snapshot={}, now=T0)
        await repo.finish_run(s, c.id, status="cancelled", now=T0)
    async with sm.begin() as s:
        assert await repo.mark_interrupted_runs(s, now=T0 + timedelta(minutes=1)) == 2
    async with sm() as s:
        runs = {r.id: r for r in await repo.list_runs(s, limit=10)}
    assert runs[a.id].status == runs[b.id].status == "interrupted"
    assert runs[a.id].error == repo.INTERRUPTED_MESSAGE and runs[a.id].duration_s == 60.0
    assert runs[c.id].status == "cancelled"


async def test_run_records_its_owner(sm: Sm) -> None:
    async with sm.begin() as s:
        run = await repo.create_run(s, trigger="api", model_type="m", config_snapshot={},
                                    owner="host-a:41:boot/77", now=T0)
    async with sm() as s:
        assert (await repo.get_run(s, run.id)).owner == run.owner == "host-a:41:boot/77"
        assert (await repo.list_runs(s))[0].owner == "host-a:41:boot/77"


async def test_mark_interrupted_runs_spares_live_and_other_host_runs(sm: Sm) -> None:
    me, live, dead, reused = "host-a:10:b/100", "host-a:11:b/200", "host-a:12:b/300", "host-a:13:b/400"
    running = {me, live, "host-a:13:b/999"}  # pid 13 now belongs to another process
    owners = [me, live, dead, reused, "host-b:11:b/200", "host-b:99:b/1", None, "not an owner"]
    async with sm.begin() as s:
        ids = {o: (await repo.create_run(s, trigger="api", model_type="m", config_snapshot={},
                                         status="running", owner=o, now=T0)).id for o in owners}
    async with sm.begin() as s:
        assert await repo.mark_interrupted_runs(s, me=me, alive=running.__contains__) == 3
    async with sm() as s:
        status = {o: (await repo.get_run(s, ids[o])).status for o in owners}
    assert [o for o in owners if status[o] == "interrupted"] == [dead, reused, None]
    assert {status[o] for o in owners if o not in (dead, reused, None)} == {"running"}


async def test_mark_interrupted_runs_checks_real_processes_on_this_host(sm: Sm) -> None:
    me = current_owner()
    host, pid, start = me.split(":")
    if start == UNKNOWN_START:
        pytest.skip("no /proc: a live pid cannot be told from a reused one")
    async with sm.begin() as s:
        mine = await repo.create_run(s, trigger="api", model_type="m", config_snapshot={},
                                     status="running", owner=me, now=T0)
        reused = await repo.create_run(s, trigger="api", model_type="m", config_snapshot={},
                                       status="running", owner=f"{host}:{pid}:{start}0", now=T0)
        gone = await repo.create_run(s, trigger="api", model_type="m", config_snapshot={},
                                     status="running", owner=f"{host}:{2**22 + 1}:{start}", now=T0)
    async with sm.begin() as s:
        assert await repo.mark_interrupted_runs(s) == 2
    async with sm() as s:
        assert (await repo.get_run(s, mine.id)).status == "running"
        assert (await repo.get_run(s, reused.id)).status == "interrupted"
        assert (await repo.get_run(s, gone.id)).status == "interrupted"


async def test_register_version_records_everything(sm: Sm, add_version: Any) -> None:
    v = await add_version(T0, f1=0.75, phases={"load": 1.0, "fit": 4.0})
    assert v.tag == "20261126_070000" and not v.pruned
    assert v.metrics is not None and v.metrics.f1_score == 0.75 and v.metrics.tn == 800
    assert v.metrics.extra == {"roc_points": 3} and v.metrics.as_dict()["roc_points"] == 3
    assert [a.kind for a in v.artifacts] == ["pipeline", "plot"]
    assert v.artifact("pipeline").name == "model_20261126_070000.joblib"  # type: ignore[union-attr]
    assert v.phase_durations == {"load": 1.0, "fit": 4.0}
    assert v.created_at == T0
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.tag = "x"  # type: ignore[misc]
    async with sm() as s:
        run = await repo.get_run(s, v.run_id)
        assert run.version_id == v.id and run.status == "succeeded"
        events = await repo.list_events(s)
        assert [(e.kind, e.version_tag) for e in events] == [("trained", v.tag)]
        by_tag = await repo.get_version_by_tag(s, v.tag)
        assert by_tag == v
        art = await repo.artifact_by_name(s, f"roc_{v.tag}.png")
        assert (art.version_tag, art.content_type, art.version_pruned) == (v.tag, "image/png", False)
        assert len(await repo.artifacts_for_version(s, v.id)) == 2
        with pytest.raises(NotFound):
            await repo.artifact_by_name(s, "../etc/passwd")


async def test_register_version_validates_and_conflicts(sm: Sm, add_version: Any) -> None:
    v = await add_version(T0)
    good = ArtifactSpec("pipeline", "model_x.joblib", "a" * 64, 1, "application/octet-stream")
    base = dict(run_id=None, model_type="m", params={}, feature_names=[], data_summary={}, actor="cli")
    cases: list[tuple[dict[str, Any], type[Exception]]] = [
        (dict(tag=v.tag, metrics=metrics(), artifacts=[good]), Conflict),
        (dict(tag="2026-11-26", metrics=metrics(), artifacts=[good]), InvalidValue),
        (dict(tag=None, metrics={"f1_score": 1.0}, artifacts=[good]), InvalidValue),
        (dict(tag=None, metrics={**metrics(), "tp": "many"}, artifacts=[good]), InvalidValue),
        (dict(tag=None, metrics=metrics(), artifacts=[dataclasses.replace(good, name="../x")]), InvalidValue),
        (dict(tag=None, metrics=metrics(), artifacts=[dataclasses.replace(good, sha256="XYZ")]), InvalidValue),
        (dict(tag=None, metrics=metrics(), artifacts=[dataclasses.replace(good, kind="weights")]), InvalidValue),
        (dict(tag=None, metrics=metrics(), artifacts=[dataclasses.replace(good, name=v.artifacts[0].name)]), Conflict),
    ]
    for kwargs, error in cases:
        with pytest.raises(error):
            async with sm.begin() as s:
                await repo.register_version(s, **base, **kwargs)
    async with sm() as s:
        assert len(await repo.list_versions(s)) == 1  # every failed attempt rolled back


async def test_next_tag_bumps_by_a_second(sm: Sm, add_version: Any) -> None:
    await add_version(T0)
    await add_version(T0)
    async with sm() as s:
        assert await repo.next_tag(s, T0 + timedelta(microseconds=5)) == "20261126_070002"
        tags = [v.tag for v in await repo.list_versions(s)]
    assert sorted(tags) == ["20261126_070000", "20261126_070001"]


async def test_active_version_is_derived_from_events(sm: Sm, add_version: Any) -> None:
    v1 = await add_version(T0, activate=True)
    v2 = await add_version(T0 + timedelta(hours=1), activate=True)
    async with sm.begin() as s:
        assert (await repo.active_version(s)).id == v2.id  # type: ignore[union-attr]
        back = await repo.activate(
            s, v1.id, actor="cli", kind="rolled_back", reason="f1 dropped", now=T0 + timedelta(hours=2)
        )
        assert (back.from_version_tag, back.version_tag) == (v2.tag, v1.tag)
    async with sm() as s:
        assert (await repo.active_version(s)).id == v1.id  # type: ignore[union-attr]
        assert await repo.active_version_at(s, T0 - timedelta(seconds=1)) is None
        at = lambda h: repo.active_version_at(s, T0 + timedelta(hours=h, minutes=30))  # noqa: E731
        assert [(await at(h)).tag for h in (0, 1, 2)] == [v1.tag, v2.tag, v1.tag]  # type: ignore[union-attr]
        exact = await repo.active_version_at(s, T0 + timedelta(hours=1))
        assert exact is not None and exact.id == v2.id  # created_at <= T is inclusive


async def test_activation_query_uses_the_created_at_index(
    engine: AsyncEngine, backend: str, add_version: Any
) -> None:
    await add_version(T0, activate=True)
    explain = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN"
    async with engine.connect() as conn:
        if backend == "postgresql":
            # One row: the planner would rightly scan; ask whether the index *can* serve it.
            await conn.exec_driver_sql("SET enable_seqscan = off")
        plan = (
            await conn.exec_driver_sql(
                f"{explain} SELECT version_id FROM model_events WHERE kind IN "
                "('activated','rolled_back','promoted') AND created_at <= '2026-11-27' "
                "ORDER BY created_at DESC, id DESC LIMIT 1"
            )
        ).all()
    assert "ix_model_events_created_at" in " ".join(str(r) for r in plan)


async def test_retention_prunes_old_versions_but_never_the_active(sm: Sm, add_version: Any) -> None:
    versions = [await add_version(T0 + timedelta(hours=i)) for i in range(5)]
    async with sm.begin() as s:
        await repo.activate(s, versions[0].id, actor="startup", now=T0 + timedelta(hours=6))
        candidates = await repo.prune_candidates(s, keep_last=2)
        assert [c.id for c in candidates] == [versions[2].id, versions[1].id]
        for c in candidates:
            pruned = await repo.mark_pruned(s, c.id, reason="retention")
            assert pruned.pruned
        with pytest.raises(Conflict):
            await repo.mark_pruned(s, versions[0].id)
        again = await repo.mark_pruned(s, versions[1].id)  # idempotent
        assert again.pruned_at == pruned.pruned_at
        with pytest.raises(Conflict):
            await repo.activate(s, versions[1].id, actor="api")
    async with sm() as s:
        live = await repo.list_versions(s, include_pruned=False)
        assert {v.id for v in live} == {versions[i].id for i in (0, 3, 4)}
        assert len(await repo.list_versions(s)) == 5
        referenced = await repo.referenced_sha256s(s)
        assert referenced == {a.sha256 for v in live for a in v.artifacts}
        art = await repo.artifact_by_name(s, versions[1].artifacts[0].name)
        assert art.version_pruned
        kinds = [e.kind for e in await repo.list_events(s, kinds=["pruned"])]
        assert kinds == ["pruned", "pruned"]


async def test_metrics_history(sm: Sm, add_version: Any) -> None:
    vs = [await add_version(T0 + timedelta(hours=i), f1=0.5 + i / 10, activate=True) for i in range(4)]
    async with sm.begin() as s:
        await repo.activate(s, vs[1].id, actor="api", kind="rolled_back", now=T0 + timedelta(hours=5))
    async with sm() as s:
        history = await repo.metrics_history(s, limit=3)
    assert [p.tag for p in history.points] == [v.tag for v in vs[1:]]
    assert [round(p.metrics.f1_score, 2) for p in history.points] == [0.6, 0.7, 0.8]
    assert [(e.from_version_tag, e.version_tag) for e in history.rollbacks] == [(vs[3].tag, vs[1].tag)]


async def test_list_versions_does_not_query_per_version(engine: AsyncEngine, sm: Sm, add_version: Any) -> None:
    for i in range(6):
        await add_version(T0 + timedelta(minutes=i))
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with sm() as s:
            versions = await repo.list_versions(s)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(versions) == 6 and all(v.metrics and v.artifacts and v.phase_durations for v in versions)
    assert len(statements) <= 4


async def test_times_are_readable_utc_text(db_url: str, backend: str, add_version: Any) -> None:
    """SQLite keeps UTC text; PostgreSQL a timestamptz at the same instant, read in UTC."""
    await add_version(datetime(2026, 11, 26, 9, 30, tzinfo=timezone(timedelta(hours=2))))
    if backend == "sqlite":
        assert execute_sql(db_url, "SELECT created_at FROM model_versions") == [
            ("2026-11-26 07:30:00.000000",)
        ]
    else:
        assert execute_sql(
            db_url,
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),"
            " created_at = TIMESTAMPTZ '2026-11-26 09:30:00+02' FROM model_versions",
        ) == [("2026-11-26 07:30:00.000000", True)]


async def test_times_compare_as_instants_whatever_the_offset(sm: Sm, add_version: Any) -> None:
    """Activations written with a +02:00 clock are ordered and looked up by UTC instant."""
    plus2 = timezone(timedelta(hours=2))
    v1 = await add_version(datetime(2026, 11, 26, 9, 0, tzinfo=plus2), activate=True)  # 07:00Z
    v2 = await add_version(datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc), activate=True)
    async with sm() as s:
        before = await repo.active_version_at(s, datetime(2026, 11, 26, 9, 15, tzinfo=plus2))
        after = await repo.active_version_at(s, datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc))
        listed = await repo.list_versions(s)
    assert before is not None and before.id == v1.id
    assert after is not None and after.id == v2.id
    assert [v.id for v in listed] == [v2.id, v1.id]
    assert listed[1].created_at == datetime(2026, 11, 26, 7, 0, tzinfo=timezone.utc)


async def test_undefined_scores_are_stored_as_null(sm: Sm) -> None:
    spec = ArtifactSpec("metrics", "metrics_20261126_070000.json", "b" * 64, 2, "application/json")
    async with sm.begin() as s:
        v = await repo.register_version(
            s, run_id=None, tag="20261126_070000", model_type="m", params={}, feature_names=["a"],
            data_summary={}, metrics={**metrics(), "auc_roc": None, "pr_auc": None},
            artifacts=[spec], actor="cli", now=T0,
        )
    assert v.metrics is not None and v.metrics.auc_roc is None and v.metrics.f1_score == 0.8
    assert v.run_id is None and v.phase_durations == {}
