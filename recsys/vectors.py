"""Unit vectors and the catalogue-mean centring every embedding similarity here uses (the batch
job, the text query, training's epoch choice), and the top-k selection every ranking uses. Numpy
only, so the query path and training share it without torch or the batch job."""

from __future__ import annotations

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.clip(norms, 1e-12, None)).astype(np.float32)


def center(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``vectors`` (L2-normalised rows) minus the catalogue's ``mean`` vector, normalised again.

    The tBERT embedding is a GELU output, so every song's vector shares one large positive
    direction and all cosines sit close together; taking the shared mean out lets the cosine
    see what tells songs apart. On the real catalogue's validation songs this lifted the
    embedding's precision@10 from 0.443 to 0.460 (mood) and from 0.504 to 0.514 (genre).
    """
    return l2_normalize(np.asarray(vectors, dtype=np.float32) - np.asarray(mean, dtype=np.float32))


def best_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first: of an (n,) vector, or of each row of a
    (b, n) matrix. Ties go to the lower index, so which of several equal scores make the cut never
    depends on how a partition happened to split them. NaN counts as the worst score."""
    scores = np.asarray(scores)
    rows = np.atleast_2d(scores)
    if np.issubdtype(rows.dtype, np.floating) and np.isnan(rows).any():
        rows = np.where(np.isnan(rows), -np.inf, rows)
    k = max(0, min(k, rows.shape[1]))
    if k == 0:
        best = np.empty((len(rows), 0), dtype=np.int64)
    else:
        threshold = -np.partition(-rows, k - 1, axis=1)[:, k - 1 : k]
        above = rows > threshold
        tied = rows == threshold
        # Every score above the k-th, then as many of the lowest indices tied with it as fit.
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= k - above.sum(axis=1, keepdims=True)))
        part = np.nonzero(chosen)[1].reshape(len(rows), k)
        best = np.take_along_axis(part, np.lexsort((part, -np.take_along_axis(rows, part, axis=1)), axis=1), axis=1)
    return best[0] if scores.ndim == 1 else best
