"""Item 12: property tests: any schema-valid record gives finite features (both feature paths),
and a state machine over train / rollback / prune keeps the registry's promises after every step."""
from __future__ import annotations

import asyncio
import functools
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from server.errors import Gone
from server.ml.features import build_features
from server.ml.generator import generate_flows
from server.ml.vectorise import FeatureVectoriser
from server.ml.windows import WindowState, aggregate_names
from server.schemas import MAX_BYTES_SENT, MAX_PACKET_SIZE, MAX_TIMESTAMP, MAX_TEXT, check_record
from server.store import repo
from tests.conftest import SIGNING_KEY, tiny_config
from tests.hardening.registry_copies import open_stack, register_copy, trained_result

WINDOWS = (60, 600)

# -- records -------------------------------------------------------------------------------------

ips = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
                st.ip_addresses(v=6).map(lambda a: a.exploded))
protocols = st.one_of(
    st.sampled_from(["TCP", "udp", "Icmp", "6", "17", "1", "GRE", "esp", "132"]),
    st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=MAX_TEXT),
)
records = st.fixed_dictionaries(
    {
        "packet_size": st.one_of(st.integers(0, MAX_PACKET_SIZE),
                                 st.floats(0, MAX_PACKET_SIZE, allow_nan=False, allow_infinity=False)),
        "bytes_sent": st.one_of(st.integers(0, MAX_BYTES_SENT),
                                st.floats(0, MAX_BYTES_SENT, allow_nan=False, allow_infinity=False)),
        "source_ip": ips,
        "dest_ip": ips,
        "protocol": protocols,
    },
    optional={"timestamp_seconds": st.integers(0, MAX_TIMESTAMP), "hour": st.integers(0, 23),
              "extra field": st.text(max_size=5)},
)


def _validated(raw: dict) -> dict | None:
    """The record as the API hands it to serving, or None when the API would refuse it."""
    errors: dict[str, str] = {}
    valid = check_record(raw, errors=errors, now=lambda: 1_700_000_000)
    return valid.record if valid is not None else None


@functools.cache
def _union():
    """A feature union fitted on a small generated sample (stateless parts + the protocol set)."""
    flows = generate_flows(400, 5)
    return build_features({"windows_s": list(WINDOWS), "subnet_prefix": 24}).fit(flows)


@settings(max_examples=300, deadline=None)
@given(raw=records)
def test_any_schema_valid_record_gives_finite_features_on_both_paths(raw):
    record = _validated(raw)
    if record is None:  # e.g. a protocol that is only whitespace: the API answers 400, no features
        assert not raw["protocol"].strip() or not raw["protocol"].strip().isprintable()
        return
    union = _union()
    vectoriser = FeatureVectoriser(union)
    aggregates = WindowState(WINDOWS, 24, 100).update(record)
    online = vectoriser.vector(record, aggregates)
    assert len(online) == len(vectoriser.feature_names)
    assert all(math.isfinite(v) for v in online), dict(zip(vectoriser.feature_names, online))

    offline = union.transform(pd.DataFrame([record]))  # computes its own aggregates
    assert np.isfinite(offline).all()
    assert offline[0].tolist() == online, "the two feature paths agree exactly"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(records, min_size=1, max_size=30), hour_for_all=st.booleans())
def test_a_batch_of_valid_records_gives_the_same_finite_features_online_and_offline(batch, hour_for_all):
    valid = [r for r in map(_validated, batch) if r is not None]
    if not valid:
        return
    for r in valid:  # a batch where only some rows carry `hour` is pinned separately below
        if hour_for_all:
            r.setdefault("hour", (r["timestamp_seconds"] // 3600) % 24)
        else:
            r.pop("hour", None)
    valid.sort(key=lambda r: r["timestamp_seconds"])  # stream order: what both window paths define
    union = _union()
    vectoriser = FeatureVectoriser(union)
    state = WindowState(WINDOWS, 24, 10_000)
    online = [vectoriser.vector(r, state.update(r)) for r in valid]
    offline = union.transform(pd.DataFrame(valid))
    assert np.isfinite(offline).all()
    assert np.array_equal(offline, np.asarray(online)), "aggregates differ between the two paths"
    aggregates = offline[:, [vectoriser.feature_names.index(n) for n in aggregate_names(WINDOWS)]]
    assert (aggregates >= 0).all()


def test_a_batch_where_only_some_records_carry_hour():
    with_hour = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "10.0.0.1", "dest_ip": "10.0.1.1",
                 "protocol": "TCP", "timestamp_seconds": 1_700_000_000, "hour": 22}
    without = {k: v for k, v in with_hour.items() if k != "hour"}
    union = _union()
    offline = union.transform(pd.DataFrame([with_hour, without]))
    vectoriser = FeatureVectoriser(union)
    state = WindowState(WINDOWS, 24, 100)
    assert offline.tolist() == [vectoriser.vector(r, state.update(r)) for r in (with_hour, without)]


# -- the registry as a state machine -----------------------------------------------------------

KEEP_LAST = 2


class RegistryMachine(RuleBasedStateMachine):
    """train (register a copy, maybe activate, retention) / rollback / prune against a real registry."""

    template: Path  # set by the test: the trained DB + blobs
    checks = 0  # invariant checks across every run, so the test can prove the machine ran
    trained = 0

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.workdir = Path(tempfile.mkdtemp(prefix="registry-machine-"))
        shutil.copy2(self.template / "metadata.sqlite3", self.workdir / "metadata.sqlite3")
        shutil.copytree(self.template / "blobs", self.workdir / "blobs")
        shutil.copy2(self.template / SIGNING_KEY, self.workdir / SIGNING_KEY)
        config = tiny_config(self.workdir, CONGESTION_VERSIONING__KEEP_LAST=str(KEEP_LAST))
        self.stack = self.run(open_stack(config))
        self.result = self.run(trained_result(self.stack))
        self.copies = 0
        self.tags: list[str] = []
        self.steps = 0

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def learn_tags(self) -> None:
        self.tags = [v.tag for v in self.run(self._versions())]

    async def _versions(self):
        async with self.stack.sessions() as session:
            return await repo.list_versions(session, include_pruned=True)

    @rule(activate=st.booleans())
    def train(self, activate: bool) -> None:
        self.copies += 1
        type(self).trained += 1
        tag = self.run(register_copy(self.stack, self.result, self.copies))
        self.tags.append(tag)
        if activate:
            self.run(self.stack.registry.activate(tag, actor="api", reason="trained"))
        self.run(self.stack.registry.apply_retention(actor="system"))

    @rule(pick=st.integers(0, 1000))
    def rollback(self, pick: int) -> None:
        tag = self.tags[pick % len(self.tags)]
        pruned = {v.tag for v in self.run(self._versions()) if v.pruned_at is not None}
        if tag in pruned:
            with pytest.raises(Gone):
                self.run(self.stack.registry.rollback(tag, actor="api"))
        else:
            outcome = self.run(self.stack.registry.rollback(tag, actor="api"))
            assert outcome["version"] == tag

    @rule()
    def prune(self) -> None:
        self.run(self.stack.registry.apply_retention(actor="api"))

    @invariant()
    def promises_hold(self) -> None:
        self.steps += 1
        type(self).checks += 1
        versions = {v.id: v for v in self.run(self._versions())}
        live = [v for v in versions.values() if v.pruned_at is None]

        async def active_and_previous():
            async with self.stack.sessions() as session:
                active = await repo.active_version(session)
                last = await repo.list_events(session, limit=1, kinds=["activated", "rolled_back", "promoted"])
            return active, (last[0].from_version_id if last else None)

        active, previous = self.run(active_and_previous())
        assert active is not None and active.pruned_at is None, "the active version is never pruned"
        assert self.stack.inference.version == active.tag, "serving what the log says is active"
        if previous is not None:
            assert versions[previous].pruned_at is None, "the previous active is never pruned"
        assert len(live) <= KEEP_LAST + 2, "retention keeps keep_last + active + previous at most"
        referenced = set()
        for version in live:  # every live version's blobs are there and verify
            for artifact in version.artifacts:
                self.stack.blobs.read(artifact.sha256, artifact.size_bytes)
                referenced.add(artifact.sha256)
        on_disk = {ref.sha256 for ref in self.stack.blobs.iter_all()}
        assert on_disk == referenced, "pruned versions' own blobs are gone, shared ones stay"

    def teardown(self) -> None:
        try:
            self.run(self.stack.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.workdir, ignore_errors=True)


def test_registry_state_machine(trained_template):
    """Hypothesis drives the machine; any broken invariant fails the run with its step list."""
    RegistryMachine.template = trained_template
    RegistryMachine.checks = RegistryMachine.trained = 0
    run_state_machine_as_test(RegistryMachine, settings=settings(
        max_examples=6, stateful_step_count=12, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    # A machine that never stepped would pass vacuously: the invariants must really have run.
    assert RegistryMachine.checks >= 6, RegistryMachine.checks
    assert RegistryMachine.trained >= 1, "no train step ran"
