"""Per-column drift tests, read like Evidently's stattest registry.

Each test is a small function ``(reference, current) -> DriftTest`` on plain arrays (numeric
values or category labels). `choose_test` picks one from a table keyed on the column type and
the reference size, with Evidently's defaults: up to 1,000 reference rows a hypothesis test
(drift when p < 0.05), above that a distance (drift when >= 0.1), because with large samples
every p-value is tiny and the verdict would only measure the sample size.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import spatial, stats

SMALL_REFERENCE = 1_000
P_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
MIN_NUMERIC_UNIQUE = 6  # "> 5 unique values" makes a numeric column continuous
_STD_FLOOR = 1e-3  # a constant reference column: Evidently's floor on the norm


@dataclass(frozen=True)
class DriftTest:
    """One column's verdict: test name, statistic (p-value for hypothesis tests), threshold, drift."""

    test: str
    statistic: float
    threshold: float
    drift: bool

    def as_dict(self) -> dict:
        """JSON-ready record."""
        return asdict(self)


def _p_value_test(name: str, p_value: float, threshold: float) -> DriftTest:
    p = float(p_value) if math.isfinite(p_value) else 1.0
    return DriftTest(name, p, threshold, p < threshold)


def _distance_test(name: str, distance: float, threshold: float) -> DriftTest:
    d = float(distance) if math.isfinite(distance) else 0.0
    return DriftTest(name, d, threshold, d >= threshold)


def ks(reference: np.ndarray, current: np.ndarray, threshold: float = P_THRESHOLD) -> DriftTest:
    """Two-sample Kolmogorov-Smirnov test; the statistic is the p-value."""
    return _p_value_test("ks", stats.ks_2samp(reference, current).pvalue, threshold)


def category_counts(values: Sequence, keys: Sequence) -> np.ndarray:
    """Counts of each key among the values (keys not present count 0)."""
    index = {k: i for i, k in enumerate(keys)}
    counts = np.zeros(len(keys), dtype=np.float64)
    for v in values:
        counts[index[v]] += 1
    return counts


def _union_keys(reference: Sequence, current: Sequence) -> list:
    return sorted(set(reference) | set(current), key=str)


def chi_square(reference: Sequence, current: Sequence, threshold: float = P_THRESHOLD) -> DriftTest:
    """Pearson's chi-square of the current counts against the reference frequencies."""
    keys = _union_keys(reference, current)
    return chi_square_counts(category_counts(reference, keys), category_counts(current, keys), threshold)


def chi_square_counts(reference: np.ndarray, current: np.ndarray, threshold: float = P_THRESHOLD) -> DriftTest:
    """Chi-square from aligned count vectors (the per-window sketch's form)."""
    ref = np.asarray(reference, dtype=np.float64)
    observed = np.asarray(current, dtype=np.float64)
    unseen = (ref == 0) & (observed > 0)
    if unseen.any():
        # Categories the reference never saw have zero expected counts (an infinite statistic), so
        # one stray flow of a rare subnet would be "drift". They share one bin with a pseudo-count
        # of 1 in the reference: a real newcomer stays significant, a single stray flow does not.
        ref = np.append(ref[~unseen], 1.0)
        observed = np.append(observed[~unseen], observed[unseen].sum())
    expected = ref / max(float(ref.sum()), 1.0) * float(observed.sum())
    keep = expected > 0
    if keep.sum() < 2:
        return DriftTest("chisquare", 1.0, threshold, False)
    return _p_value_test("chisquare", stats.chisquare(observed[keep], expected[keep]).pvalue, threshold)


def z_proportion(reference: np.ndarray, current: np.ndarray, threshold: float = P_THRESHOLD) -> DriftTest:
    """Two-proportion z-test on a binary column (pooled variance, two-sided)."""
    ref, cur = np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)
    return z_proportion_counts(float(ref.sum()), len(ref), float(cur.sum()), len(cur), threshold)


def z_proportion_counts(ref_ones: float, ref_n: int, cur_ones: float, cur_n: int,
                        threshold: float = P_THRESHOLD) -> DriftTest:
    """The z-test from counts of ones and totals."""
    pooled = (ref_ones + cur_ones) / (ref_n + cur_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_n + 1 / cur_n))
    if se == 0:
        return DriftTest("z", 1.0, threshold, False)
    z = (ref_ones / ref_n - cur_ones / cur_n) / se
    return _p_value_test("z", 2 * stats.norm.sf(abs(z)), threshold)


def wasserstein(reference: np.ndarray, current: np.ndarray, threshold: float = DISTANCE_THRESHOLD,
                ref_std: float | None = None) -> DriftTest:
    """Wasserstein-1 distance in units of the reference's standard deviation."""
    norm = max(float(np.std(reference) if ref_std is None else ref_std), _STD_FLOOR)
    return _distance_test("wasserstein", stats.wasserstein_distance(reference, current) / norm, threshold)


def jensen_shannon(reference: Sequence, current: Sequence, threshold: float = DISTANCE_THRESHOLD) -> DriftTest:
    """Jensen-Shannon distance (natural log) between the two category distributions."""
    keys = _union_keys(reference, current)
    return jensen_shannon_counts(category_counts(reference, keys), category_counts(current, keys), threshold)


def jensen_shannon_counts(reference: np.ndarray, current: np.ndarray,
                          threshold: float = DISTANCE_THRESHOLD) -> DriftTest:
    """Jensen-Shannon distance from aligned count vectors."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    return _distance_test("jensenshannon", spatial.distance.jensenshannon(ref / ref.sum(), cur / cur.sum()), threshold)


TestFunction = Callable[..., DriftTest]
# (column kind, reference is small) -> test; Evidently's defaults.
REGISTRY: dict[tuple[str, bool], TestFunction] = {
    ("numeric", True): ks,
    ("numeric", False): wasserstein,
    ("categorical", True): chi_square,
    ("categorical", False): jensen_shannon,
    ("binary", True): z_proportion,
    ("binary", False): jensen_shannon,
}
COUNT_FORMS: dict[TestFunction, Callable[..., DriftTest]] = {
    chi_square: chi_square_counts, jensen_shannon: jensen_shannon_counts,
}


def column_kind(values: np.ndarray | Sequence) -> str:
    """numeric (> 5 unique numbers), binary (two values) or categorical."""
    arr = np.asarray(values)
    uniques = np.unique(arr)
    if len(uniques) == 2:
        return "binary"
    if arr.dtype.kind in "iuf" and len(uniques) >= MIN_NUMERIC_UNIQUE:
        return "numeric"
    return "categorical"


def choose_test(kind: str, reference_rows: int) -> TestFunction:
    """The registry's test for a column kind and reference size."""
    return REGISTRY[(kind, reference_rows <= SMALL_REFERENCE)]


def default_threshold(test: TestFunction) -> float:
    """The threshold a test uses when the config gives none."""
    return P_THRESHOLD if test in (ks, chi_square, z_proportion) else DISTANCE_THRESHOLD


def dataset_drift(tests: dict[str, DriftTest], share: float) -> dict:
    """Dataset verdict: drift when at least `share` of the monitored columns drift."""
    drifted = sorted(name for name, t in tests.items() if t.drift)
    fraction = len(drifted) / len(tests) if tests else 0.0
    return {"drift": bool(tests) and fraction >= share, "share": fraction, "threshold": share,
            "drifted_columns": drifted, "columns": len(tests)}
