"""Each drift statistic equals scipy's on the same arrays; the registry picks Evidently's defaults."""
import math

import numpy as np
import pytest
from scipy import spatial, stats

from server.monitoring import stattests as st


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def test_ks_is_scipys_p_value(rng):
    ref, cur = rng.normal(0, 1, 400), rng.normal(0.3, 1, 300)
    result = st.ks(ref, cur)
    assert result.test == "ks" and result.threshold == 0.05
    assert result.statistic == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-12)
    assert result.drift == (stats.ks_2samp(ref, cur).pvalue < 0.05)


def test_wasserstein_is_scipys_normed_by_reference_std(rng):
    ref, cur = rng.lognormal(9, 1.5, 2000), rng.lognormal(9.7, 1.5, 500)
    result = st.wasserstein(ref, cur)
    assert result.statistic == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)
    assert result.drift and result.threshold == 0.1
    same = st.wasserstein(ref, ref[:1000])
    assert same.statistic == pytest.approx(stats.wasserstein_distance(ref, ref[:1000]) / np.std(ref))


def test_chi_square_is_scipys_against_reference_frequencies(rng):
    keys = np.array(["TCP", "UDP", "ICMP"])
    ref = keys[rng.choice(3, 800, p=[0.7, 0.2, 0.1])]
    cur = keys[rng.choice(3, 300, p=[0.5, 0.4, 0.1])]
    result = st.chi_square(ref, cur)
    order = sorted(keys)
    ref_counts = np.array([(ref == k).sum() for k in order], dtype=float)
    cur_counts = np.array([(cur == k).sum() for k in order], dtype=float)
    expected = ref_counts / ref_counts.sum() * cur_counts.sum()
    assert result.statistic == pytest.approx(stats.chisquare(cur_counts, expected).pvalue, rel=1e-12)
    assert result.drift


def test_chi_square_names_an_unseen_category_as_drift_but_not_one_stray_flow():
    reference = ["TCP"] * 250 + ["UDP"] * 50
    assert st.chi_square(reference, ["TCP"] * 40 + ["GRE"] * 10).drift
    assert not st.chi_square(reference, ["TCP"] * 49 + ["UDP"] * 10 + ["GRE"]).drift


def test_jensen_shannon_is_scipys(rng):
    keys = np.array(["a", "b", "c", "d"])
    ref = keys[rng.choice(4, 5000, p=[0.4, 0.3, 0.2, 0.1])]
    cur = keys[rng.choice(3, 900, p=[0.2, 0.3, 0.5])]
    result = st.jensen_shannon(ref, cur)
    p = np.array([(ref == k).mean() for k in keys])
    q = np.array([(cur == k).mean() for k in keys])
    assert result.statistic == pytest.approx(spatial.distance.jensenshannon(p, q), rel=1e-12)
    assert result.drift and result.test == "jensenshannon"


def test_z_proportion_matches_the_normal_tail(rng):
    ref, cur = (rng.random(900) < 0.15).astype(int), (rng.random(400) < 0.25).astype(int)
    result = st.z_proportion(ref, cur)
    pooled = (ref.sum() + cur.sum()) / (len(ref) + len(cur))
    z = (ref.mean() - cur.mean()) / math.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    assert result.statistic == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
    assert result.drift


@pytest.mark.parametrize(("kind", "rows", "test"), [
    ("numeric", 1000, st.ks), ("numeric", 1001, st.wasserstein), ("categorical", 500, st.chi_square),
    ("categorical", 5000, st.jensen_shannon), ("binary", 100, st.z_proportion),
])
def test_registry_follows_evidently_defaults(kind, rows, test):
    assert st.choose_test(kind, rows) is test


def test_column_kind():
    assert st.column_kind(np.arange(10)) == "numeric"
    assert st.column_kind(np.array([0, 1, 1, 0])) == "binary"
    assert st.column_kind(np.array([1, 2, 3, 1])) == "categorical"
    assert st.column_kind(np.array(["TCP", "UDP", "GRE"])) == "categorical"


def test_dataset_drift_share():
    drifting = st.DriftTest("ks", 0.001, 0.05, True)
    quiet = st.DriftTest("ks", 0.5, 0.05, False)
    assert st.dataset_drift({"a": drifting, "b": quiet}, 0.5)["drift"]
    verdict = st.dataset_drift({"a": drifting, "b": quiet, "c": quiet}, 0.5)
    assert not verdict["drift"] and verdict["drifted_columns"] == ["a"]
    assert not st.dataset_drift({}, 0.5)["drift"]
