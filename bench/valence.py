"""Would lyric sentiment help the hybrid on mood? A lexicon valence term, measured.

The hybrid's mood precision rests on the tBERT embedding alone: BM25 and the audio term add
nothing to mood (README, "Against the targets"). The obvious signal left is the sentiment of the
words themselves. This bench scores every song's lyrics with VADER (the mean compound score of
its lines) and adds ``+ t * cos(theta_query - theta_candidate)`` to the served blend, where theta
maps the song's valence (z-scored on the training songs, clipped at 3 sd) to +-90 degrees, so the
term is 1 for equal valence and falls as the two songs' valences part. ``t`` is chosen on the
validation songs by ``recsys tune``'s balanced objective; the test songs only report, over all
songs and with the labelled pool (only songs carrying the tag type may be recommended), with
paired intervals against the served blend and the embedding alone. ``untagged@10`` is the share
of the top 10 with no label of that type, counted wrong over all songs.

VADER is not a dependency of recsys: ``.venv/bin/pip install vaderSentiment==3.3.2``, then

    .venv/bin/python -m bench.valence runs/real_artifacts --catalog runs/real_catalog.parquet
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import load_studied_build, report, run, study_parser
from bench.fusion import AGREEMENT_ALONE, VARIANTS, Blend, hits_at_10, labelled_pool, print_labelled_pool, query_candidates

T_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
CLIP_SD = 3.0


def lyric_valence(lyrics: list[str]) -> np.ndarray:
    """Mean VADER compound score of each lyric's non-empty lines (VADER is built for sentences;
    over a whole lyric its compound score saturates at +-1)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    out = np.zeros(len(lyrics))
    for i, text in enumerate(lyrics):
        lines = [line for line in text.splitlines() if line.strip()]
        out[i] = np.mean([analyzer.polarity_scores(line)["compound"] for line in lines]) if lines else 0.0
    return out


def valence_vectors(valence: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(n, 2) unit vectors at angle ``z * 30 degrees`` (z clipped to 3 sd): their dot product is
    the cosine of the angle between two songs' valences."""
    z = (valence - valence[train].mean()) / valence[train].std()
    theta = np.clip(z, -CLIP_SD, CLIP_SD) * (np.pi / 2 / CLIP_SD)
    return np.stack([np.cos(theta), np.sin(theta)], axis=1)


def main() -> None:
    parser = study_parser("bench.valence", __doc__, "valence")
    parser.add_argument("--catalog", type=Path, required=True, help="the catalogue the artefacts were built from (for the lyrics)")
    args = parser.parse_args()
    if importlib.util.find_spec("vaderSentiment") is None:
        sys.exit("error: bench.valence needs VADER: .venv/bin/pip install vaderSentiment==3.3.2")

    from sklearn.metrics import roc_auc_score

    from recsys.catalog import load_catalog
    from recsys.evaluate import bootstrap_ci

    build = load_studied_build(args.artifacts)
    artifacts, served, labels, split = build.artifacts, build.served, build.labels, build.split
    songs = artifacts.songs
    lyrics = load_catalog(args.catalog).set_index("song_id")["lyrics"].reindex(songs["song_id"])
    if lyrics.isna().any():
        sys.exit(f"error: {args.catalog}: has no lyrics for {int(lyrics.isna().sum())} of the artefacts' songs; give the catalogue they were built from")
    valence = lyric_valence(lyrics.astype(str).tolist())
    vectors = valence_vectors(valence, split == "train")
    # hits_at_10 and labelled_pool read a fourth signal under the mood head's name; here it is valence.
    pairwise = {"audio": (served.audio.unit, served.audio.unit), "mood_agreement": (vectors, vectors)}
    queries = {s: np.flatnonzero((split == s) & labels.has("any")) for s in ("val", "test")}
    found = {s: [query_candidates(artifacts, artifacts.lexical.tfidf_vectors, pairwise, int(q)) for q in rows] for s, rows in queries.items()}

    def per_query(s: str, tag: str, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
        mask = labels.has(tag)[queries[s]]
        return hits_at_10(labels, queries[s][mask], [f for f, m in zip(found[s], mask) if m], tag, VARIANTS[0], blend)

    served_blend = Blend(served.weight, served.audio_weight)
    balanced = [float(np.mean([per_query("val", tag, replace(served_blend, t=t))[0].mean() for tag in ("mood", "genre")])) for t in T_GRID]
    best_t = T_GRID[int(np.argmax(balanced))]
    embedding = {tag: per_query("test", tag, Blend(1.0))[0] for tag in ("mood", "genre")}
    rows: list[dict[str, Any]] = []
    for name, blend in (
        ("served (w, a from the manifest)", served_blend),
        ("served + t * valence agreement (t on val, balanced)", replace(served_blend, t=best_t)),
        ("valence agreement alone (served candidates)", Blend(1.0, t=AGREEMENT_ALONE)),
    ):
        row: dict[str, Any] = {"ranking": name, "t": blend.t}
        for tag in ("mood", "genre"):
            hits, untagged = per_query("test", tag, blend)
            row[f"test {tag} P@10"] = float(hits.mean())
            row[f"test {tag} untagged@10"] = float(untagged.mean())
            row[f"{tag} minus embedding"] = bootstrap_ci(hits - embedding[tag])
        rows.append(row)
    labelled = {tag: labelled_pool(served, labels, queries["test"], tag, vectors, replace(served_blend, t=best_t)) for tag in ("mood", "genre")}
    mood = songs["mood"].astype("string").fillna("").to_numpy(str)
    happy_sad = (split == "test") & np.isin(mood, ["happy", "sad"])
    settings = {
        "artifacts": str(args.artifacts), "catalog": str(args.catalog), "t grid": list(T_GRID),
        "val balanced P@10 per t": [round(b, 4) for b in balanced], "t": best_t,
        "test happy-vs-sad AUC of lyric valence": round(float(roc_auc_score(mood[happy_sad] == "happy", valence[happy_sad])), 3),
        "labelled pool, test": labelled,
    }
    report(args.name, rows, title="A lyric-valence term: t chosen on validation, precision@10 on the test songs", settings=settings)
    print_labelled_pool("test", labelled, f"{best_t} * valence")


if __name__ == "__main__":
    run(main)
