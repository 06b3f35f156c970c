"""bench.era turns each song's year into vectors whose dot products compare eras: the cosine of
the angle between two years (1950 to 2022 spread over 180 degrees) less its mean over pairs of
training songs, and 0 whenever a song has no year."""

import numpy as np
import pytest

from bench.era import era_vectors


def test_era_agreement_is_the_centred_cosine_of_the_year_gap() -> None:
    year = np.array([1950.0, 1986.0, 2022.0, 1990.0, np.nan, 1900.0, 2030.0])
    train = np.array([True, True, True, True, True, False, False])
    candidate, query = era_vectors(year, train)
    agreement = query @ candidate.T
    theta = np.pi * (np.clip(year[:4], 1950, 2022) - 1950) / 72
    c0 = np.mean(np.cos(theta[:, None] - theta[None, :]))  # every ordered pair of training songs with a year
    assert agreement[0, 2] == pytest.approx(-1.0 - c0)  # the span's two ends: opposite
    assert agreement[0, 1] == pytest.approx(np.cos(np.pi / 2) - c0)  # half the span apart
    assert agreement[1, 1] == pytest.approx(1.0 - c0)
    assert agreement[1, 3] > agreement[0, 3] > agreement[2, 0]  # falls as the years part
    assert np.allclose(agreement[4], 0.0) and np.allclose(agreement[:, 4], 0.0)  # no year: no say
    assert agreement[5, 2] == pytest.approx(agreement[0, 2])  # years outside the span are clipped to it
    assert agreement[6, 0] == pytest.approx(agreement[2, 0])
