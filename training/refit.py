"""The head refit: once fine-tuning has fixed the encoder, a fresh hidden layer and heads are
trained on its song vectors, with a supervised contrastive term on the embedding.

Fine-tuning trains the head for no more steps than the encoder (two epochs of 16-song batches on
a CPU), chasing song vectors that move under it. With the encoder fixed, the head trains for many
cheap epochs on large batches, and the contrastive term asks the embedding itself to put songs
that share a tag together, which is how the embedding is served. Every epoch is judged as
:func:`training.train.fit` judges epochs, by the validation songs' neighbour precision@10, and the
refit is kept only if its best epoch beats the jointly trained head on that measure (the study
behind it: docs/STUDIES.md, "The head refit").
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from recsys.progress import progress
from training.labels import Labels, neighbour_precision
from training.model import CONTRASTIVE_TEMPERATURE, TBert, masked_losses, supervised_contrastive


@dataclass
class HeadInputs:
    """One split's songs as the head sees them: catalogue rows, text vectors, side inputs, labels."""

    rows: np.ndarray
    text: torch.Tensor
    topics: torch.Tensor
    audio: torch.Tensor
    mood: torch.Tensor
    genre: torch.Tensor
    has_genre: torch.Tensor

    def take(self, index: torch.Tensor) -> HeadInputs:
        """The songs at ``index`` (a CPU tensor), kept on the inputs' device."""
        on_device = index.to(self.text.device)
        return HeadInputs(
            self.rows[index.numpy()], self.text[on_device], self.topics[on_device], self.audio[on_device],
            self.mood[on_device], self.genre[on_device], self.has_genre[on_device],
        )


@dataclass
class RefitResult:
    kept: bool  # whether the refit head replaced the jointly trained one
    best_epoch: int
    joint: dict[str, float]  # the jointly trained head's validation neighbour precision@10
    best: dict[str, float]  # the refit's best epoch's
    history: list[dict[str, float]]
    seconds: float

    def summary(self) -> str:
        """One line for the training log."""
        def figures(scores: dict[str, float]) -> str:
            return ", ".join(f"{tag} {scores[tag]:.3f}" for tag in ("mood", "genre", "balanced") if tag in scores)

        verdict = f"epoch {self.best_epoch} of {len(self.history)} kept" if self.kept else "not kept, the jointly trained head retrieves at least as well"
        return f"head refit: {verdict}; val neighbour P@10 {figures(self.best)} (jointly trained head: {figures(self.joint)})"

    def to_json(self) -> dict[str, object]:
        return {"kept": self.kept, "best_epoch": self.best_epoch, "joint": self.joint, "best": self.best, "history": self.history, "seconds": round(self.seconds, 2)}


def _head_modules(model: TBert) -> list[nn.Linear]:
    return [model.hidden[0], model.mood, model.genre]


def _head_state(model: TBert) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("encoder.")}


def retrieval_precision(model: TBert, songs: HeadInputs, labels: Labels) -> dict[str, float]:
    """The neighbour precision@10 of ``songs`` among themselves by ``model``'s embedding (eval mode)."""
    model.eval()
    with torch.inference_mode():
        embedding = model.head(songs.text, songs.topics, songs.audio)["embedding"].float().cpu().numpy()
    return neighbour_precision(labels, songs.rows, embedding)


def refit_head(model: TBert, train: HeadInputs, val: HeadInputs, labels: Labels, **fresh: Any) -> RefitResult:
    """Refit ``model``'s hidden layer and heads in place (module docstring) with
    :func:`train_fresh_head`'s keyword arguments ``fresh``; the encoder is not touched. The refit
    is kept if it retrieves better on ``val`` than the head it replaces. Returns what was kept and
    each epoch's validation figures."""
    start = time.perf_counter()
    joint_state, joint = _head_state(model), retrieval_precision(model, val, labels)
    history, best_epoch, best = train_fresh_head(model, train, val, labels, **fresh)
    kept = best["balanced"] > joint["balanced"] + 1e-6
    if not kept:
        model.load_state_dict(joint_state, strict=False)
    return RefitResult(kept, best_epoch, joint, best, history, time.perf_counter() - start)


def train_fresh_head(
    model: TBert,
    train: HeadInputs,
    val: HeadInputs,
    labels: Labels,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    contrastive: float,
    seed: int,
    mood_weight: torch.Tensor | None,
    genre_pos_weight: torch.Tensor | None,
    temperature: float = CONTRASTIVE_TEMPERATURE,
    label: str = "head refit",
) -> tuple[list[dict[str, float]], int, dict[str, float]]:
    """Reinitialise ``model``'s hidden layer and heads (seeded) and train them on ``train``'s fixed
    inputs with the classification losses plus ``contrastive`` times the supervised contrastive
    loss; leave the model at the epoch whose embedding retrieves best on ``val``. Returns each
    epoch's figures, that epoch and its validation neighbour precision@10."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        # A task without labels has a zero-width head; torch warns that initialising it is a no-op.
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        for module in _head_modules(model):
            module.reset_parameters()
    params = [p for module in _head_modules(model) for p in module.parameters()]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    best_epoch, best_state, best = 0, _head_state(model), {"balanced": -np.inf}
    with progress() as bar:
        task = bar.add_task(label, total=epochs, info="")
        for epoch in range(1, epochs + 1):
            model.hidden.train()
            model.dropout.train()
            epoch_loss = 0.0
            for index in torch.randperm(len(train.rows), generator=generator).split(batch_size):
                batch = train.take(index)
                out = model.head(batch.text, batch.topics, batch.audio)
                loss = masked_losses(out, batch.mood, batch.genre, batch.has_genre, mood_weight, genre_pos_weight)["total"]
                if contrastive:
                    loss = loss + contrastive * supervised_contrastive(out["embedding"], batch.mood, batch.genre, temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                epoch_loss += float(loss.detach()) * len(index)
            scores = retrieval_precision(model, val, labels)
            history.append({"epoch": epoch, "train_loss": epoch_loss / max(len(train.rows), 1), **{f"val_p@10_{k}": v for k, v in scores.items()}})
            if scores["balanced"] > best["balanced"] + 1e-6:
                best_epoch, best_state, best = epoch, _head_state(model), scores
            bar.update(task, advance=1, info=f"epoch {epoch} val neighbour P@10 {scores['balanced']:.3f}")
    model.load_state_dict(best_state, strict=False)
    model.eval()
    return history, best_epoch, best
