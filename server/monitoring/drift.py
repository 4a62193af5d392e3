"""Drift report of one window: column tests, dataset verdict, prediction, attribution, segments.

A pure function of a version's reference profile (`server/ml/profile.py`) and the window's
sketch (`drift_sketch.py`), so a replay of the same flows gives the same report as live traffic.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from server.ml.profile import CATEGORICAL, DEST_SUBNET, OTHER, RAW_NUMERIC
from server.monitoring import stattests as st
from server.monitoring.drift_sketch import PROBABILITY, WindowSketch

DEFAULT_COLUMNS = (*RAW_NUMERIC, *CATEGORICAL)


@dataclass(frozen=True)
class DriftSettings:
    """The `drift.*` configuration the report needs."""

    share: float = 0.5
    min_window_rows: int = 100
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    thresholds: Mapping[str, float] = field(default_factory=dict)
    segment_min_rows: int = 30
    attribution_threshold: float = 0.1
    unseen_share: float | None = None  # a categorical column drifts when this share of flows is unseen

    def threshold(self, name: str, default: float) -> float:
        """A calibrated threshold for a test (or `prediction`), else the registry's default."""
        return float(self.thresholds.get(name, default))


def numeric_test(reference: Mapping, current: np.ndarray, settings: DriftSettings) -> st.DriftTest:
    """The registry's numeric test of a reference summary against current values."""
    test = st.choose_test("numeric", int(reference["n"]))
    sketch = np.asarray(reference["sketch"], dtype=np.float64)
    threshold = settings.threshold(test.__name__, st.default_threshold(test))
    if test is st.wasserstein:
        return st.wasserstein(sketch, current, threshold, ref_std=float(reference["std"]))
    return test(sketch, current, threshold)


def categorical_test(reference: Mapping[str, int], rows: int, current: Mapping[str, int],
                     settings: DriftSettings) -> st.DriftTest:
    """The registry's categorical test on aligned count vectors."""
    keys = sorted(set(reference) | set(current))
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    test = st.choose_test("categorical", rows)
    threshold = settings.threshold(test.__name__, st.default_threshold(test))
    return st.COUNT_FORMS[test](ref, cur, threshold)


def unseen_share(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """Share of the window's flows in categories the reference never saw (new subnets, protocols)."""
    total = sum(current.values())
    return sum(n for k, n in current.items() if k not in reference) / total if total else 0.0


def unseen_tests(profile: Mapping, sketch: WindowSketch, settings: DriftSettings) -> dict[str, dict]:
    """Per categorical column: the unseen share, its threshold and verdict (None: the check is off)."""
    out = {}
    for name, reference in profile.get("categorical", {}).items():
        current = sketch.counts.get(name) or {}
        if current:
            share = unseen_share(reference, current)
            # A capped reference folded its rare categories into OTHER: unseen may just mean rare.
            threshold = settings.unseen_share if OTHER not in reference else None
            out[name] = {"share": share, "threshold": threshold,
                         "drift": threshold is not None and share >= threshold}
    return out


def column_tests(profile: Mapping, sketch: WindowSketch, settings: DriftSettings) -> dict[str, st.DriftTest]:
    """Every profiled column the window carries, tested against the reference."""
    out: dict[str, st.DriftTest] = {}
    for name, reference in profile.get("numeric", {}).items():
        values = sketch.values(name) if name in sketch.numeric else np.empty(0)
        if len(values):
            out[name] = numeric_test(reference, values, settings)
    for name, reference in profile.get("categorical", {}).items():
        current = sketch.counts.get(name) or {}
        if current:
            out[name] = categorical_test(reference, int(profile["rows"]), current, settings)
    return out


def prediction_drift(profile: Mapping, sketch: WindowSketch, settings: DriftSettings) -> dict | None:
    """Probability distribution of the window against the hold-out's (normed Wasserstein)."""
    reference, current = profile.get("probability"), sketch.values(PROBABILITY)
    if not reference or not len(current):
        return None
    test = st.wasserstein(np.asarray(reference["sketch"]), current, settings.threshold("prediction", 0.1),
                          ref_std=float(reference["std"]))
    return {**test.as_dict(), "mean": float(current.mean()), "reference_mean": float(reference["mean"])}


def attribution_drift(reference: Mapping[str, float], current: Mapping[str, float] | None,
                      threshold: float) -> dict | None:
    """Shares of mean |SHAP| per feature group, window vs reference; names groups that gained weight."""
    if not current or not reference:
        return None
    groups = sorted(set(reference) | set(current))
    ref_total = sum(reference.values()) or 1.0
    cur_total = sum(current.values()) or 1.0
    change = {g: current.get(g, 0.0) / cur_total - reference.get(g, 0.0) / ref_total for g in groups}
    statistic = max(abs(v) for v in change.values())
    return {"test": "shap_share", "statistic": statistic, "threshold": threshold, "drift": statistic >= threshold,
            "current": dict(current), "change": change,
            "rising": sorted((g for g, v in change.items() if v >= threshold), key=lambda g: -change[g])}


def _share_change(column: str, key: str, ref_share: float, cur_share: float, cur_rows: int) -> dict | None:
    """A named segment change, or None when the segment looks as it did."""
    if ref_share == 0:
        kind = "appeared"
    elif cur_share >= 2 * ref_share:
        kind = "grew"
    elif cur_share <= ref_share / 2:
        kind = "shrank"
    else:
        return None
    label = "subnet" if column == DEST_SUBNET else column
    verb = {"appeared": "appeared", "grew": "share doubled", "shrank": "share halved"}[kind]
    return {"column": column, "segment": key, "change": kind, "reference_share": ref_share,
            "current_share": cur_share, "rows": cur_rows, "message": f"{label} {key} {verb}"
            f" ({ref_share:.1%} -> {cur_share:.1%})"}


def segments(profile: Mapping, sketch: WindowSketch, min_rows: int) -> list[dict]:
    """Protocols and destination subnets with enough traffic whose share appeared, doubled or halved."""
    out = []
    for column in CATEGORICAL:
        reference = profile.get("categorical", {}).get(column, {})
        current = sketch.counts.get(column, {})
        ref_total, cur_total = sum(reference.values()) or 1, sum(current.values()) or 1
        for key in sorted(set(reference) | set(current)):
            ref_share, rows = reference.get(key, 0) / ref_total, current.get(key, 0)
            expected = ref_share * cur_total
            if max(rows, expected) < min_rows:  # too little traffic either way to name it
                continue
            change = _share_change(column, key, ref_share, rows / cur_total, rows)
            if change:
                out.append(change)
    return out


def window_report(profile: Mapping, sketch: WindowSketch, settings: DriftSettings,
                  shap_groups: Mapping[str, float] | None = None) -> dict:
    """The `/api/drift` record of one window."""
    base = {"start": sketch.start, "rows": sketch.rows}
    if sketch.rows < settings.min_window_rows:
        return {**base, "status": "too_small", "columns": {}, "dataset": None, "prediction": None,
                "attribution": None, "segments": []}
    tests = column_tests(profile, sketch, settings)
    unseen = unseen_tests(profile, sketch, settings)
    # A column drifts when its distribution test says so or, categorical, too many flows are unseen.
    verdicts = {name: replace(t, drift=t.drift or (unseen.get(name) or {}).get("drift", False))
                for name, t in tests.items()}
    monitored = {name: t for name, t in verdicts.items() if name in settings.columns}
    return {
        **base, "status": "ok",
        "columns": {name: {**t.as_dict(), "drift": verdicts[name].drift, "monitored": name in monitored,
                           **({"unseen": unseen[name]} if name in unseen else {})}
                    for name, t in tests.items()},
        "dataset": st.dataset_drift(monitored, settings.share),
        "prediction": prediction_drift(profile, sketch, settings),
        "attribution": attribution_drift(profile.get("shap_groups", {}), shap_groups, settings.attribution_threshold),
        "segments": segments(profile, sketch, settings.segment_min_rows),
    }


def top_features(profile: Mapping, n: int = 5) -> list[str]:
    """The n feature groups with the largest reference mean |SHAP|."""
    groups: Mapping[str, float] = profile.get("shap_groups", {})
    return sorted(groups, key=lambda g: -groups[g])[:n]


def columns_of(frame_columns: Sequence[str], profile: Mapping) -> tuple[list[str], list[str]]:
    """(numeric, categorical) profiled columns present in a frame."""
    numeric = [c for c in profile.get("numeric", {}) if c in frame_columns]
    return numeric, [c for c in profile.get("categorical", {})]
