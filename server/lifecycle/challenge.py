"""Champion vs shadow on the same labelled live rows: per-window metrics, paired tests, a verdict."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from server.lifecycle.gate import _worse
from server.ml.compare import paired_evidence, scores
from server.store import repo_shadow

SIGNIFICANCE = 0.05


def verdict(evidence: dict[str, Any], metrics: tuple[str, ...], margin: float,
            alpha: float = SIGNIFICANCE) -> str:
    """``challenger_better`` only on a significant paired win that loses no metric by the margin
    and is not lower on the first metric at all.

    McNemar counts the rows the two decide differently, so it rewards accuracy: a challenger
    that drops more false alarms than it adds missed congestions wins it with a lower F1.
    bench/loop.py promoted such a one (McNemar p=0.023 with 18 against 6, F1 0.417 against
    0.421), and it then served 0.015-0.05 below the champion it replaced on every later day.
    """
    mcnemar, delong = evidence["mcnemar"], evidence["delong"]
    wins_decisions = mcnemar["p_value"] < alpha and mcnemar["a_only"] > mcnemar["b_only"]
    wins_ranking = delong["p_value"] is not None and delong["p_value"] < alpha and delong["delta"] > 0
    loses_decisions = mcnemar["p_value"] < alpha and mcnemar["a_only"] < mcnemar["b_only"]
    loses_ranking = delong["p_value"] is not None and delong["p_value"] < alpha and delong["delta"] < 0
    if (wins_decisions or wins_ranking) and not _worse(evidence, metrics, margin) \
            and not _worse(evidence, metrics[:1], 0.0):
        return "challenger_better"
    if loses_decisions or loses_ranking:
        return "champion_better"
    return "no_significant_difference"


def _per_window(rows: list[tuple]) -> list[dict[str, Any]]:
    by_window: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_window[int(row[5])].append(row)
    out = []
    for start in sorted(by_window, reverse=True):
        part = by_window[start]
        y = np.array([r[0] for r in part], dtype=int)
        champ = scores(y, np.array([r[1] for r in part], dtype=float), None, np.array([r[2] for r in part]))
        shadow = scores(y, np.array([r[3] for r in part], dtype=float), None, np.array([r[4] for r in part]))
        out.append({"start": start, "labelled": len(part), "champion": champ, "shadow": shadow})
    return out


def compare_rows(rows: list[tuple], tag: str, min_labels: int, metrics: tuple[str, ...],
                 margin: float, alpha: float = SIGNIFICANCE) -> dict[str, Any]:
    """The comparison of one shadow with whatever served, from its paired labelled rows."""
    base = {"version": tag, "labelled": len(rows), "min_labels": min_labels,
            "served_by": sorted({r[6] for r in rows}), "windows": _per_window(rows)}
    if len(rows) < min_labels:
        return {**base, "verdict": "too_few_labels", "evidence": None}
    y = np.array([r[0] for r in rows], dtype=int)
    evidence = paired_evidence(
        y, np.array([r[3] for r in rows], dtype=float), np.array([r[1] for r in rows], dtype=float),
        None, None, candidate_pred=np.array([r[4] for r in rows]), champion_pred=np.array([r[2] for r in rows]))
    evidence["champion_version"] = ",".join(base["served_by"])
    evidence["alpha"] = alpha
    return {**base, "verdict": verdict(evidence, metrics, margin, alpha), "evidence": evidence}


async def compare(sessions, config, tag: str, *, served_by: str | None = None,
                  alpha: float = SIGNIFICANCE) -> dict[str, Any]:
    """Read the paired rows of a shadow (optionally only those a given version served) and compare."""
    policy = config.versioning.promotion
    async with sessions() as session:
        rows = await repo_shadow.paired_rows(session, tag)
    if served_by is not None:
        rows = [r for r in rows if r[6] == served_by]
    return compare_rows(rows, tag, policy.min_labels, tuple(policy.metrics), float(policy.margin), alpha)


async def attach_to_windows(sessions, config, windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each monitoring window its shadows: both versions' realised metrics on the window's same
    labelled rows and their paired comparison (a verdict only past `min_labels` rows)."""
    starts = [w["start_timestamp"] for w in windows if w.get("start_timestamp") is not None]
    if not starts:
        return windows
    async with sessions() as session:
        rows = await repo_shadow.paired_rows_in_windows(session, min(starts), max(starts))
    groups: dict[tuple[int, str], dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    for shadow_version, *paired in rows:
        groups[(int(paired[5]), paired[6])][shadow_version].append(tuple(paired))
    policy = config.versioning.promotion
    for window in windows:
        by_shadow = groups.get((window.get("start_timestamp"), window["version"]), {})
        window["shadows"] = [_window_comparison(by_shadow[tag], tag, policy) for tag in sorted(by_shadow)]
    return windows


def _window_comparison(rows: list[tuple], tag: str, policy) -> dict[str, Any]:
    compared = compare_rows(rows, tag, policy.min_labels, tuple(policy.metrics), float(policy.margin))
    (window,) = compared["windows"]
    return {"version": tag, "labelled": compared["labelled"], "min_labels": compared["min_labels"],
            "champion": window["champion"], "shadow": window["shadow"],
            "verdict": compared["verdict"], "evidence": compared["evidence"]}
