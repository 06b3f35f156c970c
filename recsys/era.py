"""Era space: how close two songs' years are, for the hybrid's era term.

The model never sees a song's year, and genres have eras. Each year, clipped to ``SPAN``, is an
angle from 0 to 180 degrees; two songs' era agreement is the cosine of the angle between their
years less that cosine's mean over all pairs of the catalogue's songs with years. So it is 1
minus that mean for the same year, falls as the years part, is 0 on average over the catalogue,
and 0 when either song has no year: a song without one is ranked by the other terms alone, as
a song without audio is by the audio term.

The query path uses this module, so it needs numpy only.
"""

from __future__ import annotations

import numpy as np

SPAN = (1950.0, 2022.0)  # earlier and later years count as these: few songs lie outside


class EraSpace:
    """The years of every song as unit vectors; rows line up with the songs table."""

    def __init__(self, years: np.ndarray) -> None:
        self.years = np.asarray(years, dtype=np.float64)
        self.has = np.isfinite(self.years)
        lo, hi = SPAN
        theta = np.pi * (np.clip(np.where(self.has, self.years, lo), lo, hi) - lo) / (hi - lo)
        self.unit = np.stack([np.cos(theta), np.sin(theta)], axis=1) * self.has[:, None]
        # The mean of u_i . u_j over all ordered pairs of songs with years is |mean u|^2.
        self.mean_agreement = float(np.sum(self.unit[self.has].mean(axis=0) ** 2)) if self.has.any() else 0.0

    def similarity(self, query: int, rows: np.ndarray) -> np.ndarray:
        """Era agreement of song ``query`` with each of ``rows`` (0 where either has no year)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.has[query]:
            return np.zeros(len(rows))
        return np.where(self.has[rows], self.unit[rows] @ self.unit[query] - self.mean_agreement, 0.0)

    def agreement_matrix(self, queries: np.ndarray) -> np.ndarray:
        """(q, n) era agreement of each of ``queries`` with every song."""
        queries = np.asarray(queries, dtype=np.int64)
        both = self.has[queries][:, None] & self.has[None, :]
        return np.where(both, self.unit[queries] @ self.unit.T - self.mean_agreement, 0.0)

    def gap(self, a: int, b: int) -> int | None:
        """How many years lie between songs ``a`` and ``b``; None when either has no year."""
        return int(abs(self.years[a] - self.years[b])) if self.has[a] and self.has[b] else None
