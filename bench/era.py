"""Would the songs' years help the hybrid? An era term, measured.

The model never sees a song's year, and genres have eras. This bench adds ``+ t * era
agreement`` to the served blend: each year (clipped to 1950-2022) is an angle from 0 to 180
degrees, and the agreement of two songs is the cosine of the angle between them minus its mean
over pairs of training songs, so it is 0 on average and 0 when either song has no year. 36% of
the real catalogue's songs have no year, and they are also the songs that seldom carry a genre
tag: over all songs any term that favours songs with years lifts tagged songs into the top 10.
So ``t`` is chosen on the validation songs twice, by ``recsys tune``'s balanced objective over
all songs and with the labelled pool (only songs carrying the tag type may be recommended, as
``recsys evaluate --pool labelled``), where that effect is gone. The test songs only report, in
both pools, with paired intervals against the embedding alone. ``untagged@10`` is the share of
the top 10 with no label of that type, counted wrong over all songs.

    .venv/bin/python -m bench.era runs/real_artifacts
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import add_name_option, bench_parser, report, run, tbert_artifacts
from bench.fusion import AGREEMENT_ALONE, VARIANTS, Blend, hits_at_10, labelled_hits, labelled_table, split_candidates

T_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
ERA_SPAN = (1950.0, 2022.0)
TAGS = ("mood", "genre")


def era_vectors(year: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidate side, query side), (n, 3) each: their dot product is ``cos(theta_q - theta_c) -
    c0`` for two songs with years (``year`` NaN where unknown: a zero row), ``c0`` being the mean
    of that cosine over all pairs of ``train`` songs with years."""
    known = ~np.isnan(year)
    lo, hi = ERA_SPAN
    theta = np.pi * (np.clip(np.nan_to_num(year, nan=lo), lo, hi) - lo) / (hi - lo)
    unit = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    c0 = float(np.sum(unit[train & known].mean(axis=0) ** 2))  # the mean of u_i . u_j over all pairs
    ones = np.ones((len(year), 1))
    candidate = np.hstack([unit, ones]) * known[:, None]
    query = np.hstack([unit, -c0 * ones]) * known[:, None]
    return candidate, query


def main() -> None:
    parser = bench_parser("bench.era", __doc__)
    parser.add_argument("artifacts", type=Path, help="an artefact directory built with a tBERT model")
    add_name_option(parser, "era", "artefact build")
    args = parser.parse_args()

    from recsys.evaluate import Labels, bootstrap_ci
    from recsys.recommend import Recommender

    artifacts = tbert_artifacts(args.artifacts)
    served = Recommender(artifacts)
    songs = artifacts.songs
    labels = Labels.from_songs(songs)
    split = songs["split"].astype("string").fillna("").to_numpy(str)
    year = songs["year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    candidate_side, query_side = era_vectors(year, split == "train")
    # hits_at_10 reads a fourth signal under the mood head's name; here it is the era agreement.
    queries, found = split_candidates(artifacts, labels, split, {"audio": (served.audio.unit, served.audio.unit), "mood_agreement": (candidate_side, query_side)})
    tables = {(s, tag): labelled_table(served, labels, queries[s], tag) for s in ("val", "test") for tag in TAGS}

    def all_songs(s: str, tag: str, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
        mask = labels.has(tag)[queries[s]]
        return hits_at_10(labels, queries[s][mask], [f for f, m in zip(found[s], mask) if m], tag, VARIANTS[0], blend)

    def labelled(s: str, tag: str, blend: Blend) -> np.ndarray:
        rows, table = tables[s, tag]
        agree = np.einsum("qd,qcd->qc", query_side[rows], candidate_side[np.maximum(table.rows, 0)])
        return labelled_hits(labels, rows, table, tag, agree, blend)

    served_blend = Blend(served.weight, served.audio_weight)
    by_pool = {
        "all songs": [float(np.mean([all_songs("val", tag, replace(served_blend, t=t))[0].mean() for tag in TAGS])) for t in T_GRID],
        "labelled pool": [float(np.mean([labelled("val", tag, replace(served_blend, t=t)).mean() for tag in TAGS])) for t in T_GRID],
    }
    chosen = {pool: T_GRID[int(np.argmax(curve))] for pool, curve in by_pool.items()}
    embedding = Blend(1.0)
    baseline = {tag: (all_songs("test", tag, embedding)[0], labelled("test", tag, embedding)) for tag in TAGS}
    rows: list[dict[str, Any]] = []
    for name, blend in (
        ("embedding alone", embedding),
        ("served (w, a from the manifest)", served_blend),
        ("served + t * era agreement (t on val over all songs)", replace(served_blend, t=chosen["all songs"])),
        ("served + t * era agreement (t on val, labelled pool)", replace(served_blend, t=chosen["labelled pool"])),
        ("era agreement alone (served candidates)", Blend(1.0, t=AGREEMENT_ALONE)),
    ):
        row: dict[str, Any] = {"ranking": name, "t": blend.t}
        for tag in TAGS:
            hits, untagged = all_songs("test", tag, blend)
            pooled = labelled("test", tag, blend)
            row[f"all {tag} P@10"] = float(hits.mean())
            row[f"all {tag} untagged@10"] = float(untagged.mean())
            row[f"all {tag} minus embedding"] = bootstrap_ci(hits - baseline[tag][0])
            row[f"labelled {tag} P@10"] = float(pooled.mean())
            row[f"labelled {tag} minus embedding"] = bootstrap_ci(pooled - baseline[tag][1])
        rows.append(row)
    settings = {
        "artifacts": str(args.artifacts), "era span": list(ERA_SPAN), "songs with a year": round(float((~np.isnan(year)).mean()), 4),
        "t grid": list(T_GRID), "t": chosen,
        "val balanced P@10 per t": {pool: [round(v, 4) for v in curve] for pool, curve in by_pool.items()},
    }
    report(args.name, rows, title="An era term: t chosen on validation, precision@10 on the test songs", settings=settings)


if __name__ == "__main__":
    run(main)
