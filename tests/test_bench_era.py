"""bench.era hands the fusion bench's candidate loop the served era agreement as a dot product
of two per-song vectors; their products must be recsys.era's agreements, zeros included."""

import numpy as np
import pytest

from bench.era import era_vectors
from recsys.era import EraSpace


def test_era_vectors_give_the_served_era_agreement() -> None:
    space = EraSpace(np.array([1950.0, 1986.0, 2022.0, 1990.0, np.nan, 1900.0, 2030.0]))
    candidate, query = era_vectors(space)
    rows = np.arange(7)
    assert query @ candidate.T == pytest.approx(space.agreement_matrix(rows))
    assert query @ candidate.T == pytest.approx(np.stack([space.similarity(q, rows) for q in rows]))
    assert not (query @ candidate.T)[4].any() and not (query @ candidate.T)[:, 4].any()  # no year, no agreement
