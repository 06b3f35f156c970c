"""Training speed by precision: the frozen-layer cache and one epoch of fine-tuning in fp32 and
in bf16 autocast, on the same seeded sample of the real catalogue, for each number of frozen
layers asked for. bf16 pays only where the CPU has AMX tiles or AVX512-BF16 (the settings record it).

    .venv/bin/python -m bench.train --songs 1200 --freeze 5 2 --threads 2

Reads runs/real_catalog.parquet (``recsys catalog import ../shared/data/raw --out ...``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.common import add_name_option, bench_parser, count, report, run

CATALOG = Path(__file__).resolve().parent.parent / "runs" / "real_catalog.parquet"


def main() -> None:
    parser = bench_parser("bench.train", __doc__)
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("--songs", type=count, default=1200, help="labelled songs sampled from the catalogue")
    parser.add_argument("--freeze", type=int, nargs="+", default=[5, 2], help="frozen encoder layers to time")
    parser.add_argument("--max-chunks", type=count, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=count, default=2)
    add_name_option(parser, "train", "machine kind")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from recsys.catalog import load_catalog
    from training.runtime import native_bf16
    from training.options import TrainOptions
    from training.train import fit, prepare

    torch.set_num_threads(args.threads)
    catalog = load_catalog(args.catalog)
    labelled = catalog[catalog["mood"].notna() | (catalog["genres"].map(len) > 0)]
    sample = labelled.sample(min(args.songs, len(labelled)), random_state=args.seed)
    rows: list[dict[str, Any]] = []
    for freeze in args.freeze:
        for precision in ("fp32", "bf16"):
            start = time.perf_counter()
            options = TrainOptions(max_chunks=args.max_chunks, freeze_layers=freeze, topics_k=5, lda_passes=1, epochs=1,
                                   seed=args.seed, device="cpu", precision=precision)
            prep = prepare(sample, options)
            result = fit(prep, options, label=f"{precision}, {freeze} frozen")
            rows.append({
                "run": f"{precision}, {freeze} frozen layers", "frozen cache s": prep.timings.get("frozen_cache_s", 0.0),
                "train s": result.train_s, "s/step": result.step_s, "songs/s": result.songs_per_s,
                "val loss": result.history[-1]["val_loss"], "total s": time.perf_counter() - start,
            })
        fp32, bf16 = rows[-2], rows[-1]
        rows.append({
            "run": f"  bf16 speed-up, {freeze} frozen", "frozen cache s": fp32["frozen cache s"] / max(bf16["frozen cache s"], 1e-9),
            "s/step": fp32["s/step"] / bf16["s/step"], "songs/s": bf16["songs/s"] / fp32["songs/s"],
        })
    settings = {"songs": len(sample), "max_chunks": args.max_chunks, "epochs": 1, "seed": args.seed, "threads": args.threads,
                "cpu_native_bf16": native_bf16(torch.device("cpu"))}
    report(args.name, rows, title=f"Training speed, fp32 vs bf16 ({len(sample)} real songs, CPU, {args.threads} threads)", settings=settings)


if __name__ == "__main__":
    run(main)
