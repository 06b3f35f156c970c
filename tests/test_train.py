"""The training loop on real weights (encoder cut to two layers): determinism, loss going down on
real lyrics, single-task catalogues, checkpoint output and CLI errors."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_model import two_layer_encoder  # noqa: F401  (session fixture shared with this module)

from recsys.catalog import load_catalog, save_catalog
from recsys.errors import RecsysError
from training.model import load_model
import numpy as np

from training.labels import Labels, genre_thresholds, neighbour_precision, score_tasks
from training.options import TrainOptions
from training.train import fit, predict, prepare, train

FAST = TrainOptions(max_length=32, max_chunks=1, topics_k=3, lda_passes=1, min_genre_songs=3, device="cpu")


def test_same_seed_gives_identical_run_and_loadable_checkpoint(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    df = demo_catalog_df.head(100)
    runs = [
        train(df, tmp_path / f"m{i}", replace(FAST, model=two_layer_encoder, epochs=1, freeze_layers=1, batch_size=16, seed=7))
        for i in range(2)
    ]
    assert runs[0].history == runs[1].history
    assert runs[0].metrics == runs[1].metrics
    a, b = load_model(tmp_path / "m0"), load_model(tmp_path / "m1")
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name
    assert a.config["moods"] == ["happy", "sad", "angry", "relaxed"]
    # The checkpoint records the settings the run used, not a hand-copied subset.
    assert {k: a.config["train"][k] for k in ("epochs", "batch_size", "seed", "warmup", "patience", "max_chunks", "min_genre_songs")} == {
        "epochs": 1, "batch_size": 16, "seed": 7, "warmup": 0.1, "patience": 2, "max_chunks": 1, "min_genre_songs": 3}
    assert a.config["max_length"] == 32
    assert runs[0].songs_per_s > 0 and runs[0].timings["total_s"] > 0
    assert set(runs[0].metrics["test"]) >= {"mood_binary", "mood", "genre"}
    thresholds = a.config["genre_thresholds"]
    assert list(thresholds) == a.config["genres"] and all(0.05 <= t <= 0.95 for t in thresholds.values())


def test_a_diverged_run_is_an_error_and_saves_nothing(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    diverging = replace(FAST, model=two_layer_encoder, epochs=1, freeze_layers=2, batch_size=16, head_lr=1e30)
    with pytest.raises(RecsysError, match="training diverged in epoch 1: the loss is not finite .*lower the learning rates"):
        train(demo_catalog_df.head(100), tmp_path / "m", diverging)
    assert not (tmp_path / "m").exists()


def test_genre_thresholds_maximise_validation_f1_per_genre() -> None:
    # Four songs, two genres. Genre 0: positives score 0.3 and 0.2, negatives 0.1 and 0.25. At
    # 0.05-0.10 all four are predicted (F1 2/3), at 0.15-0.20 three (F1 0.8), at 0.25 two (0.5):
    # the lowest best threshold is 0.15. Genre 1 has no positive here and keeps 0.5.
    truth = np.array([[1, 0], [1, 0], [0, 0], [0, 0]], dtype=np.float32)
    labels = Labels([], ["pop", "rock"], np.full(4, -1), truth, np.array([True, True, True, True]))
    probs = np.array([[0.3, 0.9], [0.2, 0.9], [0.1, 0.9], [0.25, 0.9]], dtype=np.float32)
    rows = np.arange(4)
    assert genre_thresholds(labels, rows, probs).tolist() == [0.15, 0.5]
    at_half = score_tasks(labels, rows, None, probs)["genre"]["per_class"]["pop"]
    tuned = score_tasks(labels, rows, None, probs, genre_thresholds(labels, rows, probs))["genre"]["per_class"]["pop"]
    assert at_half["f1"] == 0.0 and tuned["f1"] == pytest.approx(0.8)


def test_neighbour_precision_by_hand() -> None:
    # After centring, songs 0 and 1 point one way and songs 2 and 3 the other, so each song's
    # nearest neighbour is its pair. Mood (3 queries; song 3 has none): 0->1 and 1->0 share a mood,
    # 2->3 cannot: 2/3. Genre: 0 {pop} -> 1 {rock} and back share nothing, 2 {pop, rock} and
    # 3 {rock} share rock: 2/4.
    embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    genre = np.array([[1, 0], [0, 1], [1, 1], [0, 1]], dtype=np.float32)
    labels = Labels(["happy", "sad"], ["pop", "rock"], np.array([0, 0, 1, -1]), genre, np.ones(4, dtype=bool))
    scores = neighbour_precision(labels, np.arange(4), embeddings, k=1)
    assert scores == pytest.approx({"mood": 2 / 3, "genre": 0.5, "balanced": 7 / 12})


@pytest.mark.parametrize("select_on", ["retrieval", "loss"])
def test_best_epoch_follows_the_selection_criterion(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, select_on: str) -> None:  # noqa: F811
    options = replace(FAST, model=two_layer_encoder, freeze_layers=1, seed=0)
    prep = prepare(demo_catalog_df.head(120), options)
    result = fit(prep, replace(options, epochs=3, patience=3, batch_size=16, head_lr=2e-3, select_on=select_on))
    scores = [h["val_p@10_balanced"] if select_on == "retrieval" else -h["val_loss"] for h in result.history]
    assert len(result.history) == 3 and {"val_p@10_mood", "val_p@10_genre"} <= set(result.history[0])
    assert result.best_epoch == 1 + int(np.argmax(scores)), result.history
    with pytest.raises(RecsysError, match="--select-on"):
        fit(prep, replace(options, select_on="accuracy"))


def test_head_refit_keeps_the_better_head_by_validation_retrieval(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    options = replace(FAST, model=two_layer_encoder, freeze_layers=1, seed=0, precision="fp32", epochs=1, batch_size=16)
    prep = prepare(demo_catalog_df.head(120), options)
    val = prep.split_rows("val")

    def val_retrieval(model: torch.nn.Module) -> float:
        return neighbour_precision(prep.labels, prep.rows[val], predict(model, prep, val, torch.device("cpu"))["embedding"])["balanced"]

    joint = fit(prep, replace(options, refit_epochs=0))
    assert joint.refit is None
    refit = fit(prep, replace(options, refit_epochs=4, refit_batch_size=32))
    report = refit.refit
    assert report is not None and [h["epoch"] for h in report.history] == [1, 2, 3, 4]
    # The encoder and the joint training are untouched; only the head is refitted.
    assert joint.history == refit.history
    for name, weights in joint.model.state_dict().items():
        if name.startswith("encoder."):
            assert torch.equal(weights, refit.model.state_dict()[name]), name
    assert report.joint["balanced"] == pytest.approx(val_retrieval(joint.model))
    best = max(h["val_p@10_balanced"] for h in report.history)
    assert report.best["balanced"] == best and report.best_epoch == 1 + [h["val_p@10_balanced"] for h in report.history].index(best)
    # Kept only when it retrieves better, and then the model is the refit's best epoch's.
    assert report.kept == (best > report.joint["balanced"])
    assert val_retrieval(refit.model) == pytest.approx(best if report.kept else report.joint["balanced"])
    assert report.summary().startswith("head refit: epoch" if report.kept else "head refit: not kept")
    # A checkpoint records the refit with the settings.
    train(demo_catalog_df.head(120), tmp_path / "m", replace(options, refit_epochs=2, refit_batch_size=32, contrastive=0.5))
    saved = load_model(tmp_path / "m").config["train"]
    assert (saved["refit_epochs"], saved["refit_batch_size"], saved["contrastive"]) == (2, 32, 0.5)
    assert len(saved["refit"]["history"]) == 2 and isinstance(saved["refit"]["kept"], bool)


def test_cli_train_reports_the_head_refit(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from cli import app

    save_catalog(demo_catalog_df.head(100), tmp_path / "c.parquet")
    common = ["train", "--catalog", str(tmp_path / "c.parquet"), "--model", str(two_layer_encoder), "--max-length", "32", "--max-chunks", "1",
              "--topics-k", "3", "--min-genre-songs", "3", "--epochs", "1", "--device", "cpu"]
    result = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "m"), "--refit-epochs", "2", "--contrastive", "0.5"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^head refit: (epoch [12] of 2 kept|not kept, the jointly trained head retrieves at least as well); val neighbour P@10 mood ", result.output, re.M), result.output
    assert load_model(tmp_path / "m").config["train"]["contrastive"] == 0.5
    without = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "m0"), "--refit-epochs", "0"])
    assert without.exit_code == 0 and "head refit" not in without.output, without.output


def test_loss_goes_down_on_real_lyrics(real_sample_catalog_path: Path, two_layer_encoder: Path) -> None:  # noqa: F811
    from recsys.catalog import load_catalog

    df = load_catalog(real_sample_catalog_path)
    labelled = df[df["mood"].notna()]
    df = pd.concat([labelled[labelled["split"] == s].head(n) for s, n in (("train", 64), ("val", 8), ("test", 4))])
    options = replace(FAST, model=two_layer_encoder, freeze_layers=1, seed=0)
    prep = prepare(df, options)
    result = fit(prep, replace(options, epochs=3, batch_size=16, head_lr=2e-3, sampler="none"))
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0], losses


def test_catalogue_without_genres_trains_mood_only(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    df = demo_catalog_df.head(80).copy()
    df["genres"] = [[] for _ in range(len(df))]
    df.loc[df.index[:2], "lyrics"] = None  # labelled songs without lyrics are left out, and said to be
    result = train(df, tmp_path / "m", replace(FAST, model=two_layer_encoder, epochs=1, freeze_layers=2))
    assert any("mood head only" in n for n in result.notes)
    assert "2 labelled songs without lyrics left out of training (never indexed either)" in result.notes, result.notes
    assert "genre" not in result.metrics["test"]
    assert load_model(tmp_path / "m").genres == []


def test_bad_inputs_fail_with_one_line(demo_catalog_df: pd.DataFrame, tmp_path: Path) -> None:
    df = demo_catalog_df.head(50).copy()
    df["mood"], df["genres"] = None, [[] for _ in range(len(df))]
    with pytest.raises(RecsysError, match="the train split has no mood labels and fewer than two genres with at least 3 training songs"):
        train(df, tmp_path / "m", FAST)
    df["mood"] = "happy"
    with pytest.raises(RecsysError, match=r"the train split has only one mood \(happy\) and fewer than two genres"):
        train(df, tmp_path / "m", FAST)
    # One genre on every song teaches nothing either (it trained to a loss of 0 and reported F1 1.0).
    df["genres"] = [["rock"] for _ in range(len(df))]
    with pytest.raises(RecsysError, match=r"only one mood \(happy\) and fewer than two genres with at least 3 training songs \(--min-genre-songs sets that floor\); nothing to train on"):
        train(df, tmp_path / "m", FAST)
    with pytest.raises(RecsysError, match="the train split is empty"):
        train(demo_catalog_df.head(50).assign(split="test"), tmp_path / "m", FAST)
    # A catalogue read from a file is named by it in these messages.
    save_catalog(demo_catalog_df.head(50).assign(split="test"), tmp_path / "all_test.parquet")
    with pytest.raises(RecsysError, match=r"all_test.parquet: the train split is empty"):
        train(load_catalog(tmp_path / "all_test.parquet"), tmp_path / "m", FAST)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("x")
    with pytest.raises(RecsysError, match="notes: exists, is not empty and holds no config.json"):
        train(demo_catalog_df.head(50), tmp_path / "notes", FAST)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "x"


def test_a_lyric_too_long_to_train_on_whole_is_refused_before_the_topic_fit(demo_catalog_df: pd.DataFrame, tmp_path: Path) -> None:
    df = demo_catalog_df.head(50).copy()
    row = df.index[(df["split"] == "train") & df["mood"].notna()][0]
    df.loc[row, "lyrics"] = "love " * 10_000  # 10,000 tokens: 334 chunks of 32; they would all sit in memory in one step
    settings = replace(FAST, max_chunks=None, lda_passes=1000)  # a topic fit this long would stall the test: the check comes first
    with pytest.raises(RecsysError, match=r"makes 334 chunks of 32 tokens, .* pass --max-chunks \(at most 256\)"):
        train(df, tmp_path / "m", settings)
    assert not (tmp_path / "m").exists()


def test_encoder_settings_are_checked_before_the_topic_fit(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    df = demo_catalog_df.head(80)
    settings = replace(FAST, model=two_layer_encoder, lda_passes=1000)  # a topic fit this long would stall the test: the checks come first
    for name, option in (("min_genre_songs", "--min-genre-songs"), ("max_chunks", "--max-chunks")):
        with pytest.raises(RecsysError, match=f"{option} must be at least 1, got 0"):
            prepare(df, replace(settings, **{name: 0}))
    with pytest.raises(RecsysError, match="--max-length 600 exceeds this encoder's 512 positions"):
        prepare(df, replace(settings, max_length=600))
    # The tokenizer's own limit counts too (RoBERTa-style models list two positions they cannot use).
    shorter = shutil.copytree(two_layer_encoder, tmp_path / "short-encoder")
    config = json.loads((shorter / "tokenizer_config.json").read_text())
    (shorter / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 256}))
    with pytest.raises(RecsysError, match="--max-length 300 exceeds this encoder's 256 positions"):
        prepare(df, replace(settings, model=shorter, max_length=300))
    with pytest.raises(RecsysError, match="topics: a topic count must be at least 1, got 0"):
        prepare(df, replace(FAST, model=two_layer_encoder, topics_k=0))
    with pytest.raises(RecsysError, match="topics: a topic count must be at least 1, got -2"):
        prepare(df, replace(FAST, model=two_layer_encoder, topics_grid=(3, -2)))
    train(df, tmp_path / "m", replace(FAST, model=two_layer_encoder, epochs=1))
    with pytest.raises(RecsysError, match="a trained recsys checkpoint; training starts from a plain Hugging Face encoder"):
        prepare(df, replace(settings, model=tmp_path / "m"))


def test_cli_train_reports_errors_on_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, ["train", "--catalog", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no such catalogue file" in result.output


@pytest.mark.parametrize(("options", "message"), [
    ({"batch_size": -4}, "--batch-size must be at least 1, got -4"), ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
    ({"head_lr": float("nan")}, "--head-lr must be a positive number, got nan"), ({"lr": -1.0}, "--lr must be a positive number, got -1.0"),
    ({"head_lr": 0.0}, "--head-lr must be a positive number"), ({"epochs": 0}, "--epochs must be at least 1"),
    ({"patience": 0}, "--patience must be at least 1, got 0"),
    ({"max_chunks": 300}, "--max-chunks must be at most 256"),
    ({"refit_epochs": -1}, "--refit-epochs must be 0 \\(no refit\\) or more, got -1"),
    ({"refit_batch_size": 0}, "--refit-batch-size must be at least 1, got 0"),
    ({"contrastive": float("nan")}, "--contrastive must be a number, 0 or more, got nan"), ({"contrastive": -0.5}, "--contrastive must be a number, 0 or more"),
])
def test_unusable_training_settings_fail_before_any_work(demo_catalog_df: pd.DataFrame, tmp_path: Path, options: dict, message: str) -> None:
    from training.compare import compare

    # No encoder is given: reaching the preparation would fail differently (and take seconds).
    for run in (train, compare):
        with pytest.raises(RecsysError, match=message):
            run(demo_catalog_df.head(50), tmp_path / "out", replace(FAST, model=tmp_path / "no-encoder", **options))
    assert not (tmp_path / "out").exists()


def test_cli_refuses_outputs_that_would_swallow_an_input(demo_catalog_df: pd.DataFrame, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app
    from recsys.catalog import save_catalog

    (tmp_path / "m").mkdir()
    catalog = save_catalog(demo_catalog_df.head(50), tmp_path / "m" / "c.parquet")
    runs = {
        ("train", "--catalog", str(catalog), "--out", str(tmp_path / "m")): "the catalogue is --out",
        ("train", "--compare", "--catalog", str(catalog), "--out", str(tmp_path / "r"), "--save-model", str(tmp_path / "r" / "model")): "the --save-model is --out",
        ("train", "--compare", "--catalog", str(catalog), "--out", str(tmp_path / "r"), "--save-model", str(tmp_path / "r")): "the --save-model is --out",
        ("index", "build", "--catalog", str(catalog), "--out", str(tmp_path / "m")): "the catalogue is --out",
        # The option named is the one given: this said "the catalogue is --out".
        ("train", "--compare", "--catalog", str(catalog), "--out", str(tmp_path / "r"), "--save-model", str(catalog)): "the catalogue is --save-model",
    }
    for args, message in runs.items():
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 2 and message in result.output and result.output.strip().count("\n") == 0, result.output
    assert catalog.exists()


def test_a_checkpoint_listing_a_single_genre_still_builds_its_own_catalogue(demo_catalog_df: pd.DataFrame) -> None:
    from training.labels import check_label_sets

    df = demo_catalog_df.head(60).assign(genres=[["rock"] for _ in range(60)])
    moods = sorted(set(df.loc[df["split"] == "train", "mood"].dropna()), key=["happy", "sad", "angry", "relaxed"].index)
    # Trained before a single genre counted as none, the checkpoint lists it; the catalogue's rule now gives none.
    check_label_sets(df, {"moods": moods, "genres": ["rock"], "train": {"min_genre_songs": 3}}, "c.parquet")
    with pytest.raises(RecsysError, match="label set differs"):
        check_label_sets(df, {"moods": moods, "genres": ["rock", "jazz"], "train": {"min_genre_songs": 3}}, "c.parquet")


def test_labels_count_only_training_songs_with_lyrics(demo_catalog_df: pd.DataFrame, tmp_path: Path) -> None:
    from training.labels import label_sets

    df = demo_catalog_df.head(60).copy()
    train_rows = df.index[df["split"] == "train"]
    df["genres"] = [["rock"] if i % 2 else ["pop"] for i in range(len(df))]
    df.loc[train_rows[:3], "genres"] = pd.Series([["jazz"]] * 3, index=train_rows[:3])
    assert "jazz" in label_sets(df, 3)[1]
    # Never trained on, songs without lyrics cannot make a class the model would have to predict.
    df.loc[train_rows[:3], "lyrics"] = None
    assert "jazz" not in label_sets(df, 3)[1]
    df.loc[train_rows, "lyrics"] = None
    with pytest.raises(RecsysError, match="no song in the train split has lyrics; nothing to train on"):
        train(df, tmp_path / "m", FAST)
