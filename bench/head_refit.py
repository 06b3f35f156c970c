"""The head refit, measured on a trained checkpoint: how much do a fresh hidden layer and heads,
trained on the fine-tuned encoder's fixed song vectors, add to retrieval, and how much of that is
the supervised contrastive term?

The checkpoint's encoder embeds the labelled songs with lyrics once (as ``recsys index build``
does). Then, per contrastive weight, temperature and seed, ``training.refit.train_fresh_head`` trains
a fresh head on the training songs, judged per epoch on the validation songs, as the refit of
``recsys train`` does (which keeps it only if it beats the head it replaces; here every setting's
best epoch is shown).
Each row gives the validation and test songs' neighbour precision@10 (each song's 10 nearest among
its own split, the measure ``recsys train`` selects epochs by), for the checkpoint's own head
first. The test songs only report. Pass the checkpoint of a run trained with ``--refit-epochs 0``
to measure the refit against the head trained with the encoder.

    .venv/bin/python -m bench.head_refit runs/real_model_joint --contrastive 0 0.3 1 3 --seeds 0 1
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REAL_CATALOG, add_name_option, bench_parser, report, run
from training.model import CONTRASTIVE_TEMPERATURE


def split_inputs(model: Any, catalog: Any, precision: str = "auto") -> tuple[Any, dict[str, Any]]:
    """Labels, and the head's inputs for the train, val and test songs that carry a label and
    lyrics, their text vectors encoded in ``precision`` (auto: as the batch job does)."""
    import torch

    from index.embed import chunk_length, encode_pooled
    from recsys.catalog import has_lyrics
    from training.labels import encode_labels
    from training.refit import HeadInputs

    labels = encode_labels(catalog, model.moods, model.genres)
    rows = np.flatnonzero(labels.labelled & has_lyrics(catalog))
    lyrics = catalog["lyrics"].fillna("").astype(str).to_numpy()[rows].tolist()
    max_chunks = (model.config.get("train") or {}).get("max_chunks")
    text, _ = encode_pooled(model.model.encoder, model.tokenizer, lyrics, max_length=chunk_length(model), normalize=False, max_chunks=max_chunks, precision=precision)
    topics = np.asarray(model.topics.transform(lyrics), dtype=np.float32)
    audio = np.asarray(model.features.transform(catalog.iloc[rows]), dtype=np.float32)
    split = catalog["split"].astype("string").fillna("").to_numpy(str)[rows]
    inputs = {}
    for name in ("train", "val", "test"):
        at = np.flatnonzero(split == name)
        inputs[name] = HeadInputs(
            rows[at], torch.from_numpy(text[at]), torch.from_numpy(topics[at]), torch.from_numpy(audio[at]),
            torch.from_numpy(labels.mood[rows[at]]), torch.from_numpy(labels.genre[rows[at]]), torch.from_numpy(labels.has_genre[rows[at]]),
        )
    return labels, inputs


def main() -> None:
    parser = bench_parser("bench.head_refit", __doc__)
    parser.add_argument("model", type=Path, help="a tBERT checkpoint directory (recsys train --out)")
    parser.add_argument("--catalog", type=Path, default=REAL_CATALOG, help="the catalogue it was trained on (default: the real one)")
    parser.add_argument("--contrastive", type=float, nargs="+", default=[0.0, 1.0], help="contrastive weights to refit with")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[CONTRASTIVE_TEMPERATURE], help="temperatures (with weights above 0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="refit seeds")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    add_name_option(parser, "head_refit", "checkpoint")
    args = parser.parse_args()

    import torch

    from recsys.catalog import load_catalog
    from training.labels import class_weights
    from training.model import load_model
    from training.refit import retrieval_precision, train_fresh_head

    checkpoint = load_model(args.model)
    catalog = load_catalog(args.catalog).reset_index(drop=True)
    labels, inputs = split_inputs(checkpoint, catalog)
    mood_w, pos_w = (None if w is None else torch.from_numpy(w) for w in class_weights(labels, inputs["train"].rows))
    head_lr = float((checkpoint.config.get("train") or {}).get("head_lr", 1e-3))

    def row(name: str, model: Any, contrastive: float | None = None, temperature: float | None = None, seed: int | None = None,
            epoch: int | None = None) -> dict[str, Any]:
        val, test = retrieval_precision(model, inputs["val"], labels), retrieval_precision(model, inputs["test"], labels)
        settings = {"head": name, "contrastive": contrastive, "temperature": temperature, "seed": seed, "epoch": epoch}
        return {**settings, **{f"val {k}": v for k, v in val.items()}, **{f"test {k}": v for k, v in test.items()}}

    rows = [row("checkpoint's own", checkpoint.model)]
    for weight in args.contrastive:
        for temperature in args.temperatures if weight else [CONTRASTIVE_TEMPERATURE]:
            for seed in args.seeds:
                model = copy.deepcopy(checkpoint.model)
                _, epoch, _ = train_fresh_head(
                    model, inputs["train"], inputs["val"], labels, epochs=args.epochs, batch_size=args.batch_size, lr=head_lr,
                    contrastive=weight, seed=seed, mood_weight=mood_w, genre_pos_weight=pos_w, temperature=temperature,
                )
                rows.append(row("refit", model, contrastive=weight, temperature=temperature if weight else None, seed=seed, epoch=epoch))
    settings = {"model": str(args.model), "catalog": str(args.catalog), "epochs": args.epochs, "batch_size": args.batch_size, "head_lr": head_lr,
                **{f"n_{name}": len(part.rows) for name, part in inputs.items()}}
    report(args.name, rows, title="Head refit on a checkpoint's fixed song vectors: neighbour precision@10 within each split", settings=settings)


if __name__ == "__main__":
    run(main)
