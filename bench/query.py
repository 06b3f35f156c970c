"""Query latency of `recsys similar`: cold (a fresh process per query, as a shell user sees it)
and warm (Recommender.similar repeated in one process, as a server sees it).

Run from the project root: ``.venv/bin/python -m bench.query [ARTIFACTS] [--cold 10] [--warm 200]``.
ARTIFACTS defaults to runs/real_artifacts when it exists, else a demo build (300 synthetic songs,
plain MiniLM, built once into runs/bench_demo_artifacts). Query songs are drawn with a seed; the
cold runs spawn ``python cli.py similar "<title>" --artist "<artist>" --json`` and time the whole
process (interpreter start, imports, artefact load, resolution, ranking, JSON); warm timings
cover title resolution plus ranking, artefacts already loaded.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import add_name_option, bench_parser, count, report, run

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "runs" / "real_artifacts"
DEMO = ROOT / "runs" / "bench_demo_artifacts"


def demo_artifacts() -> Path:
    """A small demo build (built once; needs torch for the embedding, not for the queries)."""
    if not DEMO.is_dir():
        from index.build import build_index
        from recsys.catalog import save_catalog
        from recsys.demo import generate_demo

        catalog = ROOT / "runs" / "bench_demo_catalog.parquet"
        save_catalog(generate_demo(n=300, seed=0), catalog, metadata={"synthetic": "true"})
        build_index(catalog, None, DEMO, k_range=(4, 8), seed=0)
    return DEMO


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "mean_ms": float(ms.mean())}


def main() -> None:
    parser = bench_parser("bench.query", __doc__)
    parser.add_argument("artifacts", nargs="?", type=Path, default=None)
    parser.add_argument("--cold", type=count, default=10, help="fresh-process queries")
    parser.add_argument("--warm", type=count, default=200, help="in-process queries")
    parser.add_argument("-k", type=count, default=10)
    parser.add_argument("--seed", type=int, default=0)
    add_name_option(parser, "query", "machine kind")
    args = parser.parse_args()
    path = args.artifacts or (REAL if REAL.is_dir() else demo_artifacts())

    from recsys.artifacts import load_artifacts
    from recsys.recommend import Recommender
    from recsys.resolve import resolve_title

    t0 = time.perf_counter()
    artifacts = load_artifacts(path)
    rec = Recommender(artifacts)
    _ = artifacts.lexical, artifacts.dense  # the lazily loaded indexes count as load time
    load_s = time.perf_counter() - t0
    songs = artifacts.table
    titles, artists = songs.values("title"), songs.values("artist")
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(len(songs), size=max(args.warm, args.cold), replace=len(songs) < max(args.warm, args.cold))

    rows_out = []
    for fusion in ("linear", "rrf"):
        rec.fusion = fusion
        timings = []
        for row in rows[: args.warm]:
            start = time.perf_counter()
            found = resolve_title(songs, titles[row], artists[row])
            rec.similar(found, k=args.k)
            timings.append(time.perf_counter() - start)
        rows_out.append({"mode": f"warm in-process ({fusion})", "queries": len(timings), **percentiles(timings)})

    timings = []
    for row in rows[: args.cold]:
        cmd = [sys.executable, str(ROOT / "cli.py"), "similar", titles[row], "--artist", artists[row],
               "--artifacts", str(path), "-k", str(args.k), "--json"]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        timings.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"cold query failed: {done.stderr.strip()}")
    rows_out.append({"mode": "cold process (recsys similar)", "queries": len(timings), **percentiles(timings)})
    report(
        args.name,
        rows_out,
        title=f"recsys similar latency, {len(songs)} songs, k={args.k} (artefact load {load_s * 1000:.0f} ms)",
        settings={"artifacts": str(path), "n_songs": len(songs), "k": args.k, "seed": args.seed, "load_ms": round(load_s * 1000, 1),
                  "n_candidates": rec.n_candidates, "faiss_kind": artifacts.dense.kind},
    )


if __name__ == "__main__":
    run(main)
