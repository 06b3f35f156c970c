"""UMAP + K-Means clusters on tiny blobs: every UMAP fit lives in this module (one numba compile)."""

from __future__ import annotations

import numpy as np
import pytest

from index.clusters import Clusters, choose_k, cluster_keywords, cluster_songs, elbow, save_plots, song_language
from recsys.errors import RecsysError
from recsys.text import tokenize

pytestmark = pytest.mark.slow

WORDS = [["fire", "burn", "flame"], ["rain", "tears", "cry"], ["dance", "party", "night"], ["ocean", "wave", "sand"]]


def blobs(seed: int = 0, per: int = 20) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
    """Four well separated unit-norm blobs in 32-d, each with its own vocabulary plus shared words."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 32)) * 4
    truth = np.repeat(np.arange(4), per)
    x = centres[truth] + rng.normal(size=(len(truth), 32)) * 0.3
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    tokens = [WORDS[t] * 3 + ["love", "baby"] * 4 for t in truth]
    return x, tokens, truth


@pytest.fixture(scope="module")
def fitted() -> tuple[Clusters, Clusters, np.ndarray]:
    x, tokens, truth = blobs()
    kwargs = dict(k_range=(2, 6), n_neighbors=10, n_init=3, seed=7, progress=False)
    return cluster_songs(x, tokens, **kwargs), cluster_songs(x, tokens, **kwargs), truth


def test_same_seed_same_labels(fitted: tuple[Clusters, Clusters, np.ndarray]) -> None:
    first, second, _ = fitted
    assert np.array_equal(first.labels, second.labels)
    assert np.allclose(first.coords_2d, second.coords_2d)
    assert first.table == second.table


def test_recovers_the_four_blobs_with_their_keywords(fitted: tuple[Clusters, Clusters, np.ndarray]) -> None:
    from sklearn.metrics import adjusted_rand_score

    result, _, truth = fitted
    assert result.k == 4
    assert adjusted_rand_score(truth, result.labels) == pytest.approx(1.0)
    assert [row["k"] for row in result.table] == [2, 3, 4, 5, 6]
    assert result.coords_2d.shape == (80, 2)
    assert sum(result.sizes.values()) == 80
    # Each cluster's top keywords are its own blob's words, never the shared ones.
    for label, words in result.keywords.items():
        blob = int(np.bincount(truth[result.labels == label]).argmax())
        assert set(words[:3]) == set(WORDS[blob])
        assert "love" not in words[:3]
    assert result.to_json()["chosen_k"] == 4


def test_plots_are_written(fitted: tuple[Clusters, Clusters, np.ndarray], tmp_path) -> None:
    result, _, truth = fitted
    moods = [["happy", "sad", None, "angry"][t] for t in truth]
    paths = save_plots(result, moods, tmp_path / "plots")
    assert [p.name for p in paths] == ["k_selection.png", "umap_clusters.png", "umap_moods.png"]
    assert all(p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_choose_k_rule() -> None:
    # Silhouettes of 5 and 6 tie within 0.01; the distortion elbow is at 5, so 5 wins.
    table = [{"k": k, "distortion": d, "silhouette": s} for k, d, s in
             [(3, 100.0, 0.30), (4, 60.0, 0.40), (5, 20.0, 0.505), (6, 18.0, 0.51), (7, 16.0, 0.45)]]
    assert elbow([3, 4, 5, 6, 7], [100, 60, 20, 18, 16]) == 5
    assert choose_k(table) == 5
    assert choose_k(table, tie=0.0) == 6


def test_keywords_weigh_down_shared_words() -> None:
    tokens = [["love", "fire", "fire"], ["love", "rain"], ["love", "rain", "rain"]]
    words = cluster_keywords(tokens, np.array([0, 1, 1]), n_words=2)
    assert words[0] == ["fire"] and words[1] == ["rain", "love"]  # cluster 0 uses "love" less than the catalogue does


def test_a_word_every_cluster_uses_as_much_is_no_keyword_however_frequent() -> None:
    # Class-TF-IDF ranked "know" first in each cluster here: 20 of 22 tokens against 2.
    own = ["fire", "rain", "snow"]
    tokens = [["know"] * 20 + [own[c]] * 2 for c in range(3) for _ in range(5)]
    words = cluster_keywords(tokens, np.repeat(np.arange(3), 5))
    assert words == {0: ["fire"], 1: ["rain"], 2: ["snow"]}


def test_a_keyword_must_be_in_enough_of_its_cluster_s_songs() -> None:
    tokens = [["rare"] * 50 + ["rain"]] + [["rain", "love"]] * 99 + [["love"]] * 100
    words = cluster_keywords(tokens, np.repeat([0, 1], 100), min_song_share=0.02)
    assert "rare" not in words[0] and words[0][0] == "rain"


SPANISH = ["que el amor de mi vida es el corazón", "te quiero en el corazón que late", "el amor que me das"]
ENGLISH = ["come back to the river, come home", "the river runs, come with me", "river of light, come away"]


def test_a_song_s_language_is_the_function_word_list_that_covers_most_of_it() -> None:
    assert song_language(tokenize(SPANISH[0])) == "spanish"
    assert song_language(tokenize("Él está aquí con nosotros")) == "spanish"  # accents folded as the tokenizer does
    assert song_language(tokenize(ENGLISH[0])) is None  # 2 of 5 tokens are "come", an Italian function word, but only it
    assert song_language([]) is None


def test_function_words_of_the_cluster_s_language_are_no_keywords() -> None:
    # Before: "que", "el" and "de" led the Spanish cluster, as on the real catalogue.
    tokens = [tokenize(line) for line in SPANISH * 5 + ENGLISH * 5]
    words = cluster_keywords(tokens, np.repeat([0, 1], 15))
    assert set(words[0]) == {"amor", "corazon", "vida", "quiero", "late", "das"}
    # Italian lists "come" as a function word, but the songs that use it here are English.
    assert words[1][:2] == ["come", "river"]


def test_too_few_songs_is_one_line_error() -> None:
    with pytest.raises(RecsysError, match="at least"):
        cluster_songs(np.zeros((3, 4), dtype=np.float32), [[]] * 3, k_range=(4, 6))
