"""Free-text search: songs whose lyrics match a phrase, ranked like ``recsys similar``.

The lexical query is ``recsys.text.tokenize(text)``; the dense query is the text embedded by the
same model that built the artefacts (manifest ``params.model``), through the batch job's own
``index.embed.embed_catalog`` so query and song vectors come from one code path:

- plain-encoder build: the L2-normalised mean-pooled encoder vector of the text;
- tBERT build: the text becomes a one-song catalogue with lyrics only, so the hidden layer sees
  the text's own LDA topic distribution and an all-missing audio block (the feature scaler's
  missing-mask set), exactly how an indexed song without audio was embedded.

This is the one query path that needs torch; the model loads lazily on the first search and is
kept for later ones. (It imports ``index.embed`` inside the function: the recsys package stays
importable without torch, and the encoding logic is not duplicated.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from recsys.catalog import conform
from recsys.errors import RecsysError
from recsys.recommend import Filters, Recommender
from recsys.text import tokenize


def query_encoder(artifacts: Any) -> Callable[[str], np.ndarray]:
    """A function text -> (d,) L2-normalised query vector for these artefacts' embedding space."""
    from index.embed import embed_catalog, load_embedder

    params = artifacts.manifest.get("params") or {}
    model = params.get("model")
    if model and not Path(model).is_dir():
        raise RecsysError(f"{artifacts.path}/manifest.json: the model it was built with ({model}) is not on this machine; free-text search needs it")
    embedder = load_embedder(model)

    def encode(text: str) -> np.ndarray:
        frame = conform(pd.DataFrame({"song_id": ["query"], "title": ["query"], "artist": ["query"], "lyrics": [text]}))
        vector = embed_catalog(embedder, frame, progress=False).embedding[0]
        if vector.shape[0] != artifacts.embeddings.shape[1]:
            raise RecsysError(f"{model}: gives {vector.shape[0]}-d vectors, the artefacts hold {artifacts.embeddings.shape[1]}-d; rebuild them")
        return vector

    return encode


class TextSearch:
    """Free-text queries over one artefact directory; the encoder loads on the first query."""

    def __init__(self, artifacts: Any, **options: Any) -> None:
        self.recommender = Recommender(artifacts, **options)
        self._encode: Callable[[str], np.ndarray] | None = None

    def search(self, text: str, k: int = 10, filters: Filters | None = None, explain: bool = False) -> list[dict[str, Any]]:
        """The ``k`` songs best matching ``text`` (BM25 over its tokens ∪ FAISS over its vector)."""
        if not text or not text.strip():
            raise RecsysError("empty search text: give a few words, e.g. recsys search \"rain on the window\"")
        if self._encode is None:
            self._encode = query_encoder(self.recommender.artifacts)
        return self.recommender.search_vector(tokenize(text), self._encode(text), k, filters=filters, explain=explain)
