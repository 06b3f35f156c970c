"""Platt scaling of the genre head (index.calibrate) on data whose true probabilities are known."""

from __future__ import annotations

import numpy as np
import pytest

from index.calibrate import fit_genre_calibration


def overstated_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities, labels drawn from them, and a head's sigmoid that adds 2 to every
    logit (what positive weights of about e^2 do to a genre's output)."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(-2.0, 1.5, n)
    truth = rng.random(n) < 1 / (1 + np.exp(-logit))
    return 1 / (1 + np.exp(-logit)), truth, 1 / (1 + np.exp(-(logit + 2.0)))


def test_platt_scaling_recovers_the_shift_and_keeps_the_order() -> None:
    _, truth, raw = overstated_sample(4000, seed=0)
    never = np.zeros_like(truth)  # a genre no fitting song carries: kept raw
    calibration = fit_genre_calibration(np.c_[raw, raw], np.c_[truth, never], ["folk", "latin"])
    assert calibration.fitted.tolist() == [True, False] and calibration.n_songs == 4000
    assert calibration.slope[0] == pytest.approx(1.0, abs=0.1) and calibration.intercept[0] == pytest.approx(-2.0, abs=0.2)
    fitted = calibration.transform(np.c_[raw, raw])
    # With an intercept the fitted mean equals the observed share; the raw mean is far above it.
    assert fitted[:, 0].mean() == pytest.approx(truth.mean(), abs=1e-3) and raw.mean() > truth.mean() + 0.15
    np.testing.assert_array_equal(fitted[:, 1], raw.astype(np.float32))
    assert (np.diff(fitted[np.argsort(raw), 0]) >= 0).all()  # ranking by genre probability unchanged

    # On fresh songs the calibrated probabilities have the lower Brier score and the true shares.
    true_p, fresh_truth, fresh_raw = overstated_sample(4000, seed=1)
    calibrated = calibration.transform(np.c_[fresh_raw, fresh_raw])[:, 0]
    assert np.mean((calibrated - fresh_truth) ** 2) < 0.8 * np.mean((fresh_raw - fresh_truth) ** 2)
    assert np.abs(calibrated - true_p).mean() < 0.02


def test_calibration_is_recorded_and_identity_without_fitting_songs() -> None:
    _, truth, raw = overstated_sample(500, seed=2)
    saved = fit_genre_calibration(raw[:, None], truth[:, None], ["folk"]).to_json()
    assert saved["method"] == "platt" and saved["fitted_on"] == "val" and saved["n_songs"] == 500
    assert set(saved["per_genre"]["folk"]) == {"slope", "intercept", "fitted"} and saved["per_genre"]["folk"]["fitted"]
    empty = fit_genre_calibration(np.zeros((0, 2)), np.zeros((0, 2)), ["folk", "pop"])
    assert not empty.fitted.any()
    np.testing.assert_array_equal(empty.transform(raw[:, None].repeat(2, axis=1)), raw[:, None].repeat(2, axis=1).astype(np.float32))


def test_a_fit_that_would_reverse_the_head_s_order_keeps_the_raw_probability() -> None:
    # Six songs whose labels run against the head's order by chance: the fit's slope is negative.
    raw = np.array([[0.9], [0.8], [0.7], [0.3], [0.2], [0.1]])
    calibration = fit_genre_calibration(raw, np.array([[0], [0], [1], [1], [0], [1]]), ["jazz"])
    assert calibration.fitted.tolist() == [False] and calibration.slope.tolist() == [1.0]
    np.testing.assert_array_equal(calibration.transform(raw), raw.astype(np.float32))
