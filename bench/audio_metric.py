"""A learned audio similarity, measured against the served one: does weighing the audio features
by what they say about shared tags make the hybrid's audio term worth more?

The served term is the cosine of two songs' standardised audio features, every feature counting
alike: key, mode and liveness as much as valence and energy. The learned one weighs feature k by
``c_k >= 0``, the coefficient of ``z_qk * z_ck`` in a logistic regression that predicts whether
two training songs share a mood or a genre, fitted on seeded random pairs of training songs
that have audio and a label; the similarity is the cosine of ``z * sqrt(c)``. Only training
songs' labels are read. For the served and the learned term alike, ``w`` and ``a`` come from one
grid on the validation songs (the balanced objective of ``recsys tune``), over the served
candidates; the test split only reports: precision@10 per tag type, and paired differences
against the embedding alone and between the two terms.

    .venv/bin/python -m bench.audio_metric runs/real_artifacts
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.common import load_studied_build, report, run, study_parser
from bench.fusion import AUDIO_A_GRID, AUDIO_W_GRID, VARIANTS, Blend, hits_at_10, split_candidates
from recsys.vectors import l2_normalize

N_PAIRS = 200_000


def learned_audio(audio: Any, labels: Any, train_rows: np.ndarray, seed: int = 0) -> tuple[np.ndarray, dict[str, float]]:
    """Unit vectors of ``z * sqrt(c)`` for every song (module docstring) and the weights ``c``,
    scaled to a mean of 1, per feature."""
    from sklearn.linear_model import LogisticRegression

    pool = train_rows[audio.has[train_rows] & labels.has("any")[train_rows]]
    rng = np.random.default_rng(seed)
    first, second = rng.choice(pool, N_PAIRS), rng.choice(pool, N_PAIRS)
    keep = first != second
    first, second = first[keep], second[keep]
    same_mood = (labels.mood[first] == labels.mood[second]) & (labels.mood[first] >= 0)
    shared = same_mood | (labels.genres[first] & labels.genres[second]).any(axis=1)
    model = LogisticRegression(max_iter=1000).fit(audio.z[first] * audio.z[second], shared)
    weights = np.clip(model.coef_.ravel(), 0.0, None)
    weights = weights / weights.mean() if weights.any() else np.ones_like(weights)
    return l2_normalize(audio.z * np.sqrt(weights)), {f: round(float(c), 3) for f, c in zip(audio.features, weights)}


def main() -> None:
    args = study_parser("bench.audio_metric", __doc__, "audio_metric").parse_args()

    from recsys.evaluate import bootstrap_ci

    build = load_studied_build(args.artifacts)
    artifacts, served, labels, split = build.artifacts, build.served, build.labels, build.split
    songs = artifacts.songs
    learned, weights = learned_audio(served.audio, labels, np.flatnonzero(split == "train"))
    mood_probs = np.stack(songs["mood_probs"].to_numpy()).astype(np.float64)
    pairwise = {"audio": (served.audio.unit, served.audio.unit), "audio_learned": (learned, learned), "mood_agreement": (mood_probs, mood_probs)}
    queries, found = split_candidates(artifacts, labels, split, pairwise)

    def per_query(s: str, tag: str, blend: Blend) -> np.ndarray:
        mask = labels.has(tag)[queries[s]]
        return hits_at_10(labels, queries[s][mask], [f for f, m in zip(found[s], mask) if m], tag, VARIANTS[0], blend)[0]

    def balanced_val(blend: Blend) -> float:
        return float(np.mean([per_query("val", tag, blend).mean() for tag in ("mood", "genre")]))

    alone = Blend(1.0)
    chosen = {}
    for audio in ("audio", "audio_learned"):
        grid = {(w, a): balanced_val(Blend(w, a, audio=audio)) for w in AUDIO_W_GRID for a in AUDIO_A_GRID}
        chosen[audio] = (Blend(*max(grid, key=grid.__getitem__), audio=audio), max(grid.values()))
    rows: list[dict[str, Any]] = []
    comparisons: dict[str, Any] = {}
    for name, (blend, val) in (("embedding cosine alone", (alone, balanced_val(alone))), ("served audio cosine", chosen["audio"]),
                               ("learned audio similarity", chosen["audio_learned"])):
        test = {tag: per_query("test", tag, blend) for tag in ("mood", "genre")}
        rows.append({"audio term": name, "w": blend.w, "a": blend.a, "val balanced P@10": val,
                     "test mood P@10": float(test["mood"].mean()), "test genre P@10": float(test["genre"].mean())})
        comparisons[name] = test
    differences = {
        label: {tag: bootstrap_ci(comparisons[minuend][tag] - comparisons[subtrahend][tag]) for tag in ("mood", "genre")}
        for label, minuend, subtrahend in (("learned minus embedding alone", "learned audio similarity", "embedding cosine alone"),
                                           ("served minus embedding alone", "served audio cosine", "embedding cosine alone"),
                                           ("learned minus served", "learned audio similarity", "served audio cosine"))
    }
    settings = {"artifacts": str(args.artifacts), "n_pairs": N_PAIRS, "feature weights (mean 1)": weights, "w grid": AUDIO_W_GRID,
                "a grid": AUDIO_A_GRID, "n_val": len(queries["val"]), "n_test": len(queries["test"]), "test paired differences": differences}
    report(args.name, rows, title="Audio term: served cosine against a learned similarity (w, a on validation)", settings=settings)
    for label, by_tag in differences.items():
        print(label + ": " + "; ".join(f"{tag} {m:+.4f} [{lo:+.4f}, {hi:+.4f}]" for tag, (m, lo, hi) in by_tag.items()))
    print("feature weights:", ", ".join(f"{f} {c}" for f, c in weights.items()))


if __name__ == "__main__":
    run(main)
