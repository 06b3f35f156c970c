"""Embedding throughput and agreement: our batched encoder (fp32, bf16 and int8) against plain
``SentenceTransformer.encode`` with the same model, texts and device, in one run.

The two do different work on long lyrics: sentence-transformers truncates each song at its
``max_seq_length`` (256 tokens for all-MiniLM-L6-v2), we chunk and encode every token. So the
table shows tokens encoded next to songs/s, runs ours at 256 as well, and measures agreement
with ST only on songs short enough that neither side cuts or chunks them. bf16 pays only on a
CPU with AMX tiles or AVX512-BF16 (``training.runtime.native_bf16``; the settings record it); ST run under the
same bf16 autocast is a reference row, so the share of the gain that is bf16 alone is visible.

On a shared machine the load drifts during a run, so the configurations run in interleaved
rounds (the order rotating each round) and each keeps its fastest round.

    .venv/bin/python -m bench.embed --n 150 --rounds 3 --threads 2
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from bench.common import JOINED, add_name_option, bench_parser, count, report, run


def sample_lyrics(n: int, seed: int) -> list[str]:
    df = pd.read_csv(JOINED, usecols=["lyrics"]).dropna()
    df = df[df["lyrics"].str.strip() != ""]
    return df.sample(min(n, len(df)), random_state=seed)["lyrics"].astype(str).tolist()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def cosines(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    c = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(c.mean()), float(c.min())


def main() -> None:
    parser = bench_parser("bench.embed", __doc__)
    parser.add_argument("--n", type=count, default=150, help="real lyrics sampled from songs_joined.csv")
    parser.add_argument("--rounds", type=count, default=2, help="interleaved repetitions; the fastest counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=count, default=32)
    parser.add_argument("--threads", type=count, default=2)
    add_name_option(parser, "embed", "machine kind")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from sentence_transformers import SentenceTransformer

    from index.embed import encode_pooled, load_embedder
    from training.encoding import chunk_token_ids, encoder_dir
    from training.runtime import autocast, native_bf16

    torch.set_num_threads(args.threads)
    texts = sample_lyrics(args.n, args.seed)
    directory = encoder_dir(None)
    ours = load_embedder(directory)
    st = SentenceTransformer(str(directory), device="cpu")
    window = int(st.max_seq_length)
    tok = ours.tokenizer
    lengths = np.array([len(ids) for ids in tok(texts, add_special_tokens=False, truncation=False)["input_ids"]])

    def run_ours(max_length: int, precision: str) -> np.ndarray:
        return encode_pooled(ours.encoder, tok, texts, max_length=max_length, batch_size=args.batch_size,
                             device="cpu", precision=precision, progress=False)[0]

    def run_st(bf16: bool) -> np.ndarray:
        with autocast(torch.device("cpu"), "bf16" if bf16 else "fp32"):
            return st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)

    # One warm-up call each so first-call allocations do not count against either side.
    run_st(False)
    encode_pooled(ours.encoder, tok, texts[:4], device="cpu", precision="fp32", progress=False)

    st_name = f"SentenceTransformer.encode (truncates at {window})"
    st_bf16 = "  same, under bf16 autocast (reference)"
    runs = {
        "ours fp32, 128-token chunks": (128, "fp32"),
        "ours bf16, 128-token chunks": (128, "bf16"),
        "ours int8, 128-token chunks": (128, "int8"),
        f"ours fp32, {window}-token chunks": (window, "fp32"),
        f"ours bf16, {window}-token chunks": (window, "bf16"),
    }
    jobs: dict[str, Callable[[], np.ndarray]] = {
        st_name: lambda: run_st(False),
        st_bf16: lambda: run_st(True),
        **{name: (lambda ml=ml, p=p: run_ours(ml, p)) for name, (ml, p) in runs.items()},
    }
    vecs: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {name: float("inf") for name in jobs}
    names = list(jobs)
    for round_no in range(args.rounds):
        for name in names[round_no % len(names):] + names[: round_no % len(names)]:
            vecs[name], elapsed = timed(jobs[name])
            seconds[name] = min(seconds[name], elapsed)
    st_vecs, st_s = vecs[st_name], seconds[st_name]

    short = lengths <= window - 2  # neither side truncates nor chunks these
    st_tokens = int(np.minimum(lengths, window - 2).sum() + 2 * len(texts))
    rows: list[dict[str, Any]] = []
    for name in (st_name, st_bf16):
        agree_mean, agree_min = cosines(vecs[name][short], st_vecs[short])
        self_mean, self_min = cosines(vecs[name], st_vecs) if name == st_bf16 else (None, None)
        rows.append({
            "run": name, "songs/s": len(texts) / seconds[name], "x ST": st_s / seconds[name], "tokens": st_tokens,
            "tokens/s": st_tokens / seconds[name], "x ST tokens/s": st_s / seconds[name], "songs chunked": 0,
            "cos vs ST (short songs) mean": agree_mean, "min": agree_min, "cos vs own fp32 mean": self_mean, "min ": self_min,
        })
    for name, (max_length, precision) in runs.items():
        chunks = chunk_token_ids(tok, texts, max_length)
        ref = vecs[name.replace(precision, "fp32")]
        agree_mean, agree_min = cosines(vecs[name][short], st_vecs[short])
        self_mean, self_min = cosines(vecs[name], ref) if precision != "fp32" else (None, None)
        tokens = int(sum(len(c) for c in chunks.input_ids))
        rows.append({
            "run": name, "songs/s": len(texts) / seconds[name], "x ST": st_s / seconds[name], "tokens": tokens,
            "tokens/s": tokens / seconds[name], "x ST tokens/s": (tokens / seconds[name]) / (st_tokens / st_s),
            "songs chunked": chunks.n_chunked,
            "cos vs ST (short songs) mean": agree_mean, "min": agree_min, "cos vs own fp32 mean": self_mean, "min ": self_min,
        })
    full_mean, full_min = cosines(vecs["ours fp32, 128-token chunks"], st_vecs)
    settings = {
        "n_songs": len(texts), "n_short_songs": int(short.sum()), "seed": args.seed, "batch_size": args.batch_size,
        "threads": args.threads, "rounds": args.rounds, "device": "cpu", "cpu_native_bf16": native_bf16(torch.device("cpu")), "model": "all-MiniLM-L6-v2", "st_max_seq_length": window,
        "median_tokens_per_song": float(np.median(lengths)),
        "all_songs_cos_ours128_vs_st_truncated": {"mean": full_mean, "min": full_min},
    }
    report(args.name, rows, title=f"Embedding {len(texts)} real lyrics on CPU ({args.threads} threads)", settings=settings)
    print(f"{int(short.sum())}/{len(texts)} songs fit in {window} tokens (agreement columns use those); "
          f"over all songs ours (chunked 128) vs ST (truncated {window}): mean cosine {full_mean:.4f}, min {full_min:.4f}")


if __name__ == "__main__":
    run(main)
