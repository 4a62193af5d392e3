"""Alert rules and their debounce: a pure state machine fed one signal set per closed window.

Each rule turns a window's evidence into firing / not firing. An alert opens after the rule has
fired for `for_windows` consecutive windows and resolves after `resolve_windows` consecutive
quiet ones (hysteresis), so a single noisy window never pages anyone and a flapping one does
not page twice.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RULES = ("dataset_drift", "feature_drift", "prediction_drift", "f1_drop", "estimated_f1_drop",
         "label_coverage", "prediction_rate", "probability_change", "error_change")


@dataclass(frozen=True)
class AlertSettings:
    """The `alerts.*` configuration the engine needs."""

    rules: tuple[str, ...] = RULES
    for_windows: int = 2
    resolve_windows: int = 2
    f1_drop: float = 0.05
    f1_drop_sigmas: float = 3.0
    min_label_coverage: float = 0.1
    coverage_windows: int = 3

    def opens_after(self, rule: str) -> int:
        """Consecutive firing windows that open an alert of this rule."""
        return self.coverage_windows if rule == "label_coverage" else self.for_windows


@dataclass(frozen=True)
class Transition:
    """An alert that opened or resolved at a window."""

    kind: str  # "opened" or "resolved"
    rule: str
    version: str
    window_start: int
    evidence: Mapping[str, Any]


@dataclass
class _RuleState:
    firing_streak: int = 0
    quiet_streak: int = 0
    open: bool = False
    last_evidence: dict = field(default_factory=dict)


def _metric_drop(value: float | None, baseline: float | None, sigma: float, drop: float,
                 sigmas: float) -> tuple[bool, dict]:
    """Fires when a window's F1 is below the baseline by `drop` plus `sigmas` standard deviations."""
    margin = drop + sigmas * sigma
    fired = value is not None and baseline is not None and value < baseline - margin
    return fired, {"value": value, "baseline": baseline, "drop": drop, "sigma": sigma, "margin": margin}


def f1_drops(performance: Mapping | None, baseline_f1: float | None, drop: float,
             sigmas: float) -> dict[str, tuple[bool, dict]]:
    """The f1_drop and estimated_f1_drop verdicts of one window's performance record.

    The record holds F1 over a trailing span of windows (`alerts.f1_span_s`) with its standard
    error. The pooled hold-out F1 covers whole days; an hour's F1 swings with the daily cycle
    (off-peak hours have almost no congestion, and F1 near 0 there): bench/drift.py measured
    hourly windows at a mean F1 of 0.28 with a spread of 0.33 against a hold-out F1 of 0.66.
    """
    perf = performance or {}
    out = {}
    for rule, kind in (("f1_drop", "realised"), ("estimated_f1_drop", "estimated")):
        metric = perf.get(kind) or {}
        sigma = (metric.get("sigma") or {}).get("f1") or 0.0
        fired, evidence = _metric_drop(metric.get("f1"), baseline_f1, sigma, drop, sigmas)
        out[rule] = fired, {**evidence, "span_windows": perf.get("span_windows")}
    return out


def signals(report: Mapping, top_features: Sequence[str], baseline_f1: float | None,
            performance: Mapping | None, settings: AlertSettings) -> dict[str, tuple[bool, dict]]:
    """Per rule: (fires, evidence) for one window's drift report and performance record."""
    out: dict[str, tuple[bool, dict]] = {}
    ok = report.get("status") == "ok"
    dataset = report.get("dataset") or {}
    out["dataset_drift"] = (ok and bool(dataset.get("drift")), dict(dataset))
    columns = report.get("columns", {})
    drifted = [f for f in top_features if columns.get(_column_of(f), {}).get("drift")]
    out["feature_drift"] = (ok and bool(drifted), {"features": drifted, "top_features": list(top_features)})
    prediction = report.get("prediction") or {}
    out["prediction_drift"] = (ok and bool(prediction.get("drift")), dict(prediction))
    perf = performance or {}
    out.update(f1_drops(perf, baseline_f1, settings.f1_drop, settings.f1_drop_sigmas))
    coverage = perf.get("label_coverage")
    out["label_coverage"] = (coverage is not None and coverage < settings.min_label_coverage,
                             {"label_coverage": coverage, "minimum": settings.min_label_coverage})
    for name in ("prediction_rate", "probability_change", "error_change"):
        evidence = report.get(name) or {}
        out[name] = (bool(evidence.get("drift")), dict(evidence))
    return {rule: out[rule] for rule in settings.rules if rule in out}


def _column_of(feature_group: str) -> str:
    """The monitored column that stands for a SHAP feature group (destination IP -> its subnet)."""
    return "dest_subnet" if feature_group == "dest_ip" else feature_group


class AlertEngine:
    """Debounced open/resolve per (version, rule); feed windows in time order."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self._state: dict[tuple[str, str], _RuleState] = {}

    def restore(self, version: str, rule: str) -> None:
        """Mark an alert open (e.g. read back from the database at start-up)."""
        self._state.setdefault((version, rule), _RuleState()).open = True

    def is_open(self, version: str, rule: str) -> bool:
        """Whether an alert of this rule is open for the version."""
        state = self._state.get((version, rule))
        return bool(state and state.open)

    def states(self) -> list[tuple[str, str, bool]]:
        """(version, rule, open) of every rule evaluated or restored so far."""
        return [(version, rule, state.open) for (version, rule), state in sorted(self._state.items())]

    def evaluate(self, version: str, window_start: int,
                 fired: Mapping[str, tuple[bool, dict]]) -> list[Transition]:
        """Apply one window's signals; returns the alerts that opened or resolved at it."""
        out = []
        for rule, (fires, evidence) in fired.items():
            state = self._state.setdefault((version, rule), _RuleState())
            if fires:
                state.firing_streak, state.quiet_streak = state.firing_streak + 1, 0
                state.last_evidence = dict(evidence)
                if not state.open and state.firing_streak >= self.settings.opens_after(rule):
                    state.open = True
                    out.append(Transition("opened", rule, version, window_start,
                                          {**evidence, "windows_firing": state.firing_streak}))
            else:
                state.firing_streak, state.quiet_streak = 0, state.quiet_streak + 1
                if state.open and state.quiet_streak >= self.settings.resolve_windows:
                    state.open = False
                    out.append(Transition("resolved", rule, version, window_start,
                                          {**evidence, "windows_quiet": state.quiet_streak}))
        return out
