"""Prediction ids: sorted by issue time, unique, and `id_floor` splits them by arrival time."""
from __future__ import annotations

import re
import time

from server.monitoring.ids import IdIssuer, expand, id_floor, id_time


def test_ids_of_one_process_are_unique_and_sorted_in_issue_order():
    issuer = IdIssuer()
    ids = []
    for n in (1, 5, 1, 200, 3):
        ids += expand(*issuer.reserve(n), n)
    assert len(set(ids)) == len(ids) == 210
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert issuer.issued == 210


def test_two_processes_never_share_an_id_and_time_orders_them():
    a, b = IdIssuer(), IdIssuer()
    first = expand(*a.reserve(50), 50)
    time.sleep(0.002)
    second = expand(*b.reserve(50), 50)
    assert a.node != b.node
    assert not set(first) & set(second)
    assert max(first) < min(second), "a later millisecond sorts after, whichever process"


def test_id_floor_splits_ids_by_arrival_time():
    before = time.time()
    issued = expand(*IdIssuer().reserve(3), 3)
    assert all(id_floor(before - 0.001) <= i < id_floor(time.time() + 0.002) for i in issued)
    assert abs(id_time(issued[0]) - before) < 0.01
