"""Golden-section search against known functions and against the grid; tuning on a real
tiny artefact writes the trace, the plot and the manifest's blend weight."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_recommend import write_tiny_artifacts

from recsys.artifacts import load_artifacts
from recsys.errors import RecsysError
from recsys.recommend import Recommender
from recsys.tune import golden_section, tune_blend


def test_golden_section_finds_the_maximum_of_a_parabola() -> None:
    calls: list[float] = []

    def f(x: float) -> float:
        calls.append(x)
        return -((x - 0.3) ** 2)

    x, fx, trace = golden_section(f, 0.0, 1.0, tol=1e-3)
    assert x == pytest.approx(0.3, abs=1e-3)
    assert fx == pytest.approx(0.0, abs=1e-6)
    # Two starting points, then one new evaluation per 0.618 shrink of the bracket.
    steps = math.ceil(math.log(1e-3) / math.log((math.sqrt(5) - 1) / 2))
    assert len(calls) == len(trace) == 2 + steps


def test_golden_section_handles_edge_optima_and_bad_brackets() -> None:
    x, _, _ = golden_section(lambda v: v, 0.0, 1.0, tol=1e-4)
    assert x == pytest.approx(1.0, abs=1e-3)
    x, _, _ = golden_section(lambda v: -abs(v - 2.5), 2.0, 4.0, tol=1e-4)
    assert x == pytest.approx(2.5, abs=1e-3)
    with pytest.raises(RecsysError, match="lo < hi"):
        golden_section(lambda v: v, 1.0, 1.0)


def test_golden_section_agrees_with_a_fine_grid() -> None:
    f = lambda v: math.sin(3 * v) * math.exp(-v)  # noqa: E731  unimodal on [0, 1]
    grid = np.linspace(0, 1, 100001)
    x, fx, _ = golden_section(f, 0.0, 1.0, tol=1e-5)
    assert x == pytest.approx(grid[np.argmax([f(g) for g in grid])], abs=1e-4)


def test_tune_blend_writes_trace_plot_and_manifest(tmp_path) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    result = tune_blend(artifacts, k=2, tag="any", seed=0)
    assert result.n_queries == 3  # the val songs with a tag
    assert len(result.grid) == 21 and result.grid[0][0] == 0.0 and result.grid[-1][0] == 1.0
    grid_best = max(p for _, p in result.grid)
    assert result.precision == pytest.approx(max(grid_best, result.golden_precision))
    assert 0.0 <= result.w <= 1.0 and 0.0 <= result.rrf_precision <= 1.0
    # The objective at the chosen weight equals what the served ranker gives at that weight.
    rec = Recommender(artifacts, weight=result.w)
    from recsys.evaluate import Labels

    labels = Labels.from_songs(artifacts.songs)
    served = []
    for q in (1, 2, 3):
        rows = [r["row"] for r in rec.similar(q, k=2)]
        served.append(labels.relevant(q, np.array(rows), "any").sum() / 2)
    assert float(np.mean(served)) == pytest.approx(result.precision)

    reloaded = load_artifacts(tmp_path / "a")
    assert reloaded.manifest["blend_weight"] == pytest.approx(result.w)
    assert reloaded.manifest["tuning"]["k"] == 2
    trace = json.loads((tmp_path / "a" / "tuning.json").read_text())
    assert len(trace["grid"]) == 21 and trace["evaluations"] == len(trace["trace"])
    assert (tmp_path / "a" / "plots" / "tuning.png").stat().st_size > 1000


def test_tune_blend_without_queries_is_an_error(tmp_path) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    with pytest.raises(RecsysError, match="no nosuch-split songs"):
        tune_blend(artifacts, split="nosuch", save=False)
