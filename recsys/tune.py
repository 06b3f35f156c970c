"""Tuning the hybrid's weights by golden-section search on validation precision@k.

Three weights, one after the other (``recsys.recommend`` has the formula): first the blend
weight ``w`` of the embedding cosine against BM25, with the audio and era terms off; then, at
that ``w``, the audio weight ``a`` in [0, 1]; then, at both, the era weight ``e`` in [0, 1]. Each
search is checked against a 21-point grid in the same run, and the grid's point is kept only
when it is strictly better.

The objective is precision@k on validation songs, relevance being a shared held-out tag
(``recsys.evaluate.Labels``). ``balanced`` (the default) is the mean of mood precision@k over
the songs with a mood and genre precision@k over the songs with genres, so each tag type counts
equally; ``any`` counts a song relevant when it shares either, which lets genre (more songs,
broader labels) dominate; ``mood`` or ``genre`` tunes for one. Candidates and every signal are
computed once per query; each evaluation is then a vectorised re-sort, milliseconds each.

The pool is the songs a query may be recommended, as in ``recsys evaluate``. ``labelled`` (the
default) ranks, for each tag type, only the songs carrying that type: in real catalogues whole
sources go untagged, and the songs with audio features or a year are mostly the tagged ones, so
over ``all`` songs a term would be rewarded for pulling tagged songs into the top k (counted
right more often because the others can never count) rather than for finding songs that share
the tag. ``all`` ranks every song, as the served query does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from recsys.artifacts import DEFAULT_AUDIO_WEIGHT, DEFAULT_BLEND_WEIGHT, DEFAULT_ERA_WEIGHT
from recsys.errors import RecsysError, check_counts
from recsys.io import atomic_path, check_writable, interrupts_held, json_text, pyplot, save_figure, sha256_file

TUNE_TAGS = ("balanced", "any", "mood", "genre")
POOLS = ("labelled", "all")

INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618...: the golden ratio's inverse


def golden_section(
    f: Callable[[float], float], lo: float = 0.0, hi: float = 1.0, tol: float = 1e-3, max_iter: int = 100
) -> tuple[float, float, list[tuple[float, float]]]:
    """Maximise a unimodal ``f`` on ``[lo, hi]``: (x_best, f_best, trace of (x, f(x)) evaluations).

    Each step keeps the golden-ratio split of the bracket, so one of the two interior points is
    reused and each iteration costs one evaluation; the bracket shrinks by 0.618 per step until
    it is narrower than ``tol`` or ``max_iter`` steps ran. Ties keep the left part, so a flat
    objective (a plateau of equal precision) converges to its lower end deterministically.
    """
    if not hi > lo:
        raise RecsysError(f"golden_section needs lo < hi, got [{lo}, {hi}]")
    trace: list[tuple[float, float]] = []

    def evaluate(x: float) -> float:
        value = float(f(x))
        trace.append((x, value))
        return value

    a, b = lo, hi
    c, d = b - INV_PHI * (b - a), a + INV_PHI * (b - a)
    fc, fd = evaluate(c), evaluate(d)
    for _ in range(max_iter):
        if b - a <= tol:
            break
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - INV_PHI * (b - a)
            fc = evaluate(c)
        else:
            a, c, fc = c, d, fd
            d = a + INV_PHI * (b - a)
            fd = evaluate(d)
    x_best, f_best = max(trace, key=lambda p: (p[1], -p[0]))
    return x_best, f_best, trace


@dataclass
class WeightSearch:
    """One weight's golden-section search on [0, 1] and the 21-point grid that checks it."""

    chosen: float
    precision: float
    golden: float
    golden_precision: float
    grid_best: float  # the grid's best point (ties to the lower weight) and its precision
    grid_best_precision: float
    chosen_by: str  # golden-section; grid when the grid found a strictly better point; default when flat
    trace: list[tuple[float, float]]
    grid: list[tuple[float, float]]

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("trace")
        data.pop("grid")
        data["evaluations"] = len(self.trace)
        return data


def search_weight(objective: Callable[[float], float], tol: float = 1e-3, *, default: float) -> WeightSearch:
    """Golden-section search of ``objective`` on [0, 1], checked against a 21-point grid;
    ``default``, the weight an untuned build uses, when no grid point scores differently."""
    golden_x, golden_p, trace = golden_section(objective, 0.0, 1.0, tol=tol)
    grid = [(round(float(x), 2), objective(float(x))) for x in np.linspace(0.0, 1.0, 21)]
    grid_x, grid_p = max(grid, key=lambda p: (p[1], -p[0]))
    if grid_p - min(p for _, p in grid) < 1e-12:
        # A flat objective (one genre on every song, say): golden-section's end of the interval
        # would be a weight that nothing chose, so the untuned default stays.
        chosen, precision, chosen_by = default, objective(default), "default"
    elif grid_p > golden_p + 1e-12:
        # A strictly better grid point means the objective is not unimodal: the grid is the honest choice.
        chosen, precision, chosen_by = grid_x, grid_p, "grid"
    else:
        chosen, precision, chosen_by = golden_x, golden_p, "golden-section"
    return WeightSearch(float(chosen), float(precision), float(golden_x), float(golden_p), float(grid_x), float(grid_p), chosen_by, trace, grid)


@dataclass
class TuneResult:
    """The tuned weights and the evidence: the searches, and the RRF reference."""

    blend: WeightSearch  # w, with the audio and era terms off
    audio: WeightSearch | None  # a at the chosen w; None when not tuned
    era: WeightSearch | None  # e at the chosen w and a; None when not tuned
    rrf_precision: float
    k: int
    tag: str
    split: str
    pool: str
    n_queries: int
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def w(self) -> float:
        return self.blend.chosen

    @property
    def audio_weight(self) -> float:
        return self.audio.chosen if self.audio is not None else 0.0

    @property
    def era_weight(self) -> float:
        return self.era.chosen if self.era is not None else 0.0

    @property
    def searches(self) -> list[tuple[str, WeightSearch]]:
        """The searches that ran, in order, by name."""
        return [(name, s) for name, s in (("blend", self.blend), ("audio", self.audio), ("era", self.era)) if s is not None]

    @property
    def precision(self) -> float:
        """The objective at the stored weights."""
        return self.searches[-1][1].precision

    def summary(self) -> dict[str, Any]:
        """What goes into the manifest's ``tuning`` field."""
        return {
            "w": self.w, "audio_weight": self.audio_weight, "era_weight": self.era_weight, "precision": self.precision,
            **{name: s.summary() if s is not None else None for name, s in (("blend", self.blend), ("audio", self.audio), ("era", self.era))},
            "rrf_precision": self.rrf_precision, "k": self.k, "tag": self.tag, "split": self.split, "pool": self.pool,
            "n_queries": self.n_queries, "files": self.files,
        }


def tuning_queries(songs: Any, labels: Any, split: str, tag: str, n_queries: int | None, seed: int) -> np.ndarray:
    """Rows of ``split`` songs carrying ``tag`` (any tag for ``balanced``); a seeded sample of
    ``n_queries`` of them if set."""
    from recsys.catalog import in_split
    from recsys.schema import SPLITS

    if split not in SPLITS:
        raise RecsysError(f"unknown split {split!r}: choose {', '.join(SPLITS)}")

    carried = labels.has("any" if tag == "balanced" else tag)
    rows = np.flatnonzero(in_split(songs, split) & carried)
    if len(rows) == 0:
        raise RecsysError(f"no {split}-split songs carry a {tag} label: nothing to tune on")
    if n_queries is not None and n_queries < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=n_queries, replace=False))
    return rows


def tune_blend(
    artifacts: Any,
    *,
    k: int = 10,
    split: str = "val",
    tag: str = "balanced",
    pool: str = "labelled",
    n_queries: int | None = None,
    seed: int = 0,
    tol: float = 1e-3,
    audio: bool = True,
    era: bool = True,
    save: bool = True,
) -> TuneResult:
    """Tune ``w``, then (with ``audio``, when some query song has audio) ``a``, then (with
    ``era``, when some query song has a year) ``e``, for precision@k on ``split`` songs in
    ``pool``; save the traces, the plot and the weights in the manifest."""
    from recsys.evaluate import FEW_QUERIES, CandidateTable, Labels, relevance_matrix
    from recsys.recommend import Recommender

    check_counts(("k", k), ("--n-queries", n_queries))
    if tag not in TUNE_TAGS:
        raise RecsysError(f"unknown tag {tag!r}: use {', '.join(TUNE_TAGS)}")
    if pool not in POOLS:
        raise RecsysError(f"unknown pool {pool!r}: use {', '.join(POOLS)}")
    if save:
        check_writable(artifacts.path)  # before the candidates' seconds
    recommender = Recommender(artifacts)
    if k > recommender.n_candidates:
        # Past the candidates each retriever gives, every weight ranks the same songs: the search
        # would store a weight chosen by nothing.
        raise RecsysError(f"k = {k} exceeds the {recommender.n_candidates} candidates each retriever gives a query; tune for k up to {recommender.n_candidates}")
    labels = Labels.from_songs(artifacts.songs)
    queries = tuning_queries(artifacts.songs, labels, split, tag, n_queries, seed)
    # Each tag type's queries, their candidates and the relevance of every candidate, once; a
    # weight then only reorders columns.
    types = [t for t in (("mood", "genre") if tag == "balanced" else (tag,)) if labels.has(t)[queries].any()]
    if pool == "all":
        shared = CandidateTable.build(recommender, queries, desc="tuning candidates")
        tables = [(t, queries, shared, labels.has(t)[queries]) for t in types]
    else:
        tables = []
        for t in types:
            carrying = queries[labels.has(t)[queries]]
            table = CandidateTable.build(recommender, carrying, allowed=labels.has(t), depth=k, desc=f"tuning candidates ({t})")
            tables.append((t, carrying, table, np.ones(len(carrying), bool)))
    scored = [(table, relevance_matrix(labels, q, table.rows, t)[0] & table.valid, counts) for t, q, table, counts in tables]

    def precision(w: float, a: float = 0.0, e: float = 0.0, fusion: str = "linear") -> float:
        return float(np.mean([
            np.take_along_axis(rel, table.ranked(k, weight=w, audio_weight=a, era_weight=e, fusion=fusion), axis=1)[counts].sum(axis=1).mean() / k
            for table, rel, counts in scored
        ]))

    blend = search_weight(precision, tol, default=DEFAULT_BLEND_WEIGHT)
    tune_audio = audio and bool(recommender.audio.has[queries].any())
    audio_search = search_weight(lambda a: precision(blend.chosen, a), tol, default=DEFAULT_AUDIO_WEIGHT) if tune_audio else None
    a = audio_search.chosen if audio_search is not None else 0.0
    tune_era = era and bool(recommender.era.has[queries].any())
    era_search = search_weight(lambda e: precision(blend.chosen, a, e), tol, default=DEFAULT_ERA_WEIGHT) if tune_era else None
    warnings = [artifacts.split_warning] if artifacts.split_warning else []
    if len(queries) < FEW_QUERIES:
        warnings.append(f"only {len(queries)} {split}-split queries: the tuned weights rest on few songs")
    for name, search in (("w", blend), ("a", audio_search), ("e", era_search)):
        if search is not None and search.chosen_by == "default":
            warnings.append(f"every {name} on the grid scores the same precision@{k} ({search.grid[0][1]:.4f}) on these songs: "
                            f"nothing to tune, so {name} keeps its default {search.chosen:g}")
    result = TuneResult(
        blend=blend, audio=audio_search, era=era_search, rrf_precision=precision(0.0, fusion="rrf"), k=k, tag=tag, split=split, pool=pool,
        n_queries=len(queries), warnings=warnings,
    )
    if save:
        _save(artifacts.path, result, artifacts.manifest)
    return result


def _save(directory: Path, result: TuneResult, of_build: dict[str, Any]) -> None:
    from recsys.artifacts import update_manifest

    directory = Path(directory)
    trace_path, plot_path = directory / "tuning.json", directory / "plots" / "tuning.png"
    result.files = {"trace": trace_path.name, "plot": f"plots/{plot_path.name}"}
    traces = {name: {"trace": s.trace, "grid": s.grid} for name, s in result.searches}
    # The trace and the plot are staged, the manifest rewritten, and only then are both renamed
    # into place: a failed write before that leaves all three as they were, and a Ctrl-C waits
    # until all three are in place (a kill -9 in the milliseconds between can still split them).
    with interrupts_held(), atomic_path(trace_path) as trace_tmp, atomic_path(plot_path) as plot_tmp:
        trace_tmp.write_text(json_text({**result.summary(), "traces": traces}), encoding="utf-8")
        plot_tuning(result, plot_tmp)
        # In the manifest only (the trace cannot hold its own hash): `recsys index verify` checks both files.
        hashes = {result.files["trace"]: sha256_file(trace_tmp), result.files["plot"]: sha256_file(plot_tmp)}
        update_manifest(directory, of_build=of_build, blend_weight=result.w, audio_weight=result.audio_weight, era_weight=result.era_weight,
                        tuning={**result.summary(), "sha256": hashes})


def plot_tuning(result: TuneResult, path: Path) -> None:
    """Each weight's grid curve with its golden-section evaluations on top (PNG, atomic)."""
    plt = pyplot()
    searches = [("w (weight of the embedding cosine; a = e = 0)", result.blend)]
    if result.audio is not None:
        searches.append((f"a (weight of the audio similarity; w = {result.w:.3f}, e = 0)", result.audio))
    if result.era is not None:
        searches.append((f"e (weight of the era agreement; w = {result.w:.3f}, a = {result.audio_weight:.3f})", result.era))
    fig, axes = plt.subplots(1, len(searches), figsize=(6 * len(searches), 4), squeeze=False)
    for ax, (label, search) in zip(axes[0], searches):
        gx, gp = zip(*search.grid)
        ax.plot(gx, gp, "-o", ms=3, label="grid (21 points)")
        tx, tp = zip(*search.trace)
        ax.scatter(tx, tp, c=range(len(tx)), cmap="viridis", zorder=3, s=18, label="golden-section evaluations")
        ax.axhline(result.rrf_precision, ls="--", c="grey", label="RRF (no weight)")
        ax.axvline(search.chosen, ls=":", c="red", label=f"chosen {search.chosen:.3f} ({search.chosen_by})")
        ax.set_xlabel(label)
        ax.set_ylabel(f"precision@{result.k} ({result.split}, {result.tag}, pool {result.pool})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
