"""Audio-feature space: songs' continuous audio features, standardised, for similarity.

Each feature is standardised over the songs that have it (mean 0, one standard deviation 1).
A missing feature is set to the mean (0), so it neither pulls two songs together nor pushes
them apart. For the cosine, each song's vector is scaled to unit length. A song with no audio
at all gets the zero vector: its audio similarity to every song is 0, and in the hybrid it is
ranked by lyrics and embedding alone.

The query path uses this module, so it needs numpy only: no pandas, no torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from recsys.schema import CONTINUOUS_FEATURES


class AudioSpace:
    """Standardised audio features of every song. Rows line up with the songs table."""

    def __init__(self, values: np.ndarray, features: Sequence[str]) -> None:
        values = np.asarray(values, dtype=np.float64)
        present = np.isfinite(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature no song has: NaN, then 0 / 1
            mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        self.features = list(features)
        self.values = values
        self.mean = np.where(np.isfinite(mean), mean, 0.0)
        self.scale = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self.has = present.any(axis=1)
        self.z = np.where(present, (values - self.mean) / self.scale, 0.0)
        norms = np.linalg.norm(self.z, axis=1, keepdims=True)
        self.unit = np.divide(self.z, norms, out=np.zeros_like(self.z), where=norms > 0)

    @classmethod
    def from_columns(cls, n_songs: int, column: Callable[[str], np.ndarray | None]) -> AudioSpace:
        """From a song table: ``column(name)`` gives one feature as float with NaN where missing,
        or None when the table lacks that feature (all missing)."""
        columns = [column(f) for f in CONTINUOUS_FEATURES]
        return cls(np.column_stack([np.full(n_songs, np.nan) if c is None else c for c in columns]), CONTINUOUS_FEATURES)

    def similarity(self, query: int, rows: np.ndarray) -> np.ndarray:
        """Cosine of song ``query``'s standardised audio with each of ``rows``' (0 where either
        song has no audio)."""
        return self.unit[np.asarray(rows, dtype=np.int64)] @ self.unit[query]

    def differences(self, a: int, b: int, n: int = 3) -> list[dict[str, object]]:
        """The ``n`` features where songs ``a`` and ``b`` differ most, in standard deviations;
        features missing on either side are skipped."""
        diff = np.abs(self.values[a] - self.values[b]) / self.scale
        order = [i for i in np.argsort(-np.nan_to_num(diff, nan=-1.0), kind="stable") if np.isfinite(diff[i])][:n]
        return [
            {"feature": self.features[i], "query": round(float(self.values[a, i]), 3), "song": round(float(self.values[b, i]), 3), "sd": round(float(diff[i]), 2)}
            for i in order
        ]
