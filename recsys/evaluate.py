"""Offline evaluation: ranking metrics against held-out mood and genre tags, with baselines.

Queries are TEST-split songs. A recommended song is relevant to a query when it shares the
query's held-out tag: for ``mood`` the same mood label, for ``genre`` at least one genre in
common. By default (``pool="all"``) the candidate pool is every indexed song except the query;
songs without the tag count as not relevant (they are recommendable, the evaluation just cannot
credit them). ``pool="labelled"`` lets systems recommend only songs carrying the tag type being
scored: real catalogues tag whole sources, so under ``all`` a system whose neighbours come from
an untagged source (audio features, for one) is penalised for the source, not the music. Metrics use
binary relevance: precision@k, MAP@k (AP normalised by ``min(k, R)``, R = relevant songs in the
pool) and nDCG@k, each with a seeded bootstrap 95% interval over queries, plus same-artist@10, the
share of the top 10 by the query's own artist (tags often follow the artist, so this bounds how
much of a system's precision the artist alone could carry), and with-audio@10 and with-year@10, the
shares of the top 10 that have audio features and a year (in the real sources songs with audio
or a year are mostly genre-tagged, so a system that favours them moves precision over all songs
for that alone); the hybrid's
precision@10 minus each other system's comes with a paired interval (the same resampled
queries for both). Balanced precision@10, the mean of the mood and the genre figure, resamples
test songs instead, so that a song that is a query of both tag types keeps its two results
together.

Systems: ``random`` (seeded), ``tfidf`` (cosine on the lexical TF-IDF vectors), ``bm25`` (the
query song's own terms against the BM25 index), ``minilm`` (cosine on the off-the-shelf
encoder's pooled vectors: ``pooled.npy`` of a plain-encoder build, or of the ``baseline`` build
given beside a tBERT build), ``encoder`` (a tBERT build's ``pooled.npy``: the fine-tuned
encoder's mean-pooled vector, without topics, audio or the hidden layer), ``audio`` (Euclidean on standardised audio features;
a query without audio gets no recommendations and scores 0, songs without audio are never
recommended; the report gives the coverage), ``era`` (the nearest years, ``recsys.era``; ties,
which are many, broken at random; a query without a year gets no recommendations and scores 0),
``embedding`` (cosine on ``embeddings.npy``, the build's embedding centred on the catalogue mean),
``hybrid`` (the served ranker, tuned weights), ``hybrid_no_audio`` and ``hybrid_no_era`` (the
same without its audio or era term; only when that term's tuned weight is above 0) and ``rrf``
(the served candidates, reciprocal rank fusion).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from recsys.catalog import in_split
from recsys.errors import RecsysError
from recsys.io import atomic_path, check_replaceable, pyplot, save_figure, within, write_json
from recsys.progress import progress
from recsys.recommend import GENRE_EVEN_ODDS, N_CANDIDATES, Recommender, likely_genres, linear_scores, most_probable_mood, rrf_scores
from recsys.text import normalize_text, shorten
from recsys.vectors import best_indices

TAGS = ("mood", "genre")
KS = (5, 10, 20)
REPORT_FILE = "evaluation.json"
FEW_QUERIES = 30  # below this a tag's bootstrap interval says little
MAX_BOOTSTRAP = 10_000


# --- metrics -----------------------------------------------------------------------------------


def precision_at_k(rel: np.ndarray, k: int) -> np.ndarray:
    """Per query: the fraction of the top ``k`` that is relevant. ``rel`` is (n_queries, >=k) bool
    in rank order; a list shorter than ``k`` (padded with False) still divides by ``k``."""
    return rel[:, :k].sum(axis=1) / float(k)


def average_precision_at_k(rel: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per query AP@k = sum_i P@i * rel_i / min(k, R); 0 where the pool holds nothing relevant."""
    top = rel[:, :k].astype(np.float64)
    hits = np.cumsum(top, axis=1)
    prec_at_i = hits / np.arange(1, top.shape[1] + 1)
    denom = np.minimum(k, np.asarray(n_relevant, dtype=np.float64))
    return np.divide((prec_at_i * top).sum(axis=1), denom, out=np.zeros(len(top)), where=denom > 0)


def ndcg_at_k(rel: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per query binary nDCG@k: DCG = sum rel_i / log2(i + 1), ideal DCG from min(k, R) hits."""
    top = rel[:, :k].astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (top * discounts[: top.shape[1]]).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(k, np.asarray(n_relevant, dtype=np.int64))]
    return np.divide(dcg, idcg, out=np.zeros(len(top)), where=idcg > 0)


def same_artist_at_k(ranked: np.ndarray, queries: np.ndarray, artist_keys: np.ndarray, k: int) -> np.ndarray:
    """Per query: the fraction of the top ``k`` of ``ranked`` (rows, -1 = empty) whose artist key
    equals the query's; songs without an artist (key "") never count as the same artist."""
    top = ranked[:, :k]
    query_keys = artist_keys[queries][:, None]
    same = (top >= 0) & (artist_keys[np.maximum(top, 0)] == query_keys) & (query_keys != "")
    return same.sum(axis=1) / float(k)


def share_at_k(ranked: np.ndarray, flagged: np.ndarray, k: int) -> np.ndarray:
    """Per query: the fraction of the top ``k`` of ``ranked`` (rows, -1 = empty) that ``flagged``
    (a bool per song) marks."""
    top = ranked[:, :k]
    return ((top >= 0) & flagged[np.maximum(top, 0)]).sum(axis=1) / float(k)


def bootstrap_ci(values: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap interval of the mean over queries."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return _percentile_interval(float(values.mean()), means, level)


def _percentile_interval(point: float, resampled: np.ndarray, level: float) -> tuple[float, float, float]:
    tail = (1.0 - level) / 2.0
    return point, float(np.quantile(resampled, tail)), float(np.quantile(resampled, 1.0 - tail))


def tag_balanced_bootstrap_ci(
    per_tag: Sequence[tuple[np.ndarray, np.ndarray]], *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high) of the mean over tag types of each type's mean: ``per_tag`` holds, for
    each tag type, the query songs it scores (ids) and their values. Each resample draws songs,
    not queries: a test song that is both a mood and a genre query carries both its values into
    the resample together, so the interval sees how a song's two figures move together."""
    if not per_tag or any(len(values) == 0 for _, values in per_tag):
        return float("nan"), float("nan"), float("nan")
    songs = np.unique(np.concatenate([ids for ids, _ in per_tag]))
    rng = np.random.default_rng(seed)
    # times[b, s]: how often resample b drew song s (a multinomial draw of len(songs) songs).
    times = np.stack([np.bincount(rng.integers(0, len(songs), len(songs)), minlength=len(songs)) for _ in range(n_boot)])
    tag_means = []
    for ids, values in per_tag:
        drawn = times[:, np.searchsorted(songs, ids)].astype(np.float64)
        total = drawn.sum(axis=1)
        # A resample that drew none of a tag's songs has no mean for it (NaN, left out by the quantiles).
        with np.errstate(invalid="ignore", divide="ignore"):
            tag_means.append(np.where(total > 0, drawn @ np.asarray(values, dtype=np.float64) / total, np.nan))
    resampled = np.mean(tag_means, axis=0)
    point = float(np.mean([np.mean(values) for _, values in per_tag]))
    return _percentile_interval(point, resampled[~np.isnan(resampled)], level)


def as_interval(ci: tuple[float, float, float]) -> dict[str, float]:
    """A bootstrap result (mean, low, high) as the reports store it."""
    mean, low, high = ci
    return {"mean": mean, "low": low, "high": high}


def interval_text(interval: dict[str, float], signed: bool = False) -> str:
    """"0.427 [0.396, 0.459]", or with signs for differences ("+0.016 [+0.003, +0.027]")."""
    spec = "+.3f" if signed else ".3f"
    return f"{interval['mean']:{spec}} [{interval['low']:{spec}}, {interval['high']:{spec}}]"


# --- relevance ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """Held-out tags of every indexed song, in a form that makes relevance a vectorised lookup."""

    mood: np.ndarray  # (n,) int: mood code, -1 for none
    genres: np.ndarray  # (n, n_genres) bool

    @classmethod
    def from_songs(cls, songs: pd.DataFrame) -> "Labels":
        mood = songs["mood"].astype("string")
        codes = pd.Categorical(mood.dropna().unique()) if mood.notna().any() else pd.Categorical([])
        mood_code = np.array([-1 if pd.isna(m) else int(codes.categories.get_loc(m)) for m in mood])
        vocab = sorted({g for gs in songs["genres"] for g in (gs if gs is not None else [])})
        index = {g: i for i, g in enumerate(vocab)}
        genres = np.zeros((len(songs), len(vocab)), dtype=bool)
        for row, gs in enumerate(songs["genres"]):
            for g in gs if gs is not None else []:
                genres[row, index[g]] = True
        return cls(mood_code, genres)

    def has(self, tag: str) -> np.ndarray:
        """(n,) bool: which songs carry a label of this tag type (``mood``, ``genre``, ``any``)."""
        if tag == "mood":
            return self.mood >= 0
        if tag == "genre":
            return self.genres.any(axis=1)
        if tag == "any":
            return (self.mood >= 0) | self.genres.any(axis=1)
        raise RecsysError(f"unknown tag type {tag!r}: use mood, genre or any")

    def relevant(self, query: int, items: np.ndarray, tag: str) -> np.ndarray:
        """(len(items),) bool: items sharing ``query``'s tag."""
        items = np.asarray(items, dtype=np.int64)
        same_mood = (self.mood[items] == self.mood[query]) & (self.mood[query] >= 0)
        shared_genre = (self.genres[items] & self.genres[query]).any(axis=1) if self.genres.shape[1] else np.zeros(len(items), bool)
        if tag == "mood":
            return same_mood
        if tag == "genre":
            return shared_genre
        return same_mood | shared_genre


def relevance_matrix(labels: Labels, queries: np.ndarray, ranked: np.ndarray, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(n_queries, depth) bool relevance of ranked lists (-1 = empty slot) and (n_queries,) R."""
    rel = np.zeros(ranked.shape, dtype=bool)
    n_rel = np.zeros(len(queries), dtype=np.int64)
    everyone = np.arange(len(labels.mood))
    for i, q in enumerate(queries):
        filled = ranked[i] >= 0
        rel[i, filled] = labels.relevant(int(q), ranked[i, filled], tag)
        pool = labels.relevant(int(q), everyone, tag)
        pool[q] = False
        n_rel[i] = int(pool.sum())
    return rel, n_rel


# --- candidate tables (the served ranker, vectorised over queries) -----------------------------


@dataclass(frozen=True)
class CandidateTable:
    """Per-query candidates of the served ranker, padded to one matrix so that re-ranking for
    another weight or fusion is one vectorised sort. Padding: row -1, invalid."""

    rows: np.ndarray  # (q, c) int64
    cosine: np.ndarray  # (q, c)
    bm25: np.ndarray  # (q, c) raw
    bm25_norm: np.ndarray  # (q, c)
    audio: np.ndarray  # (q, c) audio-feature cosine to the query song
    era: np.ndarray  # (q, c) era agreement with the query song
    valid: np.ndarray  # (q, c) bool

    @classmethod
    def build(
        cls, recommender: Any, queries: Sequence[int], *, allowed: np.ndarray | None = None, depth: int = 0, desc: str = "candidates"
    ) -> "CandidateTable":
        """Candidates of every query; with ``allowed`` (an (n,) song mask) only allowed songs are
        kept, and N widens (x4, as Recommender.rank does for filters) until ``depth`` remain."""
        found = []
        with progress() as bar:
            task = bar.add_task(desc, total=len(queries), info="")
            for q in queries:
                q, n = int(q), recommender.n_candidates
                while True:
                    c = recommender.candidates(recommender.query_tokens(q), recommender.embeddings[q], n, query_row=q)
                    if allowed is None:
                        break
                    keep = allowed[c.rows]
                    if keep.sum() >= depth or n >= len(allowed):
                        c = c.subset(keep)
                        break
                    n *= 4
                found.append(c)
                bar.update(task, advance=1)
        width = max([len(c.rows) for c in found] + [1])
        shape = (len(found), width)
        rows = np.full(shape, -1, dtype=np.int64)
        cosine, bm25, norm, audio, era = (np.zeros(shape) for _ in range(5))
        valid = np.zeros(shape, dtype=bool)
        for i, c in enumerate(found):
            m = len(c.rows)
            rows[i, :m], cosine[i, :m], bm25[i, :m], norm[i, :m], audio[i, :m], era[i, :m], valid[i, :m] = c.rows, c.cosine, c.bm25, c.bm25_norm, c.audio, c.era, True
        return cls(rows, cosine, bm25, norm, audio, era, valid)

    def ranked_by(self, scores: np.ndarray, k: int) -> np.ndarray:
        """(q, k) column indices of the ``k`` best ``scores`` (one per candidate), best first."""
        # Each query's candidate rows ascend, padding last: ties to the lower column are ties to
        # the lower song row, as in Recommender.rank.
        return best_indices(np.where(self.valid, scores, -np.inf), k)

    def ranked(self, k: int, *, weight: float = 0.5, audio_weight: float = 0.0, era_weight: float = 0.0, fusion: str = "linear") -> np.ndarray:
        """(q, k) indices into the columns, best first; use with :meth:`take`."""
        if fusion == "rrf":
            return self.ranked_by(rrf_scores(self.cosine, self.bm25, self.valid), k)
        return self.ranked_by(linear_scores(self.cosine, self.bm25_norm, self.audio, weight, audio_weight, self.era, era_weight), k)

    def take(self, columns: np.ndarray) -> np.ndarray:
        """Song rows at ``columns`` (-1 where a query had fewer candidates)."""
        rows = np.take_along_axis(self.rows, columns, axis=1)
        return np.where(np.take_along_axis(self.valid, columns, axis=1), rows, -1)


# --- baseline systems --------------------------------------------------------------------------

BATCH = 256


def _top_rows(scores: np.ndarray, queries: np.ndarray, depth: int, allowed: np.ndarray | None) -> np.ndarray:
    """(b, depth) best rows per query from a dense (b, n) score matrix; the query itself,
    songs outside ``allowed`` and -inf scores (songs a system cannot recommend) are left out,
    -1 fills empty slots."""
    scores = np.array(scores, dtype=np.float64)
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    scores[np.arange(len(queries)), queries] = -np.inf
    rows = best_indices(scores, depth)
    return np.where(np.isfinite(np.take_along_axis(scores, rows, axis=1)), rows, -1)


def _batched(queries: np.ndarray, depth: int, allowed: np.ndarray | None, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.concatenate(
        [_top_rows(score(queries[i : i + BATCH]), queries[i : i + BATCH], depth, allowed) for i in range(0, len(queries), BATCH)]
    )


def nearest_by_cosine(vectors: np.ndarray, queries: np.ndarray, depth: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """(q, depth) rows whose vectors have the largest inner product (the cosine, for unit rows)
    with each query's own row; the query itself and songs outside ``allowed`` left out."""
    vectors = np.asarray(vectors)
    return _batched(queries, depth, allowed, lambda q: vectors[q] @ vectors.T)


def _params(artifacts: Any) -> dict[str, Any]:
    return artifacts.manifest.get("params") or {}


def check_baseline(artifacts: Any, baseline: Any) -> None:
    """A baseline build must be a plain-encoder build of the same songs in the same order
    (its rows are read by the same row numbers) beside a tBERT build; RecsysError otherwise."""
    if _params(artifacts).get("model_kind") != "tbert":
        raise RecsysError(f"{artifacts.path}: a plain-encoder build is its own off-the-shelf baseline; drop --baseline")
    if _params(baseline).get("model_kind") == "tbert":
        raise RecsysError(f"{baseline.path}: --baseline must be a plain-encoder build (recsys index build without --model), this one holds a tBERT model")
    if baseline.pooled is None:
        raise RecsysError(f"{baseline.path}: no pooled.npy to use as the off-the-shelf baseline")
    ours, theirs = artifacts.songs["song_id"].astype(str), baseline.songs["song_id"].astype(str)
    if len(ours) != len(theirs) or not (ours.to_numpy() == theirs.to_numpy()).all():
        raise RecsysError(f"{baseline.path}: --baseline was built from other songs than {artifacts.path} (song ids differ): build both from the same catalogue")


def system_rankings(
    artifacts: Any, queries: np.ndarray, depth: int, *, seed: int = 0, allowed: np.ndarray | None = None, baseline: Any = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every system's (q, depth) ranked rows for ``queries``, and notes (coverage, labels);
    ``allowed`` restricts the songs any system may recommend. ``baseline``, a plain-encoder
    build of the same songs (see :func:`check_baseline`), supplies the off-the-shelf ``minilm``
    system when ``artifacts`` holds a tBERT model."""
    songs = artifacts.songs
    n = len(songs)
    lexical = artifacts.lexical
    recommender = Recommender(artifacts)
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    notes: dict[str, Any] = {}

    out["random"] = _batched(queries, depth, allowed, lambda q: rng.random((len(q), n)))
    tfidf = lexical.tfidf_vectors
    out["tfidf"] = _batched(queries, depth, allowed, lambda q: (tfidf[q] @ tfidf.T).toarray())
    out["bm25"] = _batched(queries, depth, allowed, lambda q: np.stack([lexical.scores(recommender.query_tokens(int(r))) for r in q]))
    is_tbert = _params(artifacts).get("model_kind") == "tbert"
    off_shelf = baseline if is_tbert else artifacts
    if off_shelf is not None and off_shelf.pooled is not None:
        out["minilm"] = nearest_by_cosine(off_shelf.pooled, queries, depth, allowed)
        notes["minilm"] = f"pooled.npy of {off_shelf.path} (plain encoder {_params(off_shelf).get('model', '(unknown)')}, off the shelf)"
    elif is_tbert:
        notes["minilm"] = "not evaluated: pass --baseline with a plain-encoder build of this catalogue"
    if is_tbert and artifacts.pooled is not None:
        out["encoder"] = nearest_by_cosine(artifacts.pooled, queries, depth, allowed)
        notes["encoder"] = f"pooled.npy of the fine-tuned tBERT encoder ({_params(artifacts).get('model')})"
    z, has_audio = recommender.audio.z, recommender.audio.has

    def audio_scores(q: np.ndarray) -> np.ndarray:
        d2 = (z[q] ** 2).sum(1)[:, None] + (z**2).sum(1)[None, :] - 2 * z[q] @ z.T
        s = -d2
        s[:, ~has_audio] = -np.inf
        s[~has_audio[q]] = -np.inf
        return s

    if has_audio.any():
        out["audio"] = _batched(queries, depth, allowed, audio_scores)
        notes["audio"] = "queries without audio get no list (score 0); songs without audio are never recommended"
    else:  # a row of zeros would read as a retriever that failed
        notes["audio"] = "not evaluated: no song has audio features"
    era = recommender.era

    def era_scores(q: np.ndarray) -> np.ndarray:
        # Many songs share a year: random tie-breaks, so catalogue order (sources, artists) says nothing.
        s = era.agreement_matrix(q) + 1e-6 * rng.random((len(q), n))
        s[:, ~era.has] = -np.inf
        s[~era.has[q]] = -np.inf
        return s

    if era.has.any():
        out["era"] = _batched(queries, depth, allowed, era_scores)
        notes["era"] = "nearest years, ties broken at random (seeded); queries without a year get no list (score 0); songs without one are never recommended"
    else:
        notes["era"] = "not evaluated: no song has a year"
    out["embedding"] = nearest_by_cosine(artifacts.embeddings, queries, depth, allowed)
    if not is_tbert:
        notes["embedding"] = "plain-encoder build: embeddings.npy is the pooled vector centred on the catalogue mean (minilm: the same vector uncentred)"
    table = CandidateTable.build(recommender, queries, allowed=allowed, depth=depth, desc="hybrid candidates")
    w, a, e = recommender.weight, recommender.audio_weight, recommender.era_weight
    out["hybrid"] = table.take(table.ranked(depth, weight=w, audio_weight=a, era_weight=e))
    notes["hybrid"] = {"w": w, "a": a, "e": e, "n_candidates": recommender.n_candidates}
    if a > 0:
        out["hybrid_no_audio"] = table.take(table.ranked(depth, weight=w, era_weight=e))
        notes["hybrid_no_audio"] = "the hybrid without its audio term (a = 0), same w, e and candidates"
    if e > 0:
        out["hybrid_no_era"] = table.take(table.ranked(depth, weight=w, audio_weight=a))
        notes["hybrid_no_era"] = "the hybrid without its era term (e = 0), same w, a and candidates"
    out["rrf"] = table.take(table.ranked(depth, fusion="rrf"))
    return out, notes


# --- the evaluation ----------------------------------------------------------------------------


def evaluate(
    artifacts: Any,
    out_dir: str | Path,
    *,
    ks: Sequence[int] = KS,
    n_boot: int = 1000,
    seed: int = 0,
    split: str = "test",
    pool: str = "all",
    baseline: Any = None,
) -> dict[str, Any]:
    """Evaluate every system on ``split`` songs per tag type; write evaluation.json,
    evaluation.md and evaluation_p10.png (precision@10 with 95% intervals) into ``out_dir``.

    ``pool="all"`` ranks every indexed song; ``pool="labelled"`` lets systems recommend only
    songs that carry the tag type being scored, which removes the bias against systems whose
    neighbours happen to come from untagged sources (real catalogues tag whole sources).
    ``baseline`` (loaded artefacts of a plain-encoder build of the same catalogue) gives a
    tBERT build its off-the-shelf ``minilm`` row.
    """
    if any(not 1 <= int(k) <= N_CANDIDATES for k in ks):
        # The hybrid ranks the N_CANDIDATES each retriever gives a query, as `recsys similar` does
        # up to k = N_CANDIDATES; deeper, the served query searches deeper too, so one candidate
        # table could not score both a deep cut-off and a shallow one as served (tune has the same bound).
        raise RecsysError(f"--k values must be between 1 and {N_CANDIDATES} (the candidates each retriever gives a query), got {list(ks)}")
    if not 1 <= n_boot <= MAX_BOOTSTRAP:
        # Each interval draws (resamples x queries) indices at once.
        raise RecsysError(f"--bootstrap must be between 1 and {MAX_BOOTSTRAP:,} resamples, got {shorten(n_boot, 12)}")
    for built in (artifacts, baseline):
        if built is not None and (within(out_dir, built.path) or within(built.path, out_dir)):
            raise RecsysError(f"{out_dir}: overlaps the artefact directory {built.path}, which a report would change or a rebuild delete; write it elsewhere")
    check_replaceable(out_dir, marker=REPORT_FILE, marker_key="results")
    ks = sorted({int(k) for k in ks} | {10})  # @10 always: MAP@10, nDCG@10 and the chart use it
    if pool not in ("all", "labelled"):
        raise RecsysError(f"unknown pool {pool!r}: use all or labelled")
    if baseline is not None:
        check_baseline(artifacts, baseline)
    songs = artifacts.songs
    labels = Labels.from_songs(songs)
    artist_keys = np.array([normalize_text(a) for a in songs["artist"]], dtype=object)
    queries = np.flatnonzero(in_split(songs, split) & labels.has("any"))
    if len(queries) == 0:
        raise RecsysError(f"{artifacts.path}: no {split}-split song has a mood or genre label: nothing to evaluate")
    depth = max(ks)
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    rankings: dict[str, np.ndarray] = {}
    served = Recommender(artifacts)
    has_audio, has_year = served.audio.has, served.era.has
    per_tag_p10: dict[str, dict[str, np.ndarray]] = {}
    per_tag_queries: dict[str, np.ndarray] = {}
    for tag in TAGS:
        mask = labels.has(tag)[queries]
        if not mask.any():
            continue
        tag_queries = queries[mask]
        if pool == "labelled":
            rankings, notes = system_rankings(artifacts, tag_queries, depth, seed=seed, allowed=labels.has(tag), baseline=baseline)
        elif not rankings:
            rankings, notes = system_rankings(artifacts, queries, depth, seed=seed, baseline=baseline)
        results[tag] = {"n_queries": int(mask.sum()), "queries_with_audio": float(has_audio[tag_queries].mean()),
                        "queries_with_year": float(has_year[tag_queries].mean()), "systems": {}}
        per_query_p10: dict[str, np.ndarray] = {}
        for name, ranked in rankings.items():
            tag_ranked = ranked if pool == "labelled" else ranked[mask]
            rel, n_rel = relevance_matrix(labels, tag_queries, tag_ranked, tag)
            per_query_p10[name] = precision_at_k(rel, 10)
            metrics: dict[str, Any] = {}
            for k in ks:
                metrics[f"precision@{k}"] = bootstrap_ci(precision_at_k(rel, k), n_boot=n_boot, seed=seed)
            metrics["map@10"] = bootstrap_ci(average_precision_at_k(rel, n_rel, 10), n_boot=n_boot, seed=seed)
            metrics["ndcg@10"] = bootstrap_ci(ndcg_at_k(rel, n_rel, 10), n_boot=n_boot, seed=seed)
            metrics["same-artist@10"] = bootstrap_ci(same_artist_at_k(tag_ranked, tag_queries, artist_keys, 10), n_boot=n_boot, seed=seed)
            metrics["with-audio@10"] = bootstrap_ci(share_at_k(tag_ranked, has_audio, 10), n_boot=n_boot, seed=seed)
            metrics["with-year@10"] = bootstrap_ci(share_at_k(tag_ranked, has_year, 10), n_boot=n_boot, seed=seed)
            results[tag]["systems"][name] = {m: as_interval(v) for m, v in metrics.items()}
        results[tag]["hybrid_minus"] = paired_differences(per_query_p10, "hybrid", n_boot=n_boot, seed=seed)
        per_tag_p10[tag], per_tag_queries[tag] = per_query_p10, tag_queries
    warnings = [artifacts.split_warning] if artifacts.split_warning else []
    tuning = artifacts.manifest.get("tuning")
    if tuning is None:
        warnings.append(f"the artefacts were never tuned: the hybrid runs at the default w = {artifacts.blend_weight:g}, a = {artifacts.audio_weight:g}, "
                        f"e = {artifacts.era_weight:g}; run recsys tune first")
    elif tuning.get("split") == split:
        warnings.append(f"the weights were tuned on the {split} songs evaluated here, so the hybrid's scores are optimistic; tune on val")
    few = [f"{tag} {block['n_queries']}" for tag, block in results.items() if block["n_queries"] < FEW_QUERIES]
    if few:
        warnings.append(f"under {FEW_QUERIES} queries ({', '.join(few)}): the means and intervals are rough")
    report = {
        "artifacts": str(artifacts.path), "baseline": str(baseline.path) if baseline is not None else None, "split": split, "pool": pool, "n_songs": len(songs), "n_queries": int(len(queries)),
        "ks": ks, "bootstrap": n_boot, "seed": seed, "seconds": round(time.perf_counter() - t0, 2),
        "notes": notes, "warnings": warnings, "results": results, "balanced": balanced_precision(per_tag_p10, per_tag_queries, n_boot=n_boot, seed=seed),
        "head_probabilities": head_probabilities(songs, _params(artifacts), split),
    }
    # One directory, renamed into place whole: a failure never leaves a new table beside an old chart.
    with atomic_path(out_dir, marker=REPORT_FILE, marker_key="results") as tmp:
        tmp.mkdir()
        write_json(tmp / REPORT_FILE, report)
        (tmp / "evaluation.md").write_text(markdown_report(report), encoding="utf-8")
        plot_report(report, tmp / "evaluation_p10.png")
    return report


def head_probabilities(songs: pd.DataFrame, params: dict[str, Any], split: str) -> dict[str, Any]:
    """How the head probabilities that ``recsys similar --explain`` shows compare with the tags of
    the ``split`` songs: per class, how many songs carry it, their observed share and the mean
    predicted probability, plus the Brier score (mood: the squared error summed over classes,
    averaged over songs; genre: averaged over songs and genres), and how well the labels the
    ``--mood`` and ``--genre`` filters predict for untagged songs match these songs' tags (mood:
    the share predicted right; genre: the share of predicted genres that are tags, and of tags
    predicted). Empty for a plain-encoder build."""
    split_rows = in_split(songs, split)
    out: dict[str, Any] = {}
    for task, column, vocab_key in (("mood", "mood_probs", "mood_labels"), ("genre", "genre_probs", "genre_labels")):
        vocab = list(params.get(vocab_key) or [])
        if not vocab:
            continue
        index = {c: i for i, c in enumerate(vocab)}
        tag_lists = songs["mood"].map(lambda m: [m] if isinstance(m, str) else []) if task == "mood" else songs["genres"]
        truth = np.zeros((len(songs), len(vocab)), dtype=bool)
        for row, tags in enumerate(tag_lists):
            for tag in tags if tags is not None else []:
                if tag in index:
                    truth[row, index[tag]] = True
        rows = np.flatnonzero(split_rows & truth.any(axis=1) & (songs[column].map(len).to_numpy() == len(vocab)))
        if len(rows) == 0:
            continue
        probs = np.stack(songs[column].to_numpy()[rows]).astype(np.float64)
        y = truth[rows]
        squared = (probs - y) ** 2
        by_label = [dict(zip(vocab, map(float, p))) for p in probs]
        predicted = np.zeros_like(y)
        for i, song in enumerate(by_label):
            for label in [most_probable_mood(song)] if task == "mood" else likely_genres(song):
                predicted[i, index[label]] = True
        hits = int((predicted & y).sum())
        out[task] = {
            "n_songs": int(len(rows)),
            "brier": float(squared.sum(axis=1).mean() if task == "mood" else squared.mean()),
            "classes": {c: {"songs": int(y[:, i].sum()), "observed": float(y[:, i].mean()), "predicted": float(probs[:, i].mean())} for i, c in enumerate(vocab)},
            "filter_labels": {"precision": hits / max(int(predicted.sum()), 1), "recall": hits / max(int(y.sum()), 1)},
        }
    return out


def balanced_precision(
    per_tag: dict[str, dict[str, np.ndarray]], query_songs: dict[str, np.ndarray], *, n_boot: int, seed: int
) -> dict[str, Any]:
    """Precision@10 averaged over the tag types (the mean of the mood and the genre figure, as
    ``recsys tune``'s balanced objective weighs them) for every system, and the hybrid minus each
    system, paired. ``query_songs[tag]`` are the song rows behind ``per_tag[tag]``'s values: the
    intervals resample songs, so a song's mood and genre results stay together. Empty unless both
    tag types have queries."""
    if set(per_tag) != set(TAGS):
        return {}
    names = [name for name in per_tag[TAGS[0]] if all(name in per_tag[tag] for tag in TAGS)]

    def interval(values_of: Callable[[str], np.ndarray]) -> dict[str, float]:
        per_song = [(query_songs[tag], values_of(tag)) for tag in TAGS]
        return as_interval(tag_balanced_bootstrap_ci(per_song, n_boot=n_boot, seed=seed))

    out: dict[str, Any] = {"systems": {name: interval(lambda tag: per_tag[tag][name]) for name in names}}
    if "hybrid" in names:
        out["hybrid_minus"] = {
            name: interval(lambda tag: per_tag[tag]["hybrid"] - per_tag[tag][name]) for name in names if name != "hybrid"
        }
    return out


def paired_differences(per_query: dict[str, np.ndarray], reference: str, *, n_boot: int, seed: int) -> dict[str, Any]:
    """``reference`` minus every other system, per query on the same queries: the mean difference
    and its bootstrap 95% interval (resampling queries, so the pairing is kept). An interval
    that excludes 0 is a difference the query sample supports; overlapping per-system intervals
    say much less."""
    if reference not in per_query:
        return {}
    out = {}
    for name, values in per_query.items():
        if name != reference:
            out[name] = as_interval(bootstrap_ci(per_query[reference] - values, n_boot=n_boot, seed=seed))
    return out


# What a reader of evaluation.md needs beside the numbers (the module docstring says it at length).
READING_GUIDE = """How to read this:
- Queries: the {n_queries} {split}-split songs carrying a mood or a genre label; each section scores the ones carrying that tag type, on labels no training or tuning saw.
- Pool: {pool}
- Systems: random (seeded); tfidf (cosine of the lyrics' TF-IDF vectors); bm25 (the query song's own terms); minilm, encoder, audio, era and hybrid as noted above; embedding (cosine of the build's song embeddings); rrf (reciprocal-rank fusion of the cosine's and BM25's ranks over the hybrid's candidates).
- Metrics: precision@k is the share of the top k sharing the query's tag (a song without that tag type counts as not sharing it); map@10 and ndcg@10 use the same binary relevance; same-artist@10 is the share of the top 10 by the query's own artist; with-audio@10 and with-year@10 the shares that have audio features and a year (a system giving a query no list scores 0 for them).
- evaluation.json holds the same figures; evaluation_p10.png charts precision@10."""
POOL_MEANING = {
    "all": "all: every indexed song is a candidate.",
    "labelled": "labelled: only songs carrying the scored tag type are candidates (condensed lists), for comparing systems rather than absolute precision.",
}


def _note_value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown_report(report: dict[str, Any]) -> str:
    """One table per tag type: every metric as mean [low, high]."""
    lines = [f"# Offline evaluation ({report['split']} split, {report['n_queries']} queries, {report['n_songs']} songs, pool: {report['pool']})", ""]
    lines.append(f"Bootstrap {report['bootstrap']} resamples over queries, seed {report['seed']}; 95% intervals in brackets.")
    lines += [f"- **warning**: {warning}" for warning in report["warnings"]]
    for name, note in report["notes"].items():
        lines.append(f"- {name}: {note if isinstance(note, str) else ', '.join(f'{k} = {_note_value(v)}' for k, v in sorted(note.items()))}")
    lines += ["", *READING_GUIDE.format(n_queries=report["n_queries"], split=report["split"], pool=POOL_MEANING[report["pool"]]).splitlines()]
    for tag, block in report["results"].items():
        systems = block["systems"]
        metrics = list(next(iter(systems.values())))
        lines += ["", f"## {tag} ({block['n_queries']} queries, {block['queries_with_audio']:.0%} with audio features, {block['queries_with_year']:.0%} with a year)", "", "| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for system, values in systems.items():
            cells = [interval_text(values[m]) for m in metrics]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        diffs = block.get("hybrid_minus") or {}
        if diffs:
            lines += ["", "Hybrid minus each system, precision@10, paired over the same queries (mean [95% interval]):", ""]
            lines += ["| " + " | ".join(diffs) + " |", "|---" * len(diffs) + "|"]
            lines.append("| " + " | ".join(interval_text(d, signed=True) for d in diffs.values()) + " |")
    balanced = report.get("balanced") or {}
    if balanced:
        lines += ["", "## Balanced precision@10 (the mean of the mood and genre figures, as tuning weighs them)", "",
                  "| system | precision@10 | hybrid minus system, paired |", "|---|---|---|"]
        minus = balanced.get("hybrid_minus", {})
        for system, v in balanced["systems"].items():
            paired = interval_text(minus[system], signed=True) if system in minus else ""
            lines.append(f"| {system} | {interval_text(v)} | {paired} |")
    for task, block in report.get("head_probabilities", {}).items():
        lines += ["", f"## {task} probabilities shown by --explain ({block['n_songs']} {report['split']} songs, Brier {block['brier']:.3f})", ""]
        lines += ["| class | songs | observed share | mean predicted |", "|---|---|---|---|"]
        lines += [f"| {c} | {v['songs']} | {v['observed']:.3f} | {v['predicted']:.3f} |" for c, v in block["classes"].items()]
        labels = block.get("filter_labels")
        if labels and task == "mood":
            lines += ["", f"`--mood` takes the most probable mood for an untagged song: on these songs it is the tagged mood for {labels['precision']:.1%}."]
        elif labels:
            lines += ["", f"`--genre` takes the genres at probability {GENRE_EVEN_ODDS} or more for an untagged song: on these songs {labels['precision']:.1%} "
                      f"of them are tags, and they name {labels['recall']:.1%} of the tags."]
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], path: Path, metric: str = "precision@10") -> None:
    """Bars of ``metric`` per system, grouped by tag type, with 95% interval error bars."""
    plt = pyplot()

    tags = [t for t in report["results"] if metric in next(iter(report["results"][t]["systems"].values()))]
    systems = list(next(iter(report["results"].values()))["systems"]) if tags else []
    fig, ax = plt.subplots(figsize=(max(6, len(systems) * 0.9), 4))
    width = 0.8 / max(len(tags), 1)
    for i, tag in enumerate(tags):
        vals = [report["results"][tag]["systems"][s][metric] for s in systems]
        mean = np.array([v["mean"] for v in vals])
        # A percentile interval from very few resamples can miss the mean; matplotlib refuses negative bars.
        err = np.clip(np.array([[v["mean"] - v["low"] for v in vals], [v["high"] - v["mean"] for v in vals]]), 0.0, None)
        ax.bar(np.arange(len(systems)) + i * width, mean, width, yerr=err, capsize=3, label=tag)
    ax.set_xticks(np.arange(len(systems)) + width * (len(tags) - 1) / 2, systems, rotation=30)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} on the {report['split']} split (95% bootstrap intervals)")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
