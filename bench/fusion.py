"""What the hybrid's blend could be, measured: precision@10 of fusion variants of the embedding
cosine with a lexical score, each variant's weight chosen on validation songs.

The served hybrid blends ``w * cosine + (1 - w) * bm25 / max(bm25) + a * audio`` over BM25 top
N ∪ FAISS top N. This bench studies the lexical side with the audio term off (a = 0), trying the
obvious alternatives on the same artefacts: min-max and z-score
normalisation of both scores (Pyserini's hybrid normalises), TF-IDF cosine instead of BM25 as
the lexical score, TF-IDF candidates instead of BM25 ones, and the fine-tuned encoder's pooled
cosine as the second signal. For each variant ``w`` is the best of a 21-point grid on
validation queries (relevant = shares any held-out mood or genre tag, as ``recsys tune``);
test precision@10 per tag type is then read at that ``w``. The test split only reports. The last
rows give the served blend at the manifest's tuned ``w`` and ``a`` (``recsys tune``), and the
same with each song's audio vector handed to another song with audio (a seeded shuffle): a
control for whether the gain comes from what the features say or from which songs have them.

The mood rows try the model's own mood head as a fourth term, ``+ t * p_query . p_candidate``
(the chance that the two songs share the predicted mood), ``t`` chosen on validation by the
balanced objective of ``recsys tune`` at the manifest's ``w`` and ``a``; and that agreement alone
(the embedding cosine breaking ties). The ``untagged@10`` columns give the share of the top 10
that carries no label of that type: it is counted wrong over all songs, and the training songs,
whose labels the head has learnt, get the most confident predictions. So the mood term is also
scored with the labelled pool (``recsys evaluate --pool labelled``: only songs carrying the tag
type may be recommended), where that share is 0 by construction: validation and test
precision@10 of the served blend without and with the term, and their paired difference
(settings, ``labelled pool``).

The expansion rows try average query expansion on the embedding side: the query vector plus
beta times the mean of its 10 nearest songs' embeddings, normalised, replaces the query in the
cosine (the candidates stay the served ones); beta is chosen on validation by the balanced
objective at the manifest's ``w`` and ``a``, and the embedding alone with the same expanded
query (over the same candidates) shows how much of any gain the expansion would owe to fusion.

The imputed-audio rows are a second control for the audio term: a candidate without audio
features gets audio predicted from its embedding (ridge regression fitted on the training songs
that have audio), so the term no longer favours the songs that have features. The query keeps
its own audio (none: the term is 0). ``w`` and ``a`` come from one grid on validation by the
balanced objective, for the real and the imputed candidate audio alike; the settings give
each one's test precision@10 minus the embedding alone's, with a paired interval.

    .venv/bin/python -m bench.fusion runs/real_artifacts
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.common import load_studied_build, report, run, study_parser
from recsys.recommend import Recommender, linear_scores
from recsys.vectors import l2_normalize

N_CANDIDATES = 100
GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
MOOD_TERM_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)
EXPANSION_NEIGHBOURS = 10
EXPANSION_GRID = (0.0, 0.5, 1.0, 2.0)
AGREEMENT_ALONE = 1000.0  # a mood-term weight that leaves the cosine only to break ties
AUDIO_W_GRID = [float(w) for w in np.round(np.linspace(0.8, 1.0, 11), 2)]
AUDIO_A_GRID = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0]
RIDGE = 1.0


@dataclass(frozen=True)
class Variant:
    name: str
    lexical: str  # which second signal: bm25, tfidf or pooled
    normalise: str  # how both signals are scaled per query: served, raw, minmax or z (blend_inputs)
    sources: tuple[str, ...]  # which top-N lists make the candidate set


@dataclass(frozen=True)
class Blend:
    """The weights of one ranking: ``w * cosine + (1 - w) * lexical + a * audio + t * agreement``."""

    w: float
    a: float = 0.0
    audio: str = "audio"  # which audio vectors: audio, or audio_shuffled for the control
    t: float = 0.0
    agreement: str = "mood_agreement"  # which pairwise signal the fourth term reads
    expansion: float = 0.0  # beta of the expanded query (expanded_cosines); 0 is the plain cosine

    @property
    def cosine(self) -> str:
        return "cosine" if self.expansion == 0.0 else f"cosine expanded {self.expansion}"

    def scores(self, cosine: np.ndarray, lexical: np.ndarray, audio: np.ndarray, agreement: np.ndarray) -> np.ndarray:
        return linear_scores(cosine, lexical, audio, self.w, self.a) + self.t * agreement


VARIANTS = [
    Variant("served: cosine + bm25/max, BM25 ∪ FAISS", "bm25", "served", ("bm25", "dense")),
    Variant("min-max both, BM25 ∪ FAISS", "bm25", "minmax", ("bm25", "dense")),
    Variant("z-score both, BM25 ∪ FAISS", "bm25", "z", ("bm25", "dense")),
    Variant("cosine + TF-IDF cosine, BM25 ∪ FAISS", "tfidf", "raw", ("bm25", "dense")),
    Variant("cosine + TF-IDF cosine, TF-IDF ∪ FAISS", "tfidf", "raw", ("tfidf", "dense")),
    Variant("z-score both (TF-IDF), TF-IDF ∪ FAISS", "tfidf", "z", ("tfidf", "dense")),
    Variant("cosine + pooled-encoder cosine, FAISS", "pooled", "raw", ("dense",)),
]


def blend_inputs(cosine: np.ndarray, lexical: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Both signals of one query's candidates, scaled as the variant says: ``served`` divides the
    lexical score by its maximum (recsys.recommend), ``raw`` leaves both, ``minmax`` and ``z``
    scale each over the candidates."""
    def scaled(values: np.ndarray) -> np.ndarray:
        if how == "minmax":
            lo, hi = values.min(), values.max()
            return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
        spread = values.std()
        return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)

    if how == "raw":
        return cosine, lexical
    if how == "served":
        top = lexical.max()
        return cosine, lexical / top if top > 0 else np.zeros_like(lexical)
    return scaled(cosine), scaled(lexical)


def expanded_cosines(embeddings: np.ndarray, query: int, dense_top: np.ndarray, cosine: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Average query expansion: the cosine of ``rows`` with the unit vector along ``query``'s
    embedding plus beta times the mean of its ``EXPANSION_NEIGHBOURS`` nearest songs, one signal
    per beta of ``EXPANSION_GRID`` (0 gives the plain cosine)."""
    nearest = dense_top[np.argsort(-cosine[dense_top], kind="stable")[:EXPANSION_NEIGHBOURS]]
    centroid = embeddings[nearest].mean(axis=0)
    out = {}
    for beta in EXPANSION_GRID[1:]:
        expanded = embeddings[query] + beta * centroid
        out[Blend(1.0, expansion=beta).cosine] = embeddings[rows] @ (expanded / np.linalg.norm(expanded))
    return out


def query_candidates(
    artifacts: Any, tfidf: Any, pairwise: dict[str, tuple[np.ndarray, np.ndarray]], query: int
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The union of every source's top N for one query: rows, each signal on them (``pairwise``
    names pairs of per-song matrices, the candidates' side and the query's, whose rows' dot
    product is a signal: unit audio vectors give a cosine, mood probabilities an agreement), and
    which source listed each row."""
    lexical, embeddings = artifacts.lexical, np.asarray(artifacts.embeddings)
    bm25 = lexical.scores(lexical.document_tokens(query))
    cosine_tfidf = (tfidf[query] @ tfidf.T).toarray().ravel()
    cosine = embeddings @ embeddings[query]
    for signal in (bm25, cosine_tfidf, cosine):
        signal[query] = -np.inf
    top = {name: np.argpartition(-s, N_CANDIDATES)[:N_CANDIDATES] for name, s in (("bm25", bm25), ("tfidf", cosine_tfidf), ("dense", cosine))}
    top["bm25"] = top["bm25"][bm25[top["bm25"]] > 0]
    rows = np.unique(np.concatenate(list(top.values())))
    pooled = np.asarray(artifacts.pooled)
    signals = {"cosine": cosine[rows], "bm25": bm25[rows], "tfidf": cosine_tfidf[rows], "pooled": pooled[rows] @ pooled[query]}
    signals.update(expanded_cosines(embeddings, query, top["dense"], cosine, rows))
    signals.update({name: candidate_side[rows] @ query_side[query] for name, (candidate_side, query_side) in pairwise.items()})
    return rows, signals, {name: np.isin(rows, listed) for name, listed in top.items()}


def split_candidates(
    artifacts: Any, labels: Any, split: np.ndarray, pairwise: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    """The labelled validation and test queries, and :func:`query_candidates` of each."""
    from recsys.progress import progress

    queries = {s: np.flatnonzero((split == s) & labels.has("any")) for s in ("val", "test")}
    found: dict[str, list] = {}
    with progress() as bar:
        for s, rows in queries.items():
            task = bar.add_task(f"{s} candidates", total=len(rows), info="")
            found[s] = []
            for q in rows:
                found[s].append(query_candidates(artifacts, artifacts.lexical.tfidf_vectors, pairwise, int(q)))
                bar.update(task, advance=1)
    return queries, found


def ridge_filled(embeddings: np.ndarray, values: np.ndarray, has: np.ndarray, fit_rows: np.ndarray, check_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (n, k) with the rows where ``has`` is False predicted from the songs' embeddings
    (ridge on the ``fit_rows`` that have values), and the prediction's R^2 per column on the
    ``check_rows`` that have values. Rows with values keep them."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    fit, check = fit_rows[has[fit_rows]], check_rows[has[check_rows]]
    model = Ridge(alpha=RIDGE).fit(embeddings[fit], values[fit])

    def predict(rows: np.ndarray) -> np.ndarray:
        # Ridge drops the column axis of a one-column target: keep it, or np.where below broadcasts (n,) against (n, 1).
        return model.predict(rows).reshape(len(rows), values.shape[1])

    r2 = r2_score(values[check], predict(embeddings[check]), multioutput="raw_values")
    return np.where(has[:, None], values, predict(embeddings)), r2


def imputed_audio(embeddings: np.ndarray, audio: Any, fit_rows: np.ndarray, check_rows: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Unit audio vectors with every song's missing audio predicted from its embedding
    (:func:`ridge_filled`), and the R^2 per feature. Songs with audio keep their own vector."""
    z, r2 = ridge_filled(embeddings, audio.z, audio.has, fit_rows, check_rows)
    return l2_normalize(z), {f: round(float(v), 3) for f, v in zip(audio.features, r2)}


def hits_at_10(labels: Any, queries: np.ndarray, found: list, tag: str, variant: Variant, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
    """Per query: precision@10, and the share of the top 10 that carries no ``tag`` label at all
    (counted wrong whatever it sounds like: the sources tag whole datasets)."""
    hits, untagged = [], []
    tagged = labels.has(tag)
    for query, (rows, signals, listed) in zip(queries, found):
        keep = np.logical_or.reduce([listed[s] for s in variant.sources])
        cosine, lexical = blend_inputs(signals[blend.cosine][keep], signals[variant.lexical][keep], variant.normalise)
        candidates = rows[keep]
        scores = blend.scores(cosine, lexical, signals[blend.audio][keep], signals[blend.agreement][keep])
        top = candidates[np.lexsort((candidates, -scores))[:10]]
        hits.append(labels.relevant(int(query), top, tag).sum() / 10.0)
        untagged.append((~tagged[top]).sum() / 10.0)
    return np.asarray(hits), np.asarray(untagged)


def labelled_table(served: Recommender, labels: Any, queries: np.ndarray, tag: str) -> tuple[np.ndarray, Any]:
    """The ``queries`` carrying ``tag`` and their served candidates when only songs carrying
    ``tag`` may be recommended (widened to 20 of them, as ``recsys evaluate --pool labelled``)."""
    from recsys.evaluate import CandidateTable

    queries = queries[labels.has(tag)[queries]]
    return queries, CandidateTable.build(served, queries, allowed=labels.has(tag), depth=20, desc=f"labelled {tag} candidates")


def labelled_hits(labels: Any, queries: np.ndarray, table: Any, tag: str, agree: np.ndarray, blend: Blend) -> np.ndarray:
    """Per query of :func:`labelled_table`: precision@10 of ``blend``, ``agree`` being its fourth
    signal on the table's candidates."""
    from recsys.evaluate import precision_at_k, relevance_matrix

    ranked = table.take(table.ranked_by(blend.scores(table.cosine, table.bm25_norm, table.audio, agree), 10))
    return precision_at_k(relevance_matrix(labels, queries, ranked, tag)[0], 10)


def labelled_pool(served: Recommender, labels: Any, queries: np.ndarray, tag: str, agreement: np.ndarray, blend: Blend) -> dict[str, Any]:
    """Precision@10 of ``blend`` without and with its mood term in :func:`labelled_table`'s pool,
    and the paired difference (mean, 95% interval)."""
    from recsys.evaluate import bootstrap_ci

    queries, table = labelled_table(served, labels, queries, tag)
    agree = np.einsum("qd,qcd->qc", agreement[queries], agreement[np.maximum(table.rows, 0)])
    per_query = [labelled_hits(labels, queries, table, tag, agree, b) for b in (replace(blend, t=0.0), blend)]
    return {"without": float(per_query[0].mean()), "with": float(per_query[1].mean()), "difference": bootstrap_ci(per_query[1] - per_query[0])}


def print_labelled_pool(split: str, by_tag: dict[str, dict[str, Any]], term: str) -> None:
    """A line per tag type of :func:`labelled_pool`'s results: without and with ``term``, and the
    paired difference."""
    for tag, result in by_tag.items():
        mean, low, high = result["difference"]
        print(f"labelled pool, {split} {tag} P@10: served {result['without']:.4f}, + {term} {result['with']:.4f}, "
              f"paired difference {mean:+.4f} [{low:+.4f}, {high:+.4f}]")


def main() -> None:
    args = study_parser("bench.fusion", __doc__, "fusion").parse_args()

    from recsys.evaluate import bootstrap_ci

    build = load_studied_build(args.artifacts)
    artifacts, served, labels, split = build.artifacts, build.served, build.labels, build.split
    with_audio = np.flatnonzero(served.audio.has)
    shuffled = served.audio.unit.copy()
    shuffled[with_audio] = shuffled[np.random.default_rng(0).permutation(with_audio)]
    mood_probs = np.stack(artifacts.songs["mood_probs"].to_numpy()).astype(np.float64)
    imputed, imputed_r2 = imputed_audio(np.asarray(artifacts.embeddings, dtype=np.float64), served.audio, np.flatnonzero(split == "train"), np.flatnonzero(split == "val"))
    pairwise = {
        "audio": (served.audio.unit, served.audio.unit),
        "audio_shuffled": (shuffled, shuffled),
        "audio_imputed": (imputed, served.audio.unit),  # the query keeps its own audio, or none
        "mood_agreement": (mood_probs, mood_probs),
    }
    queries, found = split_candidates(artifacts, labels, split, pairwise)

    def per_query(s: str, tag: str, variant: Variant, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
        """:func:`hits_at_10` of the ``s`` queries that carry a ``tag`` label."""
        mask = labels.has(tag)[queries[s]]
        return hits_at_10(labels, queries[s][mask], [f for f, m in zip(found[s], mask) if m], tag, variant, blend)

    def on(s: str, tag: str, variant: Variant, blend: Blend) -> tuple[float, float]:
        """Mean precision@10 and mean untagged share of the top 10."""
        hits, untagged = per_query(s, tag, variant, blend)
        return (float(hits.mean()), float(untagged.mean())) if len(hits) else (float("nan"), float("nan"))

    def balanced_val(blend: Blend) -> float:
        """The tuning objective: validation P@10 of the served candidates, mood and genre averaged."""
        return float(np.mean([on("val", tag, VARIANTS[0], blend)[0] for tag in ("mood", "genre")]))

    def row(name: str, variant: Variant, blend: Blend) -> dict[str, Any]:
        mood, mood_untagged = on("test", "mood", variant, blend)
        genre, genre_untagged = on("test", "genre", variant, blend)
        return {"variant": name, "w (val)": blend.w, "a": blend.a, "t": blend.t, "val any P@10": on("val", "any", variant, blend)[0],
                "test mood P@10": mood, "test mood untagged@10": mood_untagged, "test genre P@10": genre, "test genre untagged@10": genre_untagged}

    rows: list[dict[str, Any]] = []
    for variant in VARIANTS:
        curve = [on("val", "any", variant, Blend(float(w)))[0] for w in GRID]
        rows.append(row(variant.name, variant, Blend(float(GRID[int(np.argmax(curve))]))))
    rows.append(row("embedding cosine alone (w = 1)", VARIANTS[0], Blend(1.0)))
    rows.append(row("TF-IDF cosine alone (w = 0)", Variant("", "tfidf", "raw", ("tfidf",)), Blend(0.0)))
    served_blend = Blend(served.weight, served.audio_weight)
    rows.append(row("served with its audio term (w, a from the manifest)", VARIANTS[0], served_blend))
    rows.append(row("the same, audio vectors shuffled among songs with audio", VARIANTS[0], replace(served_blend, audio="audio_shuffled")))
    balanced = [balanced_val(replace(served_blend, t=t)) for t in MOOD_TERM_GRID]
    best_t = MOOD_TERM_GRID[int(np.argmax(balanced))]
    rows.append(row("served + t * mood-head agreement (t on val, balanced)", VARIANTS[0], replace(served_blend, t=best_t)))
    rows.append(row("mood-head agreement alone", VARIANTS[0], Blend(1.0, t=AGREEMENT_ALONE)))
    expansion = [balanced_val(replace(served_blend, expansion=beta)) for beta in EXPANSION_GRID]
    best_beta = EXPANSION_GRID[int(np.argmax(expansion))]
    rows.append(row(f"served, query expanded by its {EXPANSION_NEIGHBOURS} nearest songs (beta on val, balanced)", VARIANTS[0], replace(served_blend, expansion=best_beta)))
    rows.append(row("embedding cosine alone, the same expanded query", VARIANTS[0], Blend(1.0, expansion=best_beta)))
    audio_controls = {}
    embedding_alone = {tag: per_query("test", tag, VARIANTS[0], Blend(1.0))[0] for tag in ("mood", "genre")}
    for audio, candidate_audio in (("audio", "real candidate audio"), ("audio_imputed", "candidate audio imputed where missing")):
        grid = {(w, a): balanced_val(Blend(w, a, audio=audio)) for w in AUDIO_W_GRID for a in AUDIO_A_GRID}
        blend = Blend(*max(grid, key=grid.__getitem__), audio=audio)
        rows.append(row(f"served, {candidate_audio} (w, a on val, balanced)", VARIANTS[0], blend))
        audio_controls[candidate_audio] = {"w": blend.w, "a": blend.a, "val balanced P@10": round(max(grid.values()), 4), "test minus embedding alone": {
            tag: bootstrap_ci(per_query("test", tag, VARIANTS[0], blend)[0] - alone) for tag, alone in embedding_alone.items()}}
    labelled = {
        s: {tag: labelled_pool(served, labels, queries[s], tag, mood_probs, replace(served_blend, t=best_t)) for tag in ("mood", "genre")}
        for s in ("val", "test")
    }
    settings = {"artifacts": str(args.artifacts), "n_candidates": N_CANDIDATES, "n_val": len(queries["val"]), "n_test": len(queries["test"]),
                "mood_term_grid": list(MOOD_TERM_GRID), "val balanced P@10 per t": [round(float(b), 4) for b in balanced],
                "expansion_neighbours": EXPANSION_NEIGHBOURS, "expansion_grid": list(EXPANSION_GRID),
                "val balanced P@10 per beta": [round(float(b), 4) for b in expansion],
                "labelled pool": {"t": best_t, **labelled},
                "imputed audio": {"ridge": RIDGE, "val R2 per feature": imputed_r2, "w grid": AUDIO_W_GRID, "a grid": AUDIO_A_GRID, **audio_controls}}
    report(args.name, rows, title="Fusion variants: w chosen on validation, precision@10", settings=settings)
    for s, by_tag in labelled.items():
        print_labelled_pool(s, by_tag, f"{best_t} * mood agreement")


if __name__ == "__main__":
    run(main)
