"""The settings of one training run, with the defaults ``recsys train`` uses, in one place.

:func:`training.train.prepare` reads the preparation fields (encoder, chunking, topics, labels),
:func:`training.train.fit` the fitting ones, and ``train``, ``compare`` and the CLI pass one
:class:`TrainOptions` through. Nothing heavy is imported here (not even numpy), so the CLI takes its defaults from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from recsys.errors import RecsysError, check_counts

# Tokens per lyric chunk, special tokens included: training's default and a plain encoder's.
DEFAULT_MAX_LENGTH = 128
SAMPLERS = ("none", "weighted")
SELECT_ON = ("retrieval", "loss")
# Training keeps every chunk of a batch's songs in memory for the backward pass, so one very long
# lyric can exhaust it (one 100,000-word lyric passed 14 GB). The real catalogue's longest lyric
# makes 138 chunks of 128 tokens.
MAX_TRAIN_CHUNKS = 256


@dataclass(frozen=True)
class TrainOptions:
    """Every setting of a training run; the defaults are those of ``recsys train``."""

    # Preparation: the encoder, chunking, side inputs and label sets.
    model: str | Path | None = None  # a local encoder directory; None: all-MiniLM-L6-v2
    max_length: int = DEFAULT_MAX_LENGTH  # tokens per lyric chunk, special tokens included
    max_chunks: int | None = None  # chunks kept per song; None keeps all
    freeze_layers: int = 2  # lower encoder layers frozen and cached
    topics_k: int = 10
    topics_grid: tuple[int, ...] | None = None  # k chosen by coherence among these, if given
    lda_passes: int = 5
    min_genre_songs: int = 20  # training songs a genre needs to be a class
    encode_batch: int | None = None  # chunks per batch of the frozen-layer pass
    precision: str = "auto"  # auto, fp32 or bf16
    # Fitting.
    epochs: int = 2
    batch_size: int | None = None  # None: 16 on a CPU, 64 on a GPU
    lr: float = 2e-5  # unfrozen encoder layers
    head_lr: float = 1e-3  # hidden layer and heads
    warmup: float = 0.1  # share of the steps with a rising learning rate
    patience: int = 2
    hidden: int = 256
    dropout: float = 0.1
    sampler: str = "none"
    select_on: str = "retrieval"
    # The head refit after fine-tuning (training.refit): a fresh hidden layer and heads trained on the
    # fine-tuned encoder's fixed song vectors, kept when it retrieves better on the validation songs.
    refit_epochs: int = 20  # 0 keeps the head trained with the encoder
    refit_batch_size: int = 256
    contrastive: float = 1.0  # weight of the supervised contrastive term in the refit's loss
    # Both.
    seed: int = 0
    device: str = "auto"

    def check(self) -> None:
        """RecsysError for a setting no run can use, before the minutes of preparation."""
        if self.sampler not in SAMPLERS:
            raise RecsysError(f"--sampler must be weighted or none, got {self.sampler!r}")
        if self.select_on not in SELECT_ON:
            raise RecsysError(f"--select-on must be {' or '.join(SELECT_ON)}, got {self.select_on!r}")
        check_counts(
            ("--epochs", self.epochs), ("--patience", self.patience), ("--batch-size", self.batch_size),
            ("--min-genre-songs", self.min_genre_songs), ("--max-chunks", self.max_chunks),
            ("--refit-batch-size", self.refit_batch_size),
        )
        if self.refit_epochs < 0:
            raise RecsysError(f"--refit-epochs must be 0 (no refit) or more, got {self.refit_epochs}")
        if not (math.isfinite(self.contrastive) and self.contrastive >= 0):
            raise RecsysError(f"--contrastive must be a number, 0 or more, got {self.contrastive}")
        if self.max_chunks is not None and self.max_chunks > MAX_TRAIN_CHUNKS:
            raise RecsysError(f"--max-chunks must be at most {MAX_TRAIN_CHUNKS} (training holds every chunk of a batch in memory), got {self.max_chunks}")
        for name, value in (("--lr", self.lr), ("--head-lr", self.head_lr)):
            if not (math.isfinite(value) and value > 0):
                raise RecsysError(f"{name} must be a positive number, got {value}")
        if not 0.0 <= self.warmup < 1.0:
            raise RecsysError(f"warmup must lie in [0, 1), got {self.warmup}")

    def fit_settings(self, batch_size: int) -> dict[str, object]:
        """The fitting settings as a run used them (``batch_size`` resolved), for the checkpoint."""
        return {
            "epochs": self.epochs, "batch_size": batch_size, "lr": self.lr, "head_lr": self.head_lr, "warmup": self.warmup,
            "patience": self.patience, "hidden": self.hidden, "dropout": self.dropout, "sampler": self.sampler,
            "select_on": self.select_on, "refit_epochs": self.refit_epochs, "refit_batch_size": self.refit_batch_size,
            "contrastive": self.contrastive, "seed": self.seed,
        }
