"""The batched encoder: lyrics -> L2-normalised song vectors, fast on CPU and GPU.

Every song is split into encoder-sized chunks (``training.encoding.chunk_token_ids``: long
lyrics are never truncated), all chunks of all songs are sorted by length so each batch pads
only to its own longest member, chunk vectors are mean-pooled over tokens and then averaged
per song. On a GPU the encoder runs under bf16 autocast and halves its batch on out-of-memory;
on a CPU with AMX tiles or AVX512-BF16 it runs under bf16 autocast too (``training.runtime``), and elsewhere it
can run int8 dynamically quantised linear layers.

:func:`embed_catalog` turns a catalogue into :class:`Embeddings` with either a tBERT
checkpoint (hidden-layer embedding + mood/genre probabilities) or a plain Hugging Face encoder
directory (embedding = the pooled vector, no probabilities: the off-the-shelf baseline).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from recsys.errors import RecsysError
from recsys.io import sha256_files
from recsys.progress import progress as progress_bar
from recsys.vectors import center, l2_normalize
from training.encoding import Chunks, chunk_token_ids, encoder_dir, mean_pool, pad_batch, pool_by_owner
from training.options import DEFAULT_MAX_LENGTH
from training.runtime import autocast, resolve_device, resolve_precision


@dataclass
class PlainEncoder:
    """A Hugging Face encoder directory used without a tBERT checkpoint."""

    encoder: nn.Module
    tokenizer: Any
    path: Path
    max_length: int = DEFAULT_MAX_LENGTH


@dataclass(frozen=True)
class Embeddings:
    """Per-song outputs of the embedding job; row i = song i of the input frame."""

    embedding: np.ndarray  # (n, d) float32, L2-normalised (tBERT hidden layer, or pooled)
    pooled: np.ndarray  # (n, enc_dim) float32, L2-normalised encoder mean-pool vectors
    mood_probs: np.ndarray | None  # (n, n_moods) softmax, None for a plain encoder
    genre_probs: np.ndarray | None  # (n, n_genres) sigmoid, None for a plain encoder
    moods: list[str]
    genres: list[str]
    n_chunked: int  # songs longer than one chunk
    n_capped: int  # songs cut to their first max_chunks chunks
    songs_per_s: float


def quantize_int8(encoder: nn.Module) -> nn.Module:
    """A copy of ``encoder`` with int8 dynamically quantised ``nn.Linear`` layers (CPU only).

    Per-channel weight scales: with one scale per tensor MiniLM's pooled vectors drift to a
    mean cosine of ~0.92 against fp32 on real lyrics; per channel they stay at ~0.98. An encoder
    already quantised is returned as it is, so a caller that embeds again and again (free-text
    queries) quantises once.
    """
    import warnings

    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if any(isinstance(module, QuantizedLinear) for module in encoder.modules()):
        return encoder

    with warnings.catch_warnings():
        # torch flags torch.ao.quantization as deprecated (torchao replaces it); it still works in 2.13.
        warnings.simplefilter("ignore")
        return quantize_dynamic(encoder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=False)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "merges.txt", "vocab.json")
# Besides the weights, what decides a tBERT checkpoint's vectors: its config (dimensions, chunk
# length), the audio scaler and the topic model.
SETTINGS_FILES = ("config.json", "features.json")


def model_hashes(directory: Path) -> dict[str, str]:
    """Hashes of what in a model directory decides its vectors: the weights, the tokenizer, and
    the settings (config, audio scaler, topic model). The build records them in the manifest;
    free-text search checks them before embedding a query."""
    weights = sorted(directory.glob("*.safetensors")) + sorted(directory.glob("*.bin"))
    if not weights:
        raise RecsysError(f"{directory}: no model weights (*.safetensors or *.bin) found")
    tokenizer = [directory / name for name in TOKENIZER_FILES if (directory / name).is_file()]
    settings = [directory / name for name in SETTINGS_FILES if (directory / name).is_file()]
    settings += [p for p in (directory / "topics").rglob("*") if p.is_file()]
    return {"model": sha256_files(directory, weights), "tokenizer": sha256_files(directory, tokenizer), "model_settings": sha256_files(directory, settings)}


def load_embedder(model: str | Path | None) -> Any:
    """A tBERT checkpoint (``training.model.LoadedModel``) or a plain encoder directory
    (:class:`PlainEncoder`); ``None`` gives the default all-MiniLM-L6-v2."""
    from training.model import is_checkpoint, load_model, load_pretrained

    if model is not None:
        path = Path(model)
        if not path.is_dir() or not (path / "config.json").is_file():
            raise RecsysError(f"{path}: not a model directory (no config.json): give a tBERT checkpoint or a Hugging Face encoder")
        if is_checkpoint(path):
            return load_model(path)
    directory = encoder_dir(model)
    encoder, tokenizer = load_pretrained(directory)
    return PlainEncoder(encoder.eval(), tokenizer, directory)


def chunk_length(embedder: Any) -> int:
    """The chunk length in tokens an embedder encodes songs with: a plain encoder's own, or the
    one a tBERT checkpoint was trained with."""
    if isinstance(embedder, PlainEncoder):
        return embedder.max_length
    return int(embedder.config.get("max_length", DEFAULT_MAX_LENGTH))


def _run_chunks(
    encoder: nn.Module, batch_ids: Sequence[Sequence[int]], pad_id: int | None, dev: torch.device, precision: str
) -> np.ndarray:
    ids, mask = pad_batch(batch_ids, pad_id)
    ids_t, mask_t = torch.from_numpy(ids).to(dev), torch.from_numpy(mask).to(dev)
    with autocast(dev, precision):
        states = encoder(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
    return mean_pool(states.float(), mask_t).cpu().numpy()


def encode_pooled(
    encoder: nn.Module,
    tokenizer: Any,
    texts: Sequence[str | None],
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    batch_size: int = 32,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = True,
    normalize: bool = True,
    max_chunks: int | None = None,
) -> tuple[np.ndarray, Chunks]:
    """Per-song mean-pooled encoder vectors, (n, d) float32, and the chunking (its ``n_chunked``
    and ``n_capped`` are what callers report). ``normalize=False`` keeps the raw mean (the tBERT
    head's input). ``max_chunks`` keeps each song's first chunks only; the default keeps all.
    ``precision``: auto (bf16 where the device runs it natively, else fp32), fp32, bf16 or int8."""
    if batch_size < 1:
        raise RecsysError(f"batch_size must be at least 1, got {batch_size}")
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    model = quantize_int8(encoder.cpu()) if precision == "int8" else encoder.to(dev)
    model.eval()
    chunks = chunk_token_ids(tokenizer, texts, max_length, max_chunks)
    # Longest first: a GPU out-of-memory shows up on the first batch, not after an hour.
    order = np.argsort([-len(c) for c in chunks.input_ids], kind="stable")
    share = 1.0 / chunks.chunks_per_song[chunks.owner]  # each chunk's fraction of its song
    vectors = np.zeros((len(order), int(encoder.config.hidden_size)), dtype=np.float32)
    start, size, t0 = 0, batch_size, time.perf_counter()
    with progress_bar(disable=None if progress else True) as bar, torch.inference_mode():
        task = bar.add_task("embedding", total=chunks.n_songs, info="")
        while start < len(order):
            rows = order[start : start + size]
            try:
                vectors[rows] = _run_chunks(model, [chunks.input_ids[r] for r in rows], tokenizer.pad_token_id, dev, precision)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if size == 1:
                    raise RecsysError(f"GPU out of memory even at batch size 1 (max_length {max_length})") from None
                size //= 2
                continue
            start += len(rows)
            rate = bar.tasks[task].completed / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=float(share[rows].sum()), info=f"{rate:.1f} songs/s batch {size}")
    pooled = pool_by_owner(vectors, chunks.owner, chunks.n_songs)
    return (l2_normalize(pooled) if normalize else pooled), chunks


def precision_agreement(encoder: nn.Module, tokenizer: Any, texts: Sequence[str], precision: str, **kwargs: Any) -> float:
    """Mean cosine between fp32 and ``precision`` pooled vectors of ``texts`` (CPU)."""
    fp32, _ = encode_pooled(encoder, tokenizer, texts, device="cpu", precision="fp32", **kwargs)
    other, _ = encode_pooled(encoder, tokenizer, texts, device="cpu", precision=precision, **kwargs)
    return float((fp32 * other).sum(axis=1).mean())


def encoder_of(embedder: Any) -> nn.Module:
    """The transformer inside a tBERT checkpoint or a plain encoder."""
    return embedder.encoder if isinstance(embedder, PlainEncoder) else embedder.model.encoder


def embed_catalog(
    embedder: Any,
    df: pd.DataFrame,
    *,
    batch_size: int = 32,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = True,
    max_chunks: int | None = None,
) -> Embeddings:
    """Embed every row of ``df`` (its ``lyrics``; audio and topics too with a tBERT model)."""
    lyrics = df["lyrics"].fillna("").astype(str).tolist()
    plain = isinstance(embedder, PlainEncoder)
    max_length = chunk_length(embedder)
    encoder = encoder_of(embedder)
    t0 = time.perf_counter()
    raw, chunks = encode_pooled(
        encoder, embedder.tokenizer, lyrics, max_length=max_length, batch_size=batch_size,
        device=device, precision=precision, progress=progress, normalize=False, max_chunks=max_chunks,
    )
    rate = len(lyrics) / max(time.perf_counter() - t0, 1e-9)
    pooled = l2_normalize(raw)
    if plain:
        return Embeddings(pooled, pooled, None, None, [], [], chunks.n_chunked, chunks.n_capped, rate)
    model = embedder.model.cpu().eval()
    topics = torch.as_tensor(np.asarray(embedder.topics.transform(lyrics), dtype=np.float32))
    audio = torch.as_tensor(np.asarray(embedder.features.transform(df), dtype=np.float32))
    # The head takes the un-normalised chunk mean, exactly as in training.
    with torch.inference_mode():
        out = model.head(torch.from_numpy(raw), topics, audio)
    return Embeddings(
        embedding=l2_normalize(out["embedding"].float().numpy()),
        pooled=pooled,
        mood_probs=torch.softmax(out["mood_logits"].float(), dim=1).numpy().astype(np.float32),
        genre_probs=torch.sigmoid(out["genre_logits"].float()).numpy().astype(np.float32),
        moods=embedder.moods,
        genres=embedder.genres,
        n_chunked=chunks.n_chunked,
        n_capped=chunks.n_capped,
        songs_per_s=rate,
    )


def query_encoder(artifacts: Any, model: str | Path | None = None) -> Callable[[str], np.ndarray]:
    """A function text -> (d,) L2-normalised query vector in these artefacts' embedding space
    (centred on the catalogue mean the build stored, as the indexed songs were).

    Uses the model the artefacts were built with (manifest ``params.model``, or ``model``, the same
    model moved elsewhere), after checking its hashes against the manifest's; it is checked and
    loaded on the first call, so a bad request
    fails before the seconds that loading takes. For a tBERT build the text becomes a one-song
    catalogue with lyrics only: the hidden layer sees the text's LDA topics and an all-missing
    audio block, as an indexed song without audio was embedded.
    """
    from recsys.catalog import conform

    params = artifacts.manifest.get("params") or {}
    model = str(model) if model is not None else params.get("model")
    # The query is embedded as the songs were; int8 (dynamic quantisation) exists on the CPU only.
    precision, max_chunks = params.get("precision_used", "auto"), params.get("max_chunks")
    device = "cpu" if precision == "int8" else "auto"

    @functools.cache
    def embedder() -> Any:
        if model and not Path(model).is_dir():
            raise RecsysError(f"{artifacts.path}/manifest.json: the model it was built with ({model}) is not there; free-text search needs it "
                              "(moved? give its folder with --model)")
        if model:
            stored = artifacts.manifest.get("hashes") or {}
            if "model_settings" not in stored:
                raise RecsysError(f"{artifacts.path}: built before the build recorded its model's settings, so the model cannot be checked; rebuild the artefacts")
            changed = [name for name, digest in model_hashes(Path(model)).items() if stored.get(name) != digest]
            if changed:
                raise RecsysError(
                    f"{model}: its {' and '.join(changed)} files differ from those {artifacts.path} was built with; rebuild the artefacts or restore the model"
                )
        loaded = load_embedder(model)
        if precision == "int8":
            # Once here: each query's embed_catalog would otherwise quantise a fresh copy (0.7 s).
            quantized = quantize_int8(encoder_of(loaded))
            if isinstance(loaded, PlainEncoder):
                loaded.encoder = quantized
            else:
                loaded.model.encoder = quantized
        return loaded

    def encode(text: str) -> np.ndarray:
        frame = conform(pd.DataFrame({"song_id": ["query"], "title": ["query"], "artist": ["query"], "lyrics": [text]}))
        vector = embed_catalog(embedder(), frame, device=device, precision=precision, max_chunks=max_chunks, progress=False).embedding[0]
        if vector.shape[0] != artifacts.embeddings.shape[1]:
            raise RecsysError(f"{model}: gives {vector.shape[0]}-d vectors, the artefacts hold {artifacts.embeddings.shape[1]}-d; rebuild them")
        return center(vector[None, :], artifacts.embedding_mean)[0]

    return encode
