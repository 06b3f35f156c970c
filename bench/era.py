"""Would the songs' years help the hybrid? The era term, measured as the study that led to it.

The model never sees a song's year, and genres have eras. This bench adds ``+ t * era
agreement`` (``recsys.era``: the years as angles over 1950-2022, the cosine between them less
its catalogue mean, 0 when either song has no year) to the blend of the build's tuned ``w`` and
``a`` without its own era term. 36% of the real catalogue's songs have no year, and they are
also the songs that seldom carry a genre tag: over all songs any term that favours songs with
years lifts tagged songs into the top 10. So ``t`` is chosen on the validation songs twice, by
the balanced objective over all songs and with the labelled pool (only songs carrying the tag
type may be recommended, as ``recsys tune``'s default and ``recsys evaluate --pool labelled``),
where that effect is gone. A control removes the effect from the ranking itself: every song
without a year gets one predicted from its embedding (ridge on the training songs with years),
so the term no longer favours the songs that have one. The test songs only report, in both
pools, with paired intervals against the embedding alone. ``untagged@10`` is the share of the
top 10 with no label of that type, counted wrong over all songs.

    .venv/bin/python -m bench.era runs/real_artifacts
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from bench.common import load_studied_build, report, run, study_parser
from bench.fusion import AGREEMENT_ALONE, RIDGE, VARIANTS, Blend, hits_at_10, labelled_hits, labelled_table, ridge_filled, split_candidates
from recsys.era import EraSpace

T_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
TAGS = ("mood", "genre")


def era_vectors(space: EraSpace) -> tuple[np.ndarray, np.ndarray]:
    """(candidate side, query side), (n, 3) each, whose dot products are the era agreements of
    ``space`` (the fusion bench's candidate loop takes pairwise signals as such products)."""
    has = space.has[:, None].astype(np.float64)
    return np.hstack([space.unit, has]), np.hstack([space.unit, -space.mean_agreement * has])


def main() -> None:
    args = study_parser("bench.era", __doc__, "era").parse_args()

    from recsys.evaluate import bootstrap_ci

    build = load_studied_build(args.artifacts)
    artifacts, served, labels, split = build.artifacts, build.served, build.labels, build.split
    era = served.era
    filled, r2 = ridge_filled(np.asarray(artifacts.embeddings, dtype=np.float64), era.years[:, None], era.has, np.flatnonzero(split == "train"), np.flatnonzero(split == "val"))
    imputed = EraSpace(filled[:, 0])
    sides = {"era": era_vectors(era), "era_imputed": era_vectors(imputed)}
    queries, found = split_candidates(artifacts, labels, split, {"audio": (served.audio.unit, served.audio.unit), **sides})
    tables = {(s, tag): labelled_table(served, labels, queries[s], tag) for s in ("val", "test") for tag in TAGS}

    def all_songs(s: str, tag: str, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
        mask = labels.has(tag)[queries[s]]
        return hits_at_10(labels, queries[s][mask], [f for f, m in zip(found[s], mask) if m], tag, VARIANTS[0], blend)

    def labelled(s: str, tag: str, blend: Blend) -> np.ndarray:
        rows, table = tables[s, tag]
        candidate_side, query_side = sides[blend.agreement]
        agree = np.einsum("qd,qcd->qc", query_side[rows], candidate_side[np.maximum(table.rows, 0)])
        return labelled_hits(labels, rows, table, tag, agree, blend)

    base = Blend(served.weight, served.audio_weight, agreement="era")
    curves = {
        ("era", "all songs"): lambda t: float(np.mean([all_songs("val", tag, replace(base, t=t))[0].mean() for tag in TAGS])),
        ("era", "labelled pool"): lambda t: float(np.mean([labelled("val", tag, replace(base, t=t)).mean() for tag in TAGS])),
        ("era_imputed", "labelled pool"): lambda t: float(np.mean([labelled("val", tag, replace(base, t=t, agreement="era_imputed")).mean() for tag in TAGS])),
    }
    by_curve = {key: [curve(t) for t in T_GRID] for key, curve in curves.items()}
    chosen = {key: T_GRID[int(np.argmax(values))] for key, values in by_curve.items()}
    embedding = Blend(1.0, agreement="era")
    baseline = {tag: (all_songs("test", tag, embedding)[0], labelled("test", tag, embedding)) for tag in TAGS}
    rows: list[dict[str, Any]] = []
    for name, blend in (
        ("embedding alone", embedding),
        ("w, a from the manifest, no era term", base),
        ("+ t * era agreement (t on val over all songs)", replace(base, t=chosen["era", "all songs"])),
        ("+ t * era agreement (t on val, labelled pool)", replace(base, t=chosen["era", "labelled pool"])),
        ("+ t * era agreement, missing years imputed (t on val, labelled pool)", replace(base, t=chosen["era_imputed", "labelled pool"], agreement="era_imputed")),
        ("era agreement alone (served candidates)", Blend(1.0, t=AGREEMENT_ALONE, agreement="era")),
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
        "artifacts": str(args.artifacts), "w": served.weight, "a": served.audio_weight, "served era weight": served.era_weight,
        "songs with a year": round(float(era.has.mean()), 4), "t grid": list(T_GRID),
        "t": {f"{signal}, {pool}": t for (signal, pool), t in chosen.items()},
        "val balanced P@10 per t": {f"{signal}, {pool}": [round(v, 4) for v in values] for (signal, pool), values in by_curve.items()},
        "imputed years": {"ridge": RIDGE, "val R2": round(float(r2[0]), 3)},
    }
    report(args.name, rows, title="The era term: t chosen on validation, precision@10 on the test songs", settings=settings)


if __name__ == "__main__":
    run(main)
