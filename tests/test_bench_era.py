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


def test_ridge_filled_predicts_only_the_missing_rows() -> None:
    from bench.fusion import ridge_filled

    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(400, 3))
    years = (1980 + embeddings @ np.array([5.0, -3.0, 1.0]))[:, None]  # a linear function of the embedding
    has = np.ones(400, bool)
    has[::4] = False
    filled, r2 = ridge_filled(embeddings, np.where(has[:, None], years, np.nan), has, np.arange(200), np.arange(200, 400))
    assert filled.shape == years.shape and (filled[has] == years[has]).all()  # known years stay as they are
    assert filled[~has] == pytest.approx(years[~has], abs=0.2)  # ridge shrinks a little
    assert r2[0] > 0.99
