"""The six-way comparison on the demo catalogue (encoder cut to two layers, short chunks)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from test_model import two_layer_encoder  # noqa: F401  (session fixture shared with this module)

from training.compare import VARIANTS, compare
from training.options import TrainOptions
from training.model import load_model


def test_compare_writes_all_six_variants_and_the_tbert_checkpoint(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    out, model_out = tmp_path / "cmp", tmp_path / "tbert"
    report = compare(
        demo_catalog_df.head(200), out,
        TrainOptions(model=two_layer_encoder, max_length=32, max_chunks=1, freeze_layers=1, epochs=1, topics_k=3, min_genre_songs=3, seed=0, device="cpu"),
        model_out=model_out,
    )
    saved = json.loads((out / "compare.json").read_text())
    assert list(report["variants"]) == VARIANTS and set(saved["variants"]) == set(VARIANTS)
    for name in VARIANTS:
        metrics = saved["variants"][name]["metrics"]
        assert {"mood_binary", "mood", "genre"} <= set(metrics), name
        for task in metrics.values():
            assert 0.0 <= task["macro_f1"] <= 1.0 and 0.0 <= task["accuracy"] <= 1.0
    # Majority predicts one class, so its binary macro-F1 cannot exceed that class's half.
    assert saved["variants"]["majority"]["metrics"]["mood_binary"]["macro_f1"] <= 0.5
    assert "only songs with audio" in saved["variants"]["audio_only"]["note"]
    assert list(saved["variants"]["tfidf_logreg"]["genre_thresholds"]) == report["genres"]
    md = (out / "compare.md").read_text()
    for name in VARIANTS:
        assert f"| {name} |" in md
    assert (out / "confusion_mood_binary.png").stat().st_size > 1000
    assert (out / "confusion_mood.png").stat().st_size > 1000
    loaded = load_model(model_out)
    assert loaded.config["moods"] == report["moods"] and loaded.config["genres"] == report["genres"]
    assert loaded.config["metrics"]["test"]["mood"]["n"] == saved["variants"]["tbert"]["metrics"]["mood"]["n"]


def test_a_single_genre_gives_one_probability_column() -> None:
    import numpy as np

    from training.compare import _logreg, _ovr_logreg, _sklearn_variant
    from training.labels import Labels

    # scikit-learn reads one label column as a binary target and returns two columns: the
    # comparison then failed on a catalogue whose songs all share one genre list.
    rng = np.random.default_rng(0)
    genre = (rng.random((40, 1)) < 0.5).astype(np.float32)
    labels = Labels([], ["pop"], np.full(40, -1), genre, np.ones(40, dtype=bool))
    features = np.c_[genre[:, 0] + 0.1 * rng.normal(size=40), rng.normal(size=40)]
    _, probs = _sklearn_variant(labels, np.arange(40), features, _logreg, _ovr_logreg)(features)
    assert probs.shape == (40, 1) and (probs[genre[:, 0] == 1, 0].mean() > probs[genre[:, 0] == 0, 0].mean() + 0.3)
