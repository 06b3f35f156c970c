"""bench.valence turns each song's lyric valence into a unit vector whose dot products compare
valences: 1 for equal ones, falling as they part, -1 for opposite extremes."""

import numpy as np
import pytest

from bench.valence import valence_vectors


def test_valence_agreement_is_the_cosine_of_the_valence_gap() -> None:
    train = np.array([True] * 4 + [False] * 3)
    valence = np.array([-0.5, -0.1, 0.1, 0.5, 0.1, 9.0, -9.0])  # standardised on the first four
    vectors = valence_vectors(valence, train)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    agreement = vectors @ vectors.T
    assert agreement[2, 4] == pytest.approx(1.0)  # equal valence
    assert agreement[0, 3] == pytest.approx(np.cos(2 * 0.5 / valence[:4].std() * np.pi / 6))  # 30 degrees a standard deviation
    assert agreement[5, 6] == pytest.approx(-1.0)  # beyond 3 sd both ways: clipped to opposite poles
    assert agreement[1, 2] > agreement[1, 3] > agreement[0, 3]  # monotone in the gap
