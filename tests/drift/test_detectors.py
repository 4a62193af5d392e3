"""Streaming detectors and the debounced alert state machine on streams with known shifts."""
import numpy as np
import pytest

from server.monitoring.alerts import AlertEngine, AlertSettings
from server.monitoring.detectors import PageHinkley, SeasonalRate


def _first_detection(stream) -> int | None:
    detector = PageHinkley(delta=0.01, threshold=5.0)
    for i, x in enumerate(stream):
        if detector.update(float(x)).drift_detected:
            return i
    return None


def test_page_hinkley_catches_a_mean_shift_soon_after_it_starts():
    rng = np.random.default_rng(1)
    stream = np.concatenate([rng.normal(0.2, 0.05, 2000), rng.normal(0.4, 0.05, 500)])
    at = _first_detection(stream)
    assert at is not None and 2000 <= at < 2100


def test_page_hinkley_stays_quiet_on_a_stationary_stream():
    rng = np.random.default_rng(2)
    assert _first_detection(rng.normal(0.2, 0.05, 5000)) is None


def test_seasonal_rate_compares_the_same_hour_of_day():
    rate = SeasonalRate(3600, days=7, factor=3.0)
    for day in range(3):
        for hour in range(24):
            rows = 100 if 8 <= hour < 20 else 10  # a strong daily cycle is not a change
            assert not rate.update(day * 86_400 + hour * 3600, rows)["drift"]
    verdict = rate.update(3 * 86_400 + 2 * 3600, 100)  # afternoon volume at night
    assert verdict["drift"] and verdict["level"] == 10 and verdict["ratio"] == 10


def test_shift_at_a_known_window_opens_after_debounce_and_resolves_after_it_ends():
    engine = AlertEngine(AlertSettings(for_windows=2, resolve_windows=3))
    shifted = set(range(10, 16))  # the shift spans windows 10..15
    noisy = {4}  # one noisy window alone must not open anything
    transitions = []
    for w in range(30):
        fires = w in shifted or w in noisy
        transitions += engine.evaluate("v1", w, {"dataset_drift": (fires, {"window": w})})
    assert [(t.kind, t.rule, t.window_start) for t in transitions] == [
        ("opened", "dataset_drift", 11), ("resolved", "dataset_drift", 18)]
    assert transitions[0].evidence["windows_firing"] == 2


def test_alerts_are_per_version_and_rule():
    engine = AlertEngine(AlertSettings(for_windows=1, resolve_windows=1))
    opened = engine.evaluate("v1", 0, {"dataset_drift": (True, {}), "prediction_drift": (False, {})})
    assert [(t.rule, t.version) for t in opened] == [("dataset_drift", "v1")]
    assert engine.is_open("v1", "dataset_drift") and not engine.is_open("v2", "dataset_drift")


def _daily_cycle(n: int, seed: int) -> np.ndarray:
    """A stationary stream with a slow cycle, as probabilities over a day of traffic look."""
    rng = np.random.default_rng(seed)
    return 0.2 + 0.1 * np.sin(np.arange(n) * 2 * np.pi / 2400) + rng.normal(0, 0.05, n)


def _windows_detections(alpha: float, stream: np.ndarray) -> list[int]:
    from server.monitoring.drift_windows import DriftWindows

    windows = DriftWindows(3600, ("bytes_sent",), ("protocol",), reservoir=10, ph_threshold=80.0,
                           ph_delta=0.005, ph_alpha=alpha)
    ts = 1_704_067_200 + np.arange(len(stream)) * 3600 // 1000  # 1,000 values per window
    closed = windows.add("v", ts, {"bytes_sent": np.ones(len(stream)), "protocol": ["TCP"] * len(stream)}, stream)
    closed += windows.close_all()
    assert windows._state("v").ph_error.alpha == 1.0  # errors have no daily cycle to forget
    return [w.probability_change["detections"] for w in closed]


def test_forgetting_keeps_page_hinkley_quiet_on_a_daily_cycle_but_not_blind_to_a_shift():
    cycle = _daily_cycle(20_000, 4)
    assert sum(_windows_detections(1.0, cycle)) > 0  # without forgetting the cycle itself pages
    assert sum(_windows_detections(0.999, cycle)) == 0
    shifted = np.concatenate([cycle[:15_000], cycle[15_000:] + 0.3])
    detections = _windows_detections(0.999, shifted)
    assert sum(detections[:15]) == 0 and detections[15] > 0  # caught in the window the shift starts


def test_the_f1_standard_error_matches_the_spread_of_f1_over_resampled_windows():
    """The delta-method sigma of a window's F1 equals the spread of F1 over many such windows."""
    from server.monitoring.windows import f1_sigma

    rng = np.random.default_rng(5)
    cells = np.array([0.12, 0.05, 0.06, 0.77])  # tp, fp, fn, tn shares of a congestion window
    for n in (150, 600, 3000):
        draws = rng.multinomial(n, cells, size=20_000)
        f1 = 2 * draws[:, 0] / (2 * draws[:, 0] + draws[:, 1] + draws[:, 2])
        tp, fp, fn = cells[:3] * n
        assert f1_sigma(tp, fp, fn) == pytest.approx(f1.std(), rel=0.05), n
    assert f1_sigma(0, 0, 0) == 0.0


def test_f1_drop_allows_the_windows_own_noise():
    """A drop inside f1_drop + f1_drop_sigmas * sigma stays quiet; a larger one, or sigmas=0, fires."""
    from server.monitoring.alerts import signals

    report = {"status": "ok"}
    noisy = {"realised": {"f1": 0.60, "sigma": {"f1": 0.06}}, "estimated": {"f1": 0.66, "sigma": {"f1": 0.01}}}
    quiet = signals(report, [], 0.70, noisy, AlertSettings(f1_drop=0.05, f1_drop_sigmas=2.0))
    assert quiet["f1_drop"][0] is False  # 0.10 below, allowance 0.05 + 2 * 0.06 = 0.17
    assert quiet["f1_drop"][1]["margin"] == pytest.approx(0.17)
    assert quiet["estimated_f1_drop"][0] is False  # 0.04 below
    bare = signals(report, [], 0.70, noisy, AlertSettings(f1_drop=0.05, f1_drop_sigmas=0.0))
    assert bare["f1_drop"][0] is True
    fallen = {"realised": {"f1": 0.50, "sigma": {"f1": 0.06}}}
    assert signals(report, [], 0.70, fallen, AlertSettings(f1_drop=0.05, f1_drop_sigmas=2.0))["f1_drop"][0] is True
