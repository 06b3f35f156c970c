"""Label vocabularies and the metrics every model variant reports: which moods and genres a
catalogue trains on, label arrays aligned with its rows, per-genre decision thresholds and the
per-task scores. Needs no torch, so the batch job can check a checkpoint's label set cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from recsys.catalog import has_lyrics, in_split
from recsys.errors import RecsysError
from recsys.evaluate import nearest_by_cosine, precision_at_k
from recsys.schema import MOODS
from recsys.vectors import center, l2_normalize

# Candidate decision thresholds for each genre's sigmoid, chosen on the validation split. One
# fixed 0.5 suits no model here: positive weights and the weighted sampler lift rare genres'
# probabilities, and a calibrated model's rare-genre probabilities rarely reach 0.5.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


# --- labels -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """Label arrays aligned with catalogue rows: ``mood`` is -1 where unknown."""

    moods: list[str]
    genres: list[str]
    mood: np.ndarray  # (n,) int64
    genre: np.ndarray  # (n, n_genres) float32
    has_genre: np.ndarray  # (n,) bool

    @property
    def labelled(self) -> np.ndarray:
        return (self.mood >= 0) | self.has_genre


def label_sets(catalog: pd.DataFrame, min_genre_songs: int) -> tuple[list[str], list[str]]:
    """Moods (canonical order) and genres with at least ``min_genre_songs`` training songs (train
    split songs with lyrics: the only ones trained on); a single mood or a single genre is none."""
    train = catalog[in_split(catalog, "train") & has_lyrics(catalog)]
    present = set(train["mood"].dropna().astype(str))
    moods = [m for m in MOODS if m in present]
    counts = pd.Series([g for gs in train["genres"] for g in gs], dtype=object).value_counts()
    genres = sorted(str(g) for g, c in counts.items() if c >= min_genre_songs)
    # One class teaches nothing: every song labelled with a genre carries the only one there is.
    if len(moods) == 1:
        moods = []
    if len(genres) == 1:
        genres = []
    return moods, genres


def check_label_sets(catalog: pd.DataFrame, config: dict[str, Any], source: str) -> None:
    """Raise when a labelled catalogue's mood or genre classes (by the rule training uses) differ
    from a checkpoint's: its probabilities would be read against the wrong names. A catalogue
    without labels is embedded as it is."""
    if catalog["mood"].isna().all() and not catalog["genres"].map(len).any():
        return
    moods, genres = label_sets(catalog, int(config.get("train", {}).get("min_genre_songs", 20)))
    # A checkpoint from before a single genre counted as none lists it; its head learnt nothing either.
    trained = {task: names if len(names := list(config.get(task) or [])) > 1 else [] for task in ("moods", "genres")}
    if moods == trained["moods"] and genres == trained["genres"]:
        return
    diffs = []
    for task, ours, theirs in (("moods", moods, trained["moods"]), ("genres", genres, trained["genres"])):
        only_ours, only_theirs = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
        if only_ours or only_theirs:
            diffs.append(f"{task} only in the catalogue {only_ours}, only in the checkpoint {only_theirs}")
    raise RecsysError(f"{source}: label set differs from the checkpoint's ({'; '.join(diffs)}); train a model on this catalogue")


def encode_labels(catalog: pd.DataFrame, moods: Sequence[str], genres: Sequence[str]) -> Labels:
    mood_index = {m: i for i, m in enumerate(moods)}
    mood = np.array([mood_index.get(str(m), -1) if pd.notna(m) else -1 for m in catalog["mood"]], dtype=np.int64)
    genre_index = {g: i for i, g in enumerate(genres)}
    genre = np.zeros((len(catalog), len(genres)), dtype=np.float32)
    for row, gs in enumerate(catalog["genres"]):
        for g in gs:
            if g in genre_index:
                genre[row, genre_index[g]] = 1.0
    return Labels(list(moods), list(genres), mood, genre, genre.sum(axis=1) > 0)


def class_weights(labels: Labels, rows: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The losses' weights from the training songs at catalogue ``rows``: inverse-frequency mood
    class weights and per-genre positive weights (None for a task without classes)."""
    mood_w = None
    if labels.moods:
        mood = labels.mood[rows]
        counts = np.bincount(mood[mood >= 0], minlength=len(labels.moods)).clip(min=1)
        mood_w = (counts.sum() / (len(counts) * counts)).astype(np.float32)
    pos_w = None
    if labels.genres:
        has = labels.has_genre[rows]
        pos = labels.genre[rows][has].sum(axis=0).clip(min=1)
        # Per-genre positive weights (capped so a rare genre does not swamp the loss): without them
        # sparse multi-label targets drive every sigmoid below 0.5 in the first epochs. The weighted
        # sampler, when on, additionally shows songs of rare genres more often.
        pos_w = np.minimum((has.sum() - pos) / pos, 10.0).astype(np.float32)
    return mood_w, pos_w


# --- metrics ------------------------------------------------------------------------------------


def _classification_metrics(truth: np.ndarray, pred: np.ndarray, classes: list[str], labels: list[int] | None = None) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1, micro F1 and per-class figures; single-label class
    indices with ``labels`` (every class, even one absent here), multi-label indicator matrices
    without."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    micro = precision_recall_fscore_support(truth, pred, labels=labels, average="micro", zero_division=0)
    return {
        "n": int(len(truth)),
        "accuracy": float(accuracy_score(truth, pred)),
        "precision": float(np.mean(p)),
        "recall": float(np.mean(r)),
        "micro_f1": float(micro[2]),
        "macro_f1": float(np.mean(f)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])} for i, c in enumerate(classes)},
        "classes": classes,
    }


def _single_label(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix

    labels = list(range(len(classes)))
    metrics = _classification_metrics(y_true, y_pred, classes, labels)
    metrics["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return metrics


def genre_thresholds(labels: Labels, rows: np.ndarray, genre_probs: np.ndarray | None) -> np.ndarray:
    """Per-genre thresholds maximising F1 on ``rows`` (validation songs, probabilities aligned
    with ``rows``); 0.5 for a genre without positives there. Ties go to the lowest threshold."""
    thresholds = np.full(len(labels.genres), 0.5)
    has = labels.has_genre[rows]
    if genre_probs is None or not has.any():
        return thresholds
    truth = labels.genre[rows][has] > 0
    probs = genre_probs[has]
    for g in range(len(labels.genres)):
        if not truth[:, g].any():
            continue
        pred = probs[:, g][None, :] >= THRESHOLD_GRID[:, None]  # (grid, songs)
        tp = (pred & truth[:, g]).sum(axis=1)
        f1 = 2 * tp / (pred.sum(axis=1) + truth[:, g].sum())
        thresholds[g] = THRESHOLD_GRID[int(np.argmax(f1))]
    return thresholds


def score_tasks(
    labels: Labels, rows: np.ndarray, mood_probs: np.ndarray | None, genre_probs: np.ndarray | None, thresholds: np.ndarray | None = None
) -> dict[str, Any]:
    """Metrics on catalogue ``rows`` from per-row probabilities (aligned with ``rows``).

    Tasks: ``mood_binary`` (happy vs sad songs, predicted by the larger of the two mood
    probabilities), ``mood`` (all mood classes, when there are more than the two), ``genre``
    (multi-label at per-genre ``thresholds``, 0.5 when not given; accuracy is exact-set match).
    """
    out: dict[str, Any] = {}
    mood = labels.mood[rows]
    if mood_probs is not None and labels.moods:
        if {"happy", "sad"} <= set(labels.moods):
            h, s = labels.moods.index("happy"), labels.moods.index("sad")
            keep = (mood == h) | (mood == s)
            if keep.any():
                truth = (mood[keep] == s).astype(np.int64)
                pred = (mood_probs[keep, s] > mood_probs[keep, h]).astype(np.int64)
                out["mood_binary"] = _single_label(truth, pred, ["happy", "sad"])
        if len(labels.moods) > 2 and (mood >= 0).any():
            keep = mood >= 0
            out["mood"] = _single_label(mood[keep], mood_probs[keep].argmax(axis=1), labels.moods)
    has = labels.has_genre[rows]
    if genre_probs is not None and labels.genres and has.any():
        truth = labels.genre[rows][has].astype(np.int64)
        cut = np.full(len(labels.genres), 0.5) if thresholds is None else thresholds
        pred = (genre_probs[has] >= cut).astype(np.int64)
        out["genre"] = _classification_metrics(truth, pred, labels.genres)
    return out


def neighbour_precision(labels: Labels, rows: np.ndarray, embeddings: np.ndarray, k: int = 10) -> dict[str, float]:
    """Precision@``k`` of each song's ``k`` nearest songs among ``rows`` themselves, by the cosine
    of centred embeddings (the batch job's similarity): ``mood`` over the songs with a mood,
    ``genre`` (shares a genre) over the songs with genres, and ``balanced``, their mean (the
    tuning objective). A cheap stand-in for retrieval quality that needs no catalogue build."""
    if len(rows) < 2:
        return {"balanced": 0.0}
    unit = l2_normalize(embeddings)
    top = nearest_by_cosine(center(unit, unit.mean(axis=0)), np.arange(len(rows)), k)
    filled = top >= 0
    out: dict[str, float] = {}
    mood = labels.mood[rows]
    if (mood >= 0).any():
        same_mood = filled & (mood[top] == mood[:, None])
        out["mood"] = float(precision_at_k(same_mood[mood >= 0], k).mean())
    has = labels.has_genre[rows]
    if has.any():
        genre = labels.genre[rows] > 0
        shared = filled & (genre[top] & genre[:, None, :]).any(axis=2)
        out["genre"] = float(precision_at_k(shared[has], k).mean())
    out["balanced"] = float(np.mean(list(out.values()))) if out else 0.0
    return out
