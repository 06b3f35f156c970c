"""Unit vectors and the catalogue-mean centring every embedding similarity here uses (the batch
job, the text query, training's epoch choice). Numpy only, so the query path and training share
it without torch or the batch job."""

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
