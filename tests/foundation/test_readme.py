"""The README's SQL examples run on a populated database and answer something sensible."""
from __future__ import annotations

import re
import sqlite3

from server.config import REPO_ROOT


def readme_queries() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Query the metadata with SQL", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_readme_has_at_least_three_sql_examples():
    assert len(readme_queries()) >= 3


def test_readme_sql_examples_answer_on_a_trained_database(trained_workdir):
    with sqlite3.connect(trained_workdir / "metadata.sqlite3") as conn:
        conn.execute(
            "insert into model_events (kind, version_id, from_version_id, actor, reason, created_at) "
            "select 'rolled_back', min(id), max(id), 'api', 'test', '2029-01-01 00:00:00.000000' "
            "from model_versions")
        answers = {q.splitlines()[0]: conn.execute(q).fetchall() for q in readme_queries()}
    active = answers["-- Which version was active at a given time"]
    assert len(active) == 1 and re.fullmatch(r"\d{8}_\d{6}", active[0][0])
    trend = answers["-- F1 trend of the last 10 versions"]
    assert len(trend) == 2 and all(0.0 <= row[2] <= 1.0 for row in trend)
    phases = answers["-- Phase durations of the last 5 runs"]
    assert {row[3] for row in phases} >= {"data", "features", "training", "scoring", "save"}
    rollbacks = answers["-- Rollbacks with from and to tags"]
    assert rollbacks[0][1] != rollbacks[0][2] and rollbacks[0][4] == "test"
