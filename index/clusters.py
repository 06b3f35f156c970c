"""Song clusters: UMAP to a few dimensions, K-Means over a range of k, a documented choice of k,
keywords per cluster and the plots that justify the choice.

Rule for k: the highest silhouette wins; k values whose silhouette is within ``tie`` (0.01)
of the best count as tied, and among those the one nearest the elbow of the distortion curve
(the point farthest from the chord joining its ends, on min-max scaled axes) is chosen.

Keywords are the terms that most set a cluster's lyrics apart from the catalogue's: each term's
share of the cluster's tokens times the log of how much more often the cluster uses it than the
catalogue does (its term of the KL divergence between the two word distributions), among terms
in at least 2% of the cluster's songs. A word every cluster uses as often ("know") scores 0.
The tokenizer drops English function words only, so a cluster of Spanish songs would be described
by "que, de, el": a term is passed over where most of the cluster's songs that use it are written
in a language whose function words include it (bm25s's stop-word lists; a song's language is the
list that covers the largest share of its tokens, at least a fifth and with three different
words). "come" stays in an English cluster though Italian lists it: the songs that use it there
are English.
BERTopic's class-TF-IDF, which weighs a term's share by log(1 + average tokens per cluster / the
term's total count), let the commonest lyric words lead every cluster of a few large ones.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from recsys.errors import RecsysError
from recsys.io import pyplot, save_figure
from recsys.progress import progress as progress_bar
from recsys.text import tokenize

UNLABELLED = "unlabelled"


@dataclass(frozen=True)
class Clusters:
    """Cluster labels and the evidence behind them; row i = song i of the input."""

    labels: np.ndarray  # (n,) int64
    k: int
    table: list[dict[str, float]]  # per k: k, distortion (K-Means inertia), silhouette
    keywords: dict[int, list[str]]
    coords_2d: np.ndarray  # (n, 2) float32 UMAP for the scatter plots
    sizes: dict[int, int]
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "chosen_k": self.k,
            "rule": "highest silhouette; ties within params.tie broken by the distortion elbow",
            "grid": self.table,
            "keywords": {str(c): words for c, words in self.keywords.items()},
            "sizes": {str(c): n for c, n in self.sizes.items()},
            "params": self.params,
        }


def _umap(vectors: np.ndarray, dims: int, n_neighbors: int, min_dist: float, seed: int) -> np.ndarray:
    import umap

    reducer = umap.UMAP(
        n_components=dims, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
        n_jobs=1,  # a seed forces one thread anyway; saying so silences UMAP's warning
        init="spectral" if len(vectors) > dims + 2 else "random",
    )
    return np.asarray(reducer.fit_transform(vectors), dtype=np.float32)


def elbow(ks: Sequence[int], distortion: Sequence[float]) -> int:
    """The k farthest from the straight line between the curve's first and last points."""
    x = np.asarray(ks, dtype=float)
    y = np.asarray(distortion, dtype=float)
    if len(x) < 3:
        return int(x[0])
    x = (x - x.min()) / max(np.ptp(x), 1e-12)
    y = (y - y.min()) / max(np.ptp(y), 1e-12)
    # Distance below the chord: the decreasing curve bends under it at the elbow.
    chord = y[0] + (y[-1] - y[0]) * (x - x[0]) / (x[-1] - x[0])
    return int(ks[int(np.argmax(chord - y))])


def choose_k(table: list[dict[str, float]], tie: float = 0.01) -> int:
    """Apply the module's rule to a per-k table."""
    best = max(row["silhouette"] for row in table)
    tied = [int(row["k"]) for row in table if row["silhouette"] >= best - tie]
    knee = elbow([int(r["k"]) for r in table], [r["distortion"] for r in table])
    return min(tied, key=lambda k: (abs(k - knee), k))


@functools.cache
def function_words() -> dict[str, frozenset[str]]:
    """Each non-English language's function words as the lyric tokenizer writes them ("él" as
    "el"). A word the tokenizer splits (Chinese "我们" gives three tokens) is left out rather
    than letting its characters pass for function words."""
    import bm25s.stopwords

    lists = {
        name.removeprefix("STOPWORDS_").lower(): getattr(bm25s.stopwords, name)
        for name in dir(bm25s.stopwords)
        if name.startswith("STOPWORDS_") and not name.startswith("STOPWORDS_EN")
    }
    words = {language: frozenset(t[0] for t in map(tokenize, words) if len(t) == 1) for language, words in lists.items()}
    return {language: found for language, found in words.items() if found}


def song_language(tokens: Sequence[str], min_share: float = 0.2, min_distinct: int = 3) -> str | None:
    """The language whose function words make the largest share of ``tokens``, if that share is at
    least ``min_share`` and they are ``min_distinct`` different words (an English chorus of "come"
    is no Italian); None for English songs (their function words are no tokens) and mixtures."""
    counts = Counter(tokens)
    found = {language: words.intersection(counts) for language, words in function_words().items()}
    shares = {language: sum(counts[t] for t in used) for language, used in found.items()}
    language = max(shares, key=lambda name: (shares[name], name))
    if shares[language] < max(min_share * len(tokens), 1) or len(found[language]) < min_distinct:
        return None
    return language


def cluster_keywords(
    token_lists: Sequence[Sequence[str]], labels: np.ndarray, n_words: int = 8, min_song_share: float = 0.02
) -> dict[int, list[str]]:
    """Each cluster's ``n_words`` most distinctive terms (module docstring), best first; a term
    must be in ``min_song_share`` of the cluster's songs, used more there than overall, and not a
    function word of the language most of the cluster's songs that use it are in."""
    counts: dict[int, Counter[str]] = {}
    songs_with: dict[int, Counter[str]] = {}
    function_word_uses: dict[int, Counter[str]] = {}  # songs using the term as a function word of their language
    for tokens, label in zip(token_lists, labels):
        counts.setdefault(int(label), Counter()).update(tokens)
        songs_with.setdefault(int(label), Counter()).update(set(tokens))
        language = song_language(tokens)
        own = function_words()[language].intersection(tokens) if language else ()
        function_word_uses.setdefault(int(label), Counter()).update(own)
    totals: Counter[str] = Counter()
    for cluster_counts in counts.values():
        totals.update(cluster_counts)
    n_tokens = max(sum(totals.values()), 1)
    sizes = Counter(int(label) for label in labels)
    out: dict[int, list[str]] = {}
    for label in sorted(counts):
        cluster_tokens = max(sum(counts[label].values()), 1)
        min_songs = max(1, math.ceil(min_song_share * sizes[label]))
        score = {}
        for term, n in counts[label].items():
            share = n / cluster_tokens
            lift = share / (totals[term] / n_tokens)
            users = songs_with[label][term]
            if lift > 1 and users >= min_songs and 2 * function_word_uses[label][term] <= users:
                score[term] = share * math.log(lift)
        out[label] = [t for t, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:n_words]]
    return out


def check_k_range(k_range: tuple[int, int]) -> None:
    """RecsysError unless ``2 <= low <= high`` (the build checks it before embedding)."""
    lo, hi = k_range
    if lo < 2 or hi < lo:
        raise RecsysError(f"k range must satisfy 2 <= low <= high, got {lo}..{hi}")


def cluster_songs(
    vectors: np.ndarray,
    token_lists: Sequence[Sequence[str]],
    *,
    k_range: tuple[int, int] = (4, 20),
    umap_dims: int = 10,
    n_neighbors: int = 15,
    n_init: int = 10,
    seed: int = 0,
    silhouette_sample: int = 2000,
    tie: float = 0.01,
    n_keywords: int = 8,
    progress: bool = True,
) -> Clusters:
    """UMAP ``vectors`` to ``umap_dims``, K-Means for every k in ``k_range`` (inclusive), pick k.
    The same inputs and seed give the same labels."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    check_k_range(k_range)
    lo, hi = k_range
    if n < max(lo + 1, 4):
        raise RecsysError(f"clustering needs at least {max(lo + 1, 4)} songs, got {n}")
    if len(token_lists) != n:
        raise RecsysError(f"clusters: {n} vectors but {len(token_lists)} token lists")
    hi = min(hi, n - 1)
    neighbors = max(2, min(n_neighbors, n - 1))
    table: list[dict[str, float]] = []
    fits: dict[int, np.ndarray] = {}
    with progress_bar(disable=None if progress else True) as bar:
        # Steps: the two UMAP runs (seconds each, no progress of their own) and one K-Means per k.
        task = bar.add_task("clustering", total=hi - lo + 3, info=f"UMAP to {umap_dims}-D")
        # min_dist 0 packs neighbours tightly, which suits clustering; the 2-D view keeps 0.1 for legibility.
        reduced = _umap(vectors, umap_dims, neighbors, 0.0, seed)
        bar.update(task, advance=1)
        for k in range(lo, hi + 1):
            km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(reduced)
            sil = silhouette_score(reduced, km.labels_, sample_size=min(n, silhouette_sample), random_state=seed)
            table.append({"k": k, "distortion": float(km.inertia_), "silhouette": float(sil)})
            fits[k] = km.labels_.astype(np.int64)
            bar.update(task, advance=1, info=f"k={k} silhouette {sil:.3f}")
        k = choose_k(table, tie)
        labels = fits[k]
        bar.update(task, info=f"chose k={k}; UMAP to 2-D for the plots")
        coords = _umap(vectors, 2, neighbors, 0.1, seed)
        bar.update(task, advance=1)
    return Clusters(
        labels=labels,
        k=k,
        table=table,
        keywords=cluster_keywords(token_lists, labels, n_keywords),
        coords_2d=coords,
        sizes={int(c): int(m) for c, m in zip(*np.unique(labels, return_counts=True))},
        params={"k_range": [lo, hi], "umap_dims": umap_dims, "n_neighbors": neighbors, "n_init": n_init,
                "seed": seed, "silhouette_sample": silhouette_sample, "tie": tie,
                "keyword_function_words": "bm25s.stopwords, every language but English"},
    )


def save_plots(clusters: Clusters, moods: Sequence[str | None], out_dir: str | Path) -> list[Path]:
    """k-selection curves, and the 2-D UMAP coloured by cluster and by mood; PNGs in ``out_dir``."""
    plt = pyplot()

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ks = [r["k"] for r in clusters.table]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(ks, [r["distortion"] for r in clusters.table], marker="o")
    ax1.set(title="Distortion (K-Means inertia)", xlabel="k", ylabel="inertia")
    ax2.plot(ks, [r["silhouette"] for r in clusters.table], marker="o", color="tab:green")
    ax2.set(title="Silhouette (sampled)", xlabel="k", ylabel="silhouette")
    for ax in (ax1, ax2):
        ax.axvline(clusters.k, color="grey", linestyle="--", label=f"chosen k={clusters.k}")
        ax.legend()
    paths = [out / "k_selection.png"]
    fig.tight_layout()
    save_figure(fig, paths[0])

    xy = clusters.coords_2d
    fig, ax = plt.subplots(figsize=(7, 6))
    points = ax.scatter(xy[:, 0], xy[:, 1], c=clusters.labels, cmap="tab20", s=4)
    ax.legend(*points.legend_elements(), title="cluster", fontsize="small", markerscale=0.8, loc="best")
    ax.set(title=f"Songs by cluster (UMAP 2-D, k={clusters.k})", xticks=[], yticks=[])
    paths.append(out / "umap_clusters.png")
    save_figure(fig, paths[-1])

    names = np.array([m if isinstance(m, str) and m else UNLABELLED for m in moods], dtype=object)
    fig, ax = plt.subplots(figsize=(7, 6))
    unl = names == UNLABELLED
    ax.scatter(xy[unl, 0], xy[unl, 1], c="lightgrey", s=3, label=UNLABELLED)
    for mood in sorted(set(names[~unl])):
        sel = names == mood
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, label=mood)
    ax.legend(title="mood", fontsize="small", markerscale=2)
    ax.set(title="Songs by mood label (UMAP 2-D)", xticks=[], yticks=[])
    paths.append(out / "umap_moods.png")
    save_figure(fig, paths[-1])
    return paths
