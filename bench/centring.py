"""Why the build centres the embedding: validation precision@10 of the raw tBERT embedding
against the served, mean-centred one (and, for reference, centring plus removing the top
principal components), per held-out tag type.

The raw vectors are not kept in the artefacts, so this re-embeds their catalogue with their
model and settings (a few minutes on CPU) and checks the centred result against the stored
``embeddings.npy`` before comparing anything. Only validation songs are queries: this is the
evidence for a design choice, and the test split stays for ``recsys evaluate``.

    .venv/bin/python -m bench.centring runs/real_artifacts
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import add_name_option, bench_parser, report, run, tbert_artifacts


def without_top_components(vectors: np.ndarray, n: int, seed: int, sample: int = 5000) -> np.ndarray:
    """Centred vectors with their top ``n`` principal directions (fitted on a seeded sample) removed."""
    centred = vectors - vectors.mean(axis=0)
    rows = np.random.default_rng(seed).choice(len(centred), size=min(sample, len(centred)), replace=False)
    _, _, vt = np.linalg.svd(centred[rows], full_matrices=False)
    top = vt[:n]
    return centred - (centred @ top.T) @ top


def main() -> None:
    parser = bench_parser("bench.centring", __doc__)
    parser.add_argument("artifacts", type=Path, help="an artefact directory built with a tBERT model")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--seed", type=int, default=0)
    add_name_option(parser, "centring", "artefact build")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from index.embed import embed_catalog, load_embedder
    from recsys.vectors import center, l2_normalize
    from recsys.catalog import in_split, load_catalog
    from recsys.errors import RecsysError
    from recsys.evaluate import Labels, nearest_by_cosine, precision_at_k, relevance_matrix

    artifacts = tbert_artifacts(args.artifacts)
    params = artifacts.manifest["params"]
    catalog = load_catalog(params["catalog"]).set_index("song_id")
    songs = artifacts.songs
    if not set(songs["song_id"]) <= set(catalog.index):
        raise RecsysError(f"{params['catalog']}: no longer holds the songs {args.artifacts} was built from")
    frame = catalog.loc[songs["song_id"]].reset_index()
    raw = embed_catalog(load_embedder(params["model"]), frame, precision=params["precision_used"], max_chunks=params["max_chunks"]).embedding
    served = center(raw, raw.mean(axis=0))
    agreement = float((served * np.asarray(artifacts.embeddings)).sum(axis=1).mean())
    if agreement < 0.999:
        raise RecsysError(f"{args.artifacts}: re-embedding gives vectors at mean cosine {agreement:.4f} to the stored ones; "
                          "the model or catalogue changed since the build, so the comparison would not describe it")

    variants = {
        "raw hidden layer (L2-normalised)": raw,
        "centred (served)": served,
        "centred, top principal component removed": l2_normalize(without_top_components(raw, 1, args.seed)),
        "centred, top 2 principal components removed": l2_normalize(without_top_components(raw, 2, args.seed)),
    }
    labels = Labels.from_songs(songs)
    split_rows = in_split(songs, args.split)
    rows: list[dict[str, Any]] = []
    for name, vectors in variants.items():
        row: dict[str, Any] = {"embedding": name}
        for tag in ("mood", "genre"):
            queries = np.flatnonzero(split_rows & labels.has(tag))
            relevant, _ = relevance_matrix(labels, queries, nearest_by_cosine(vectors, queries, 10), tag)
            row[f"{tag} P@10"] = float(precision_at_k(relevant, 10).mean())
        rows.append(row)
    settings = {"artifacts": str(args.artifacts), "split": args.split, "seed": args.seed, "n_songs": len(songs),
                "mean_cosine_recomputed_vs_stored": agreement}
    report(args.name, rows, title=f"Embedding centring, precision@10 on {args.split} songs", settings=settings)
    print(f"re-embedded and centred vs stored embeddings.npy: mean cosine {agreement:.5f}")


if __name__ == "__main__":
    run(main)
