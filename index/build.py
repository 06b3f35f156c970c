"""The batch job: catalogue (+ model) -> the artefact directory of docs/ARCHITECTURE.md §3.

Only songs with lyrics are indexed: every signal the query path ranks by (the text embedding
and BM25) comes from the lyrics, so a lyric-less song would sit in the index with an
arbitrary vector. How many were left out is recorded in the manifest params.

Everything is written inside ``recsys.artifacts.ArtifactWriter``: a build that fails or is
killed half way leaves the previous artefact directory untouched.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.catalog import has_lyrics, in_split, load_catalog, split_fingerprint
from recsys.schema import AUDIO_FEATURES
from recsys.errors import RecsysError, check_counts
from recsys.io import check_replaceable, sha256_file, write_json
from recsys.text import shorten

if TYPE_CHECKING:
    from index.embed import Embeddings

MAX_THREADS = 1024
SONG_COLUMNS = ["song_id", "title", "artist", "year", "split", "mood", "genres", *AUDIO_FEATURES]


def songs_table(df: pd.DataFrame, labels: np.ndarray, mood_probs: np.ndarray | None, genre_probs: np.ndarray | None) -> pd.DataFrame:
    """songs.parquet: the catalogue's metadata (no lyrics), cluster and head probabilities."""
    out = df[SONG_COLUMNS].reset_index(drop=True).copy()
    out["cluster"] = labels.astype(np.int64)
    empty: list[list[float]] = [[] for _ in range(len(out))]
    out["mood_probs"] = [list(map(float, r)) for r in mood_probs] if mood_probs is not None else empty
    out["genre_probs"] = [list(map(float, r)) for r in genre_probs] if genre_probs is not None else empty
    return out


def calibrated_genre_probs(df: pd.DataFrame, emb: Embeddings) -> tuple[np.ndarray | None, dict[str, Any] | None]:
    """The genre head's probabilities, Platt-scaled on the validation songs (``index.calibrate``),
    and the calibration for the manifest; ``(None, None)`` for a plain encoder."""
    if emb.genre_probs is None:
        return None, None
    from index.calibrate import fit_genre_calibration
    from training.labels import encode_labels

    labels = encode_labels(df, emb.moods, emb.genres)
    fit_rows = in_split(df, "val") & labels.has_genre
    calibration = fit_genre_calibration(emb.genre_probs[fit_rows], labels.genre[fit_rows], emb.genres)
    return calibration.transform(emb.genre_probs), calibration.to_json()


def build_index(
    catalog_path: str | Path,
    model_path: str | Path | None,
    out_dir: str | Path,
    *,
    faiss_kind: str = "auto",
    k_range: tuple[int, int] = (4, 20),
    seed: int = 0,
    batch_size: int = 32,
    precision: str = "auto",
    device: str = "auto",
    threads: int | None = None,
    n_neighbors: int = 15,
    progress: bool = True,
    max_chunks: int | None = None,
) -> Path:
    """Embed, index and cluster the catalogue's songs with lyrics; publish ``out_dir`` atomically.

    ``max_chunks`` defaults to the one a tBERT checkpoint was trained with (all chunks unless
    training capped them)."""
    from recsys.artifacts import MANIFEST

    # Before torch and the encoder load (seconds): a mistyped --out is refused at once.
    check_replaceable(out_dir, marker=MANIFEST)
    import torch

    from index.clusters import check_k_range, cluster_songs, save_plots
    from index.embed import PlainEncoder, embed_catalog, load_embedder, model_hashes
    from recsys.vectors import center
    from recsys.artifacts import BM25_DIR, CLUSTERS, EMBEDDING_MEAN, EMBEDDINGS, FAISS_INDEX, POOLED, SONGS, ArtifactWriter
    from recsys.dense import DenseIndex, set_threads
    from recsys.lexical import BM25Index
    from recsys.text import tokenize
    from training.runtime import resolve_device, resolve_precision

    precision_used = resolve_precision(precision, resolve_device(device))
    if faiss_kind not in ("auto", "flat", "hnsw", "ivf"):
        raise RecsysError(f"faiss kind {faiss_kind!r}: choose auto, flat, hnsw or ivf")
    # Checked here, not where they are used: the embedding before that takes minutes.
    check_k_range(k_range)
    check_counts(("--threads", threads), ("--max-chunks", max_chunks), ("--batch-size", batch_size))
    if threads is not None and threads > MAX_THREADS:
        raise RecsysError(f"--threads must be at most {MAX_THREADS}, got {shorten(threads, 12)}")
    catalog_path = Path(catalog_path)
    catalog = load_catalog(catalog_path)
    lyrics = has_lyrics(catalog)
    df = catalog[lyrics].reset_index(drop=True)
    if df.empty:
        raise RecsysError(f"{catalog_path}: no song has lyrics; nothing to index")
    embedder = load_embedder(model_path)
    plain = isinstance(embedder, PlainEncoder)
    if not plain:
        from training.labels import check_label_sets

        check_label_sets(catalog, embedder.config, str(catalog_path))
    model_dir = embedder.path if plain else Path(model_path)  # type: ignore[arg-type]
    if max_chunks is None and not plain:
        # Embed as the model was trained: its head learnt from the mean of each song's first chunks.
        max_chunks = (embedder.config.get("train") or {}).get("max_chunks")
    if threads:
        torch.set_num_threads(threads)
        set_threads(threads)
    params: dict[str, Any] = {
        "catalog": str(catalog_path.resolve()), "model": str(model_dir.resolve()), "model_kind": "encoder" if plain else "tbert",
        "faiss_kind": faiss_kind, "k_range": list(k_range), "seed": seed, "batch_size": batch_size,
        "precision": precision, "precision_used": precision_used, "device": device, "threads": threads,
        "n_catalog": len(catalog), "n_indexed": len(df), "n_without_lyrics": int((~lyrics).sum()),
        # Compared by tune and evaluate: a model trained on other splits has seen some held-out songs.
        "splits": split_fingerprint(catalog), "model_splits": None if plain else embedder.config.get("catalog_splits"),
    }
    hashes = {"catalog": sha256_file(catalog_path), **model_hashes(model_dir)}
    timings: dict[str, float] = {}
    writer = ArtifactWriter(out_dir, params=params, hashes=hashes)
    with writer as stage:
        t0 = time.perf_counter()
        emb = embed_catalog(embedder, df, batch_size=batch_size, device=device, precision=precision_used, progress=progress, max_chunks=max_chunks)
        timings["embed"] = time.perf_counter() - t0
        mean = emb.embedding.mean(axis=0, dtype=np.float64).astype(np.float32)
        embedding = center(emb.embedding, mean)
        np.save(stage / EMBEDDING_MEAN, mean)
        np.save(stage / EMBEDDINGS, embedding)
        np.save(stage / POOLED, emb.pooled)

        t0 = time.perf_counter()
        tokens = [tokenize(text) for text in df["lyrics"].astype(str)]
        BM25Index.build(tokens).save(stage / BM25_DIR)
        timings["bm25"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        dense = DenseIndex.build(embedding, kind=faiss_kind, seed=seed)  # type: ignore[arg-type]
        dense.save(stage / FAISS_INDEX)
        timings["faiss"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        clusters = cluster_songs(embedding, tokens, k_range=k_range, n_neighbors=n_neighbors, seed=seed, progress=progress)
        write_json(stage / CLUSTERS, clusters.to_json())
        save_plots(clusters, df["mood"].tolist(), stage / "plots")
        timings["clusters"] = time.perf_counter() - t0

        genre_probs, genre_calibration = calibrated_genre_probs(df, emb)
        songs_table(df, clusters.labels, emb.mood_probs, genre_probs).to_parquet(stage / SONGS, index=False)
        writer.params.update({
            "genre_calibration": genre_calibration,
            "faiss_kind_built": dense.kind, "n_chunked": emb.n_chunked, "max_chunks": max_chunks, "n_capped": emb.n_capped, "embed_songs_per_s": round(emb.songs_per_s, 2),
            "embedding_dim": int(emb.embedding.shape[1]), "mood_labels": emb.moods, "genre_labels": emb.genres,
            "chosen_k": clusters.k, "timings_s": {k: round(v, 2) for k, v in timings.items()},
        })
    return Path(out_dir)
