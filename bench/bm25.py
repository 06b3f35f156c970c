"""BM25 on the real catalogue: recsys.lexical.BM25Index vs rank_bm25.BM25Okapi (the reference
it reproduces) and bm25s (a fast Lucene-style scorer, for reference).

Run from the project root: ``.venv/bin/python -m bench.bm25 [--queries 200] [--ref-queries 40]``.
Queries are 30 tokens sampled from random songs (seeded); latency is the scoring call alone
(all scorers return every song's score). rank_bm25 takes ~200 ms per query, so ``--ref-queries``
can cut it to the first queries of the same set; agreement is measured on those.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from bench.common import add_name_option, bench_parser, count, real_songs, report, run
from recsys.lexical import BM25Index
from recsys.progress import progress
from recsys.text import tokenize

def make_queries(tokens: list[list[str]], n: int, length: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    docs = [t for t in tokens if len(t) >= 5]
    return [[str(t) for t in rng.choice(docs[i], size=length)] for i in rng.choice(len(docs), size=n, replace=False)]


def time_queries(name: str, fn: Callable[[list[str]], np.ndarray], queries: list[list[str]]) -> tuple[list[np.ndarray], np.ndarray]:
    """Top-10 rows and per-query latency in ms."""
    tops, times = [], []
    with progress() as bar:
        task = bar.add_task(name, total=len(queries), info="")
        for query in queries:
            start = time.perf_counter()
            scores = fn(query)
            times.append((time.perf_counter() - start) * 1000)
            tops.append(np.argsort(-scores, kind="stable")[:10])
            bar.update(task, advance=1)
    return tops, np.asarray(times)


def row(name: str, build_s: float, times: np.ndarray, agreement: float | None) -> dict[str, object]:
    return {
        "scorer": name,
        "build_s": round(build_s, 3),
        "queries": len(times),
        "q_per_s": round(1000 / times.mean(), 1),
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "top10_vs_rank_bm25": agreement,
    }


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return round(float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b)])), 4)


def main() -> None:
    parser = bench_parser("bench.bm25", __doc__)
    parser.add_argument("--queries", type=count, default=200)
    parser.add_argument("--ref-queries", type=count, default=200, help="how many of the queries rank_bm25 runs")
    parser.add_argument("--length", type=count, default=30)
    parser.add_argument("--seed", type=int, default=0)
    add_name_option(parser, "bm25", "catalogue and machine")
    args = parser.parse_args()

    songs, source = real_songs(["lyrics"])
    lyrics = songs["lyrics"].tolist()
    start = time.perf_counter()
    tokens = [tokenize(text) for text in lyrics]
    tokenize_s = time.perf_counter() - start
    queries = make_queries(tokens, args.queries, args.length, args.seed)
    ref_queries = queries[: args.ref_queries]

    start = time.perf_counter()
    ours = BM25Index.build(tokens)
    ours_build = time.perf_counter() - start
    ours_top, ours_times = time_queries("BM25Index", ours.scores, queries)

    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    ref = BM25Okapi(tokens)
    ref_build = time.perf_counter() - start
    ref_top, ref_times = time_queries("rank_bm25", ref.get_scores, ref_queries)
    max_diff = max(float(np.abs(ours.scores(q) - ref.get_scores(q)).max()) for q in ref_queries[:10])

    rows = [
        row("recsys BM25Index", ours_build, ours_times, agreement(ours_top[: len(ref_top)], ref_top)),
        row("rank_bm25 BM25Okapi", ref_build, ref_times, 1.0),
    ]

    import bm25s

    start = time.perf_counter()
    fast = bm25s.BM25()  # Lucene idf, no epsilon floor: rankings differ from rank_bm25 by design
    fast.index(tokens, show_progress=False)
    fast_build = time.perf_counter() - start
    fast_top, fast_times = time_queries("bm25s", fast.get_scores, queries)
    rows.append(row("bm25s (Lucene)", fast_build, fast_times, agreement(fast_top[: len(ref_top)], ref_top)))

    speedup = float(np.mean(ref_times) / np.mean(ours_times[: len(ref_times)]))
    path = report(
        args.name,
        rows,
        title=f"BM25 over {len(tokens):,} songs, {args.length}-token queries (speed-up vs rank_bm25: {speedup:,.0f}x)",
        settings={
            "source": source,
            "songs": len(tokens),
            "vocabulary": len(ours.terms),
            "tokenize_s": round(tokenize_s, 2),
            "query_tokens": args.length,
            "seed": args.seed,
            "speedup_vs_rank_bm25": round(speedup, 1),
            "max_abs_score_diff_vs_rank_bm25": max_diff,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    run(main)
