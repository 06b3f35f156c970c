"""bench.audio_metric weighs each audio feature by what it says about two songs sharing a tag:
a feature that follows the genre gets weight, one that is noise gets none."""

import numpy as np

from bench.audio_metric import learned_audio
from recsys.audio import AudioSpace
from recsys.evaluate import Labels


def test_the_feature_that_follows_the_genre_gets_the_weight() -> None:
    rng = np.random.default_rng(0)
    genre = rng.integers(0, 2, 400)
    # Feature 0 sits at +1 for one genre and -1 for the other; feature 1 is noise.
    values = np.column_stack([np.where(genre == 1, 1.0, -1.0) + rng.normal(0, 0.3, 400), rng.normal(0, 1, 400)])
    audio = AudioSpace(values, ["energy", "liveness"])
    labels = Labels(mood=np.full(400, -1), genres=np.column_stack([genre == 0, genre == 1]))
    vectors, weights = learned_audio(audio, labels, np.arange(300))
    assert weights["energy"] > 1.9 and weights["liveness"] < 0.1  # mean 1 over the two
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    same, other = vectors[genre == 1] @ vectors[genre == 1][0], vectors[genre == 0] @ vectors[genre == 1][0]
    assert same.mean() > 0.9 and other.mean() < -0.9
    again, _ = learned_audio(audio, labels, np.arange(300))
    assert np.array_equal(vectors, again)
