"""Isotonic calibration is kept only when it lowers the out-of-fold ECE, and applies like sklearn's."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from server.ml.calibration import apply_calibration, expected_calibration_error, fit_calibration


def test_a_miscalibrated_model_gets_an_isotonic_calibrator_equal_to_sklearns():
    rng = np.random.default_rng(0)
    truth = rng.random(4000)
    y = (rng.random(4000) < truth).astype(int)
    skewed = truth ** 3  # under-confident in the middle: badly calibrated
    calibration = fit_calibration(skewed, y)
    assert calibration["method"] == "isotonic"
    assert calibration["ece_after"] < calibration["ece_before"]
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(skewed, y)
    probe = rng.random(500)
    assert apply_calibration(calibration, probe) == pytest.approx(iso.predict(probe), abs=1e-12)


def test_a_calibrated_model_whose_ece_isotonic_does_not_lower_is_left_alone():
    rng = np.random.default_rng(3)  # a draw where out-of-fold isotonic does not beat the raw ECE
    p = rng.random(3000)
    y = (rng.random(3000) < p).astype(int)
    calibration = fit_calibration(p, y)
    assert calibration["method"] == "none"
    assert apply_calibration(calibration, p) is not None
    assert (apply_calibration(calibration, p) == p).all()
    assert calibration["ece_before"] == pytest.approx(expected_calibration_error(p, y))
