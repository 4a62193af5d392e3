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
    f1_drop_sigmas: float = 2.0
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


def _metric_drop(metric: Mapping | None, baseline: float | None, drop: float,
                 sigmas: float) -> tuple[bool, dict]:
    """Fires when a window's F1 is below the baseline by `drop` plus `sigmas` of its own noise.

    A window of a few hundred labels has an F1 standard error of 0.03-0.08: against a bare
    0.05 margin, windows before any shift fired every third or fourth time.
    """
    metric = metric or {}
    value, sigma = metric.get("f1"), (metric.get("sigma") or {}).get("f1") or 0.0
    margin = drop + sigmas * sigma
    fired = value is not None and baseline is not None and value < baseline - margin
    return fired, {"value": value, "baseline": baseline, "drop": drop, "sigma": sigma, "margin": margin}


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
    drop, sigmas = settings.f1_drop, settings.f1_drop_sigmas
    out["f1_drop"] = _metric_drop(perf.get("realised"), baseline_f1, drop, sigmas)
    out["estimated_f1_drop"] = _metric_drop(perf.get("estimated"), baseline_f1, drop, sigmas)
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
