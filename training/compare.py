"""Six models side by side on the same splits, scored on the test split: majority class, TF-IDF +
logistic regression, audio features only, a frozen encoder with an MLP ("simple BERT"), the
fine-tuned encoder alone, and tBERT (encoder + topics + audio).

Variants 4-6 share one :func:`training.train.prepare` (topic model, audio scaler, the frozen
layer cache); the encoder-only and tBERT variants differ only in the head's inputs.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from recsys.catalog import catalog_name
from recsys.schema import CONTINUOUS_FEATURES
from recsys.errors import RecsysError
from recsys.io import atomic_path, check_replaceable, pyplot, save_figure, write_json
from recsys.text import tokenize
from training.model import TBert
from training.runtime import resolve_device
from training.labels import Labels, genre_thresholds, score_tasks
from training.options import TrainOptions
from training.train import check_model_out, fit, predict, prepare, save_checkpoint

COMPARE_FILE = "compare.json"

VARIANTS = ["majority", "tfidf_logreg", "audio_only", "simple_bert", "finetuned_encoder", "tbert"]
TASK_TITLES = {"mood_binary": "Mood: happy vs sad", "mood": "Mood: all classes", "genre": "Genre (multi-label)"}


Probs = tuple[np.ndarray | None, np.ndarray | None]  # (mood, genre) per song, None without that task


def _sklearn_variant(labels: Labels, train_rows: np.ndarray, x_train: Any, mood_make: Callable[[], Any], genre_make: Callable[[], Any]) -> Callable[[Any], Probs]:
    """Fit a mood classifier on train songs with a mood and a multi-label genre classifier on
    train songs with genres (``x_train`` aligned with ``train_rows``); returns the function
    that gives (mood, genre) probabilities for a feature matrix, one mood column per class
    whichever classes the classifier saw."""
    mood_clf = genre_clf = None
    has_mood = labels.mood[train_rows] >= 0
    if labels.moods and has_mood.any():
        mood_clf = mood_make().fit(x_train[has_mood], labels.mood[train_rows][has_mood])
    has_genre = labels.has_genre[train_rows]
    if labels.genres and has_genre.any():
        genre_clf = genre_make().fit(x_train[has_genre], labels.genre[train_rows][has_genre].astype(int))

    def probs(x: Any) -> Probs:
        mood = genre = None
        if mood_clf is not None:
            mood = np.zeros((x.shape[0], len(labels.moods)), dtype=np.float32)
            mood[:, mood_clf.classes_] = mood_clf.predict_proba(x)
        if genre_clf is not None:
            genre = np.asarray(genre_clf.predict_proba(x), dtype=np.float32)
            if len(labels.genres) == 1 and genre.shape[1] != 1:
                # One genre: scikit-learn reads the single label column as a binary target and
                # gives both classes' probabilities; the genre's is that of class 1.
                genre = genre[:, list(genre_clf.classes_).index(1)][:, None]
        return mood, genre

    return probs


def _mlp(seed: int) -> Callable[[], Any]:
    from sklearn.neural_network import MLPClassifier

    return lambda: MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-3, max_iter=150, random_state=seed)


def _logreg() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, class_weight="balanced")


def _ovr_logreg() -> Any:
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(_logreg())


def compare(catalog: pd.DataFrame, out_dir: str | Path, options: TrainOptions = TrainOptions(), *, model_out: str | Path | None = None) -> dict[str, Any]:
    """Train and score the six variants; write ``compare.md``, ``compare.json`` and one
    confusion-matrix PNG per single-label task into ``out_dir`` (atomically, as a directory).

    ``model_out`` also saves the tBERT variant as a checkpoint, so one run gives both the
    comparison and the model the batch job embeds with (the frozen-layer cache is shared)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    check_replaceable(out_dir, marker=COMPARE_FILE, marker_key="variants")
    if model_out is not None:
        model_out = Path(model_out)
        check_model_out(model_out)
    prep = prepare(catalog, options)  # checks the options first
    seed = options.seed
    labels = prep.labels
    train_pos, val_pos, test_pos = prep.split_rows("train"), prep.split_rows("val"), prep.split_rows("test")
    if not len(test_pos):
        raise RecsysError(f"{catalog_name(catalog)}: no labelled songs in the test split; nothing to compare on")
    train_rows, val_rows, test_rows = prep.rows[train_pos], prep.rows[val_pos], prep.rows[test_pos]
    lyrics = prep.catalog["lyrics"].fillna("").astype(str).to_numpy()
    results: dict[str, dict[str, Any]] = {}
    notes = list(prep.notes)

    def record(name: str, start: float, val: tuple[np.ndarray, Probs], test: tuple[np.ndarray, Probs], note: str = "") -> None:
        """Score ``test`` (rows, probabilities) at genre thresholds chosen on ``val``."""
        thresholds = genre_thresholds(labels, val[0], val[1][1])
        results[name] = {
            "train_s": time.perf_counter() - start, "n_test": int(len(test[0])), "note": note,
            "genre_thresholds": dict(zip(labels.genres, thresholds.tolist())),
            "metrics": score_tasks(labels, test[0], *test[1], thresholds),
        }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*Label not .* is present in all training examples")

        start = time.perf_counter()
        mood_prior = np.bincount(labels.mood[train_rows][labels.mood[train_rows] >= 0], minlength=len(labels.moods)).astype(np.float32)
        top = int(labels.genre[train_rows].sum(axis=0).argmax()) if labels.genres else 0

        def majority(rows: np.ndarray) -> tuple[np.ndarray, Probs]:
            mood = np.tile(mood_prior / max(mood_prior.sum(), 1), (len(rows), 1)) if labels.moods else None
            genre = None
            if labels.genres:
                genre = np.zeros((len(rows), len(labels.genres)), dtype=np.float32)
                genre[:, top] = 1.0
            return rows, (mood, genre)

        record("majority", start, majority(val_rows), majority(test_rows), "most frequent training mood; most frequent genre for every song")

        start = time.perf_counter()
        vectorizer = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, min_df=2, sublinear_tf=True)
        tfidf = _sklearn_variant(labels, train_rows, vectorizer.fit_transform(lyrics[train_rows]), _logreg, _ovr_logreg)
        val, test = ((rows, tfidf(vectorizer.transform(lyrics[rows]))) for rows in (val_rows, test_rows))
        record("tfidf_logreg", start, val, test, "class-balanced logistic regression; one-vs-rest for genre")

        start = time.perf_counter()
        has_audio = prep.catalog[CONTINUOUS_FEATURES].notna().any(axis=1).to_numpy()
        a_train, a_val, a_test = (rows[has_audio[rows]] for rows in (train_rows, val_rows, test_rows))
        if len(a_train) and len(a_test):
            audio = _sklearn_variant(labels, a_train, prep.audio[a_train], _mlp(seed), _mlp(seed))
            record("audio_only", start, (a_val, audio(prep.audio[a_val])), (a_test, audio(prep.audio[a_test])),
                   f"MLP on scaled audio features; only songs with audio ({len(a_train)} train, {len(a_test)} test)")
        else:
            results["audio_only"] = {"train_s": 0.0, "n_test": 0, "note": "no songs with audio features in train or test", "metrics": {}}

        dev = resolve_device(options.device)
        start = time.perf_counter()
        frozen = TBert(prep.encoder, n_topics=prep.topics.shape[1], audio_dim=prep.audio.shape[1], n_moods=1, n_genres=1).to(dev)
        pooled = {split: predict(frozen, prep, pos, dev)["pooled"] for split, pos in (("train", train_pos), ("val", val_pos), ("test", test_pos))}
        frozen.to("cpu")
        simple = _sklearn_variant(labels, train_rows, pooled["train"], _mlp(seed), _mlp(seed))
        record("simple_bert", start, (val_rows, simple(pooled["val"])), (test_rows, simple(pooled["test"])), "pretrained encoder mean-pool (frozen) + MLP")

        for name, side in (("finetuned_encoder", False), ("tbert", True)):
            start = time.perf_counter()
            result = fit(prep, options, use_topics=side, use_audio=side, label=name)
            val_pred, test_pred = (predict(result.model, prep, pos, dev) for pos in (val_pos, test_pos))
            tuned = f"top {result.model.n_layers - prep.freeze_layers} encoder layers fine-tuned" if prep.freeze_layers < result.model.n_layers else "encoder frozen"
            record(name, start, (val_rows, (val_pred["mood"], val_pred["genre"])), (test_rows, (test_pred["mood"], test_pred["genre"])), f"{tuned}, {'+ topics + audio' if side else 'text only'}; best epoch {result.best_epoch}")
            if side and model_out is not None:
                tbert = result
                notes.append(f"tBERT checkpoint saved to {model_out}")

    report = {
        "settings": {
            "max_length": options.max_length, "max_chunks": options.max_chunks, "freeze_layers": options.freeze_layers, "precision": prep.precision,
            "epochs": options.epochs, "lr": options.lr, "head_lr": options.head_lr, "patience": options.patience,
            "topics_k": int(prep.topics.shape[1]), "min_genre_songs": options.min_genre_songs, "sampler": options.sampler, "seed": seed,
            "encoder": prep.encoder_path,
        },
        "songs": {s: int(len(prep.split_rows(s))) for s in ("train", "val", "test")},
        "moods": labels.moods,
        "genres": labels.genres,
        "timings": prep.timings,
        "notes": notes,
        "variants": results,
    }
    out_dir = Path(out_dir)
    with atomic_path(out_dir, marker=COMPARE_FILE, marker_key="variants") as tmp:
        tmp.mkdir()
        write_json(tmp / COMPARE_FILE, report)
        (tmp / "compare.md").write_text(_markdown(report), encoding="utf-8")
        for task in ("mood_binary", "mood"):
            if any(task in r["metrics"] for r in results.values()):
                _confusion_png(results, task, tmp / f"confusion_{task}.png")
        if model_out is not None:
            # Last, while the report is still staged: a failure or a Ctrl-C while saving leaves
            # neither output, where saving during the variants published the checkpoint alone.
            save_checkpoint(model_out, prep, tbert, device=options.device)
    return report


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        "# Model comparison (test split)",
        "",
        f"Songs with labels: {report['songs']['train']} train, {report['songs']['val']} val, {report['songs']['test']} test. "
        f"Encoder `{Path(s['encoder']).parent.name}/{Path(s['encoder']).name}`, max_length {s['max_length']}, max_chunks {s['max_chunks']}, "
        f"{s['freeze_layers']} frozen layers, up to {s['epochs']} epochs (encoder lr {s['lr']}, head lr {s['head_lr']}, {s['precision']}), "
        f"LDA k={s['topics_k']}, sampler {s['sampler']}, seed {s['seed']}.",
        f"Moods: {', '.join(report['moods']) or 'none'}. Genres (at least {s['min_genre_songs']} training songs): {', '.join(report['genres']) or 'none'}.",
        "Precision and recall are macro averages; genre predictions use per-genre thresholds chosen on the validation split "
        "(the same rule for every variant); genre accuracy is exact-set match. "
        "Shared preparation (topics, audio scaler, frozen-layer cache) is not included in the per-variant train time: "
        + ", ".join(f"{k} {v:.1f}" for k, v in report["timings"].items()) + ".",
        "",
    ]
    lines += [f"- {n}" for n in report["notes"]]
    lines += ["", "| variant | notes |", "|---|---|"] + [f"| {name} | {r['note']} |" for name, r in report["variants"].items()]
    for task, title in TASK_TITLES.items():
        rows = [(name, r) for name, r in report["variants"].items() if task in r["metrics"]]
        if not rows:
            continue
        lines += ["", f"## {title}", "", "| variant | n | accuracy | precision | recall | micro F1 | macro F1 | train s |", "|---|---|---|---|---|---|---|---|"]
        for name, r in rows:
            m = r["metrics"][task]
            lines.append(f"| {name} | {m['n']} | {_fmt(m['accuracy'])} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['micro_f1'])} | {_fmt(m['macro_f1'])} | {r['train_s']:.1f} |")
        classes = rows[0][1]["metrics"][task]["classes"]
        lines += ["", "Per-class F1 (support in the header):", "", "| variant | " + " | ".join(f"{c} ({rows[-1][1]['metrics'][task]['per_class'][c]['support']})" for c in classes) + " |", "|---" * (len(classes) + 1) + "|"]
        for name, r in rows:
            pc = r["metrics"][task]["per_class"]
            lines.append(f"| {name} | " + " | ".join(_fmt(pc[c]["f1"]) for c in classes) + " |")
    return "\n".join(lines) + "\n"


def _confusion_png(results: dict[str, dict[str, Any]], task: str, path: Path) -> None:
    plt = pyplot()

    names = [n for n, r in results.items() if task in r["metrics"]]
    fig, axes = plt.subplots(2, 3, figsize=(13, 8))
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        m = results[name]["metrics"][task]
        cm = np.asarray(m["confusion"])
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(m["classes"])), m["classes"], rotation=45)
        ax.set_yticks(range(len(m["classes"])), m["classes"])
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
        ax.set_title(f"{name} (acc {m['accuracy']:.2f})")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.suptitle(TASK_TITLES[task] + " - test confusion matrices")
    fig.tight_layout()
    save_figure(fig, path)
