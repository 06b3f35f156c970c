"""bench.head_refit feeds the head what training feeds it: the same songs per split, and text
vectors through which the checkpoint's head gives the embeddings training predicted."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from test_model import two_layer_encoder  # noqa: F401  (session fixture shared with this module)
from test_train import FAST

from bench.head_refit import split_inputs
from training.labels import neighbour_precision
from training.model import load_model
from training.refit import retrieval_precision
from training.train import predict, prepare, train


def test_split_inputs_match_what_training_saw(demo_catalog_df: pd.DataFrame, two_layer_encoder: Path, tmp_path: Path) -> None:  # noqa: F811
    df = demo_catalog_df.head(120).reset_index(drop=True)
    # No frozen layers: training's text vectors then come from the whole encoder, as the bench's do.
    options = replace(FAST, model=two_layer_encoder, freeze_layers=0, epochs=1, precision="fp32", refit_epochs=2)
    train(df, tmp_path / "m", options)
    checkpoint = load_model(tmp_path / "m")
    labels, inputs = split_inputs(checkpoint, df, precision="fp32")
    prep = prepare(df, options)
    for split, part in inputs.items():
        songs = prep.split_rows(split)
        assert np.array_equal(part.rows, prep.rows[songs]), split
        trained = predict(checkpoint.model, prep, songs, torch.device("cpu"))
        assert np.allclose(part.text.numpy(), trained["pooled"], atol=1e-4), split
        with torch.inference_mode():
            embedding = checkpoint.model.head(part.text, part.topics, part.audio)["embedding"].numpy()
        assert np.allclose(embedding, trained["embedding"], atol=1e-4), split
        expected = neighbour_precision(labels, part.rows, trained["embedding"])
        got = retrieval_precision(checkpoint.model, part, labels)
        assert got.keys() == expected.keys() and all(abs(got[k] - expected[k]) < 1e-9 for k in got), (got, expected)
