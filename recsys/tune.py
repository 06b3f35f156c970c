"""Tuning the hybrid's blend weight ``w`` by golden-section search on validation precision@k.

The objective is mean precision@k over validation songs that carry the chosen held-out tag
(``recsys.evaluate.Labels``: same mood, or a genre in common, or either for ``any``), with
candidates drawn from the whole index. Candidates, cosines and normalised BM25 scores are
computed once per query; every evaluation of ``w`` is then only a vectorised re-sort, so the
21-point grid and the golden-section search cost milliseconds each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from recsys.errors import RecsysError
from recsys.io import atomic_path, write_json

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
class TuneResult:
    """The tuned weight and the evidence: golden-section trace, 21-point grid, RRF reference."""

    w: float
    precision: float
    golden_w: float
    golden_precision: float
    trace: list[tuple[float, float]]
    grid: list[tuple[float, float]]
    rrf_precision: float
    k: int
    tag: str
    split: str
    n_queries: int
    chosen_by: str = "golden-section"
    files: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What goes into the manifest's ``tuning`` field."""
        data = asdict(self)
        data.pop("trace")
        data.pop("grid")
        grid_w, grid_p = max(self.grid, key=lambda p: (p[1], -p[0]))
        data.update(grid_best_w=grid_w, grid_best_precision=grid_p, evaluations=len(self.trace))
        return data


def tuning_queries(songs: Any, labels: Any, split: str, tag: str, n_queries: int | None, seed: int) -> np.ndarray:
    """Rows of ``split`` songs carrying ``tag``; a seeded sample of ``n_queries`` of them if set."""
    rows = np.flatnonzero((songs["split"].astype("string") == split).fillna(False).to_numpy(bool) & labels.has(tag))
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
    tag: str = "any",
    n_queries: int | None = None,
    seed: int = 0,
    tol: float = 1e-3,
    save: bool = True,
) -> TuneResult:
    """Tune ``w`` for mean precision@k on ``split`` songs; save the trace, plot and manifest.

    The stored weight is the golden-section optimum unless the grid found a strictly better
    point (the objective is then not unimodal and the grid's best is the honest choice);
    ``chosen_by`` says which.
    """
    from recsys.evaluate import CandidateTable, Labels, relevance_matrix
    from recsys.recommend import Recommender

    if k < 1:
        raise RecsysError(f"k must be at least 1, got {k}")
    recommender = Recommender(artifacts)
    labels = Labels.from_songs(artifacts.songs)
    queries = tuning_queries(artifacts.songs, labels, split, tag, n_queries, seed)
    table = CandidateTable.build(recommender, queries, desc="tuning candidates")
    # Relevance of every candidate, once; a weight then only reorders columns.
    cand_rel, _ = relevance_matrix(labels, queries, table.rows, tag)

    def precision(w: float, fusion: str = "linear") -> float:
        cols = table.ranked(k, weight=w, fusion=fusion)
        hits = np.take_along_axis(cand_rel & table.valid, cols, axis=1)
        return float(hits.sum(axis=1).mean() / k)

    golden_w, golden_p, trace = golden_section(precision, 0.0, 1.0, tol=tol)
    grid = [(round(float(w), 2), precision(float(w))) for w in np.linspace(0.0, 1.0, 21)]
    grid_w, grid_p = max(grid, key=lambda p: (p[1], -p[0]))
    w, p, chosen = (grid_w, grid_p, "grid") if grid_p > golden_p + 1e-12 else (golden_w, golden_p, "golden-section")
    result = TuneResult(
        w=float(w), precision=float(p), golden_w=float(golden_w), golden_precision=float(golden_p), trace=trace, grid=grid,
        rrf_precision=precision(0.0, "rrf"), k=k, tag=tag, split=split, n_queries=len(queries), chosen_by=chosen,
    )
    if save:
        _save(artifacts.path, result)
    return result


def _save(directory: Path, result: TuneResult) -> None:
    from recsys.artifacts import update_manifest

    directory = Path(directory)
    trace_path, plot_path = directory / "tuning.json", directory / "plots" / "tuning.png"
    result.files = {"trace": trace_path.name, "plot": f"plots/{plot_path.name}"}
    write_json(trace_path, {**result.summary(), "trace": result.trace, "grid": result.grid})
    plot_tuning(result, plot_path)
    update_manifest(directory, blend_weight=result.w, tuning=result.summary())


def plot_tuning(result: TuneResult, path: Path) -> None:
    """The grid's precision curve with the golden-section evaluations on top (PNG, atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    gw, gp = zip(*result.grid)
    ax.plot(gw, gp, "-o", ms=3, label="grid (21 points)")
    tw, tp = zip(*result.trace)
    ax.scatter(tw, tp, c=range(len(tw)), cmap="viridis", zorder=3, s=18, label="golden-section evaluations")
    ax.axhline(result.rrf_precision, ls="--", c="grey", label="RRF (no weight)")
    ax.axvline(result.w, ls=":", c="red", label=f"chosen w = {result.w:.3f}")
    ax.set_xlabel("w (weight of the embedding cosine)")
    ax.set_ylabel(f"precision@{result.k} ({result.split}, tag {result.tag})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
