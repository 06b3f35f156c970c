"""Free-text search: songs whose lyrics match a phrase, ranked like ``recsys similar``.

The lexical query is the text's tokens, by the tokenizer that built the BM25 index; the dense
query is the text embedded by the same model that built the artefacts. That encoder is passed in
(``index.embed.query_encoder`` makes one), so this module, like all of ``recsys``, never imports
torch or the batch job.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from recsys.errors import RecsysError
from recsys.recommend import Filters, Recommender


class TextSearch:
    """Free-text queries over one artefact directory.

    ``encode`` maps a text to a vector in the artefacts' embedding space (a batch of one will do);
    it is L2-normalised here, as the reranking cosine assumes.
    """

    def __init__(self, artifacts: Any, encode: Callable[[str], np.ndarray], **options: Any) -> None:
        self.recommender = Recommender(artifacts, **options)
        self._encode = encode

    def search(self, text: str, k: int = 10, filters: Filters | None = None, explain: bool = False) -> list[dict[str, Any]]:
        """The ``k`` songs best matching ``text`` (BM25 over its tokens ∪ FAISS over its vector)."""
        if not isinstance(text, str):
            raise RecsysError(f"the search text is text, got {type(text).__name__}")
        if not any(ch.isalnum() for ch in text):
            # Punctuation alone would still embed to some vector and "find" arbitrary songs.
            raise RecsysError(f"no words in the search text {text.strip()!r}: give a few, e.g. recsys search \"rain on the window\"")
        self.recommender.check_request(k, filters or Filters())  # before the seconds the encoder takes
        vector = np.asarray(self._encode(text), dtype=np.float32)
        vector = vector[0] if vector.ndim == 2 and len(vector) == 1 else vector
        norm = float(np.linalg.norm(vector)) if vector.ndim == 1 else 0.0
        if not np.isfinite(norm) or norm == 0.0:
            raise RecsysError(f"the encoder gave no usable query vector (shape {vector.shape}, norm {norm}): expected one finite, non-zero vector")
        tokens = self.recommender.artifacts.lexical.tokenizer(text)
        return self.recommender.search_vector(tokens, vector / norm, k, filters=filters, explain=explain)
