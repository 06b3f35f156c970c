"""Ranking metrics against hand-computed cases, relevance by held-out tags, bootstrap
intervals, and the whole evaluation on a real tiny artefact."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_recommend import write_tiny_artifacts

from recsys.artifacts import load_artifacts, update_manifest
from recsys.errors import RecsysError
from recsys.evaluate import (
    Labels,
    average_precision_at_k,
    bootstrap_ci,
    evaluate,
    head_probabilities,
    ndcg_at_k,
    nearest_by_cosine,
    paired_differences,
    precision_at_k,
    relevance_matrix,
    same_artist_at_k,
    share_at_k,
    system_rankings,
    tag_balanced_bootstrap_ci,
)
from recsys.recommend import Recommender
from recsys.schema import AUDIO_FEATURES

REL = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=bool)
N_REL = np.array([3, 0, 1])


def test_precision_at_k() -> None:
    np.testing.assert_allclose(precision_at_k(REL, 5), [0.4, 0.0, 0.2])
    np.testing.assert_allclose(precision_at_k(REL, 2), [0.5, 0.0, 0.5])
    # A list shorter than k still divides by k.
    np.testing.assert_allclose(precision_at_k(REL[:, :3], 10), [0.2, 0.0, 0.1])


def test_average_precision_at_k() -> None:
    # q0: hits at 1 and 3 -> (1 + 2/3) / min(5, 3); q1: nothing relevant -> 0; q2: 1/2 / 1.
    np.testing.assert_allclose(average_precision_at_k(REL, N_REL, 5), [(1 + 2 / 3) / 3, 0.0, 0.5])
    # Truncated at k=2 the normaliser is min(2, R).
    np.testing.assert_allclose(average_precision_at_k(REL, N_REL, 2), [0.5, 0.0, 0.5])


def test_ndcg_at_k() -> None:
    idcg3 = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    np.testing.assert_allclose(ndcg_at_k(REL, N_REL, 5), [(1 + 0.5) / idcg3, 0.0, 1 / np.log2(3)])
    perfect = np.array([[1, 1, 0]], dtype=bool)
    np.testing.assert_allclose(ndcg_at_k(perfect, np.array([2]), 3), [1.0])


def test_same_artist_at_k() -> None:
    keys = np.array(["abba", "abba", "queen", "", "", "abba"], dtype=object)
    ranked = np.array([[1, 2, 5, -1], [4, 0, 1, 2], [0, 1, 5, 3]])
    # q0 (abba): rows 1 and 5 of 4 slots; q3 (no artist): never; q2 (queen): none of its list.
    np.testing.assert_allclose(same_artist_at_k(ranked, np.array([0, 3, 2]), keys, 4), [0.5, 0.0, 0.0])
    np.testing.assert_allclose(same_artist_at_k(ranked, np.array([0, 3, 2]), keys, 2), [0.5, 0.0, 0.0])


def test_share_at_k_counts_flagged_songs_and_not_empty_slots() -> None:
    flagged = np.array([True, False, True, False, False, True])
    ranked = np.array([[1, 2, 5, -1], [4, 0, 1, 2], [-1, -1, -1, -1]])
    np.testing.assert_allclose(share_at_k(ranked, flagged, 4), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(share_at_k(ranked, flagged, 2), [0.5, 0.5, 0.0])


def test_bootstrap_interval() -> None:
    assert bootstrap_ci(np.full(20, 0.25), n_boot=200, seed=0) == pytest.approx((0.25, 0.25, 0.25))
    values = np.random.default_rng(1).random(200)
    mean, low, high = bootstrap_ci(values, n_boot=10_000, seed=3)
    assert low < mean < high and mean == pytest.approx(values.mean())
    # A 95% interval: a 90% one would be 16% narrower.
    assert high - low == pytest.approx(2 * 1.96 * values.std() / np.sqrt(200), rel=0.08)
    assert bootstrap_ci(values, n_boot=10_000, seed=3) == (mean, low, high)  # seeded


def test_tag_balanced_bootstrap_weighs_each_tag_equally_and_resamples_songs() -> None:
    # Two mood queries at 1 and six genre queries at 0: the mean of the tag types' means (0.5),
    # not of all 8 queries (0.25); constant values give a zero-width interval whatever the draw.
    mood, genre = (np.array([0, 1]), np.ones(2)), (np.arange(2, 8), np.zeros(6))
    assert tag_balanced_bootstrap_ci([mood, genre], n_boot=200, seed=0) == (0.5, 0.5, 0.5)
    # Songs that are both queries, with mood and genre figures that always add to 1: every resample
    # draws a song's two figures together, so the balanced mean cannot move (drawing the tag
    # types' queries separately gave this a 0.05-wide interval).
    x = np.random.default_rng(1).random(200)
    songs = np.arange(200)
    assert tag_balanced_bootstrap_ci([(songs, x), (songs, 1 - x)], n_boot=2_000, seed=3) == pytest.approx((0.5, 0.5, 0.5))
    # Figures that move together: twice the spread of one tag's mean, halved by the averaging, so
    # the one-tag interval itself (drawn from the same stream of song indices).
    assert tag_balanced_bootstrap_ci([(songs, x), (songs, x)], n_boot=2_000, seed=3) == pytest.approx(bootstrap_ci(x, n_boot=2_000, seed=3), rel=1e-9)
    # Songs may be listed in any order and only some songs carry both tags; seeded.
    shuffled = np.random.default_rng(2).permutation(200)
    partly = [(shuffled[:150], x[:150]), (np.arange(100, 200), x[100:])]
    assert tag_balanced_bootstrap_ci(partly, n_boot=500, seed=4) == tag_balanced_bootstrap_ci(partly, n_boot=500, seed=4)
    assert tag_balanced_bootstrap_ci(partly, n_boot=500, seed=4)[0] == pytest.approx((x[:150].mean() + x[100:].mean()) / 2)
    assert np.isnan(tag_balanced_bootstrap_ci([(songs, x), (np.array([], dtype=int), np.array([]))], n_boot=10, seed=0)[0])
    # bootstrap_ci draws exactly as it did before (its value at commit 8346550), so every per-tag
    # interval in the reports is unchanged.
    assert bootstrap_ci(np.array([0.1, 0.5, 0.9, 0.3, 0.0, 1.0, 0.7]), n_boot=50, seed=4) == pytest.approx((0.5, 0.28107142857142864, 0.7682142857142857), rel=1e-12)


def test_paired_differences_keep_queries_paired() -> None:
    per_query = {"hybrid": np.array([1.0, 0.0, 1.0, 0.5]), "same": np.array([1.0, 0.0, 1.0, 0.5]), "worse": np.array([0.0, 0.0, 1.0, 0.5])}
    diffs = paired_differences(per_query, "hybrid", n_boot=200, seed=0)
    assert set(diffs) == {"same", "worse"}
    # Identical per-query scores differ by exactly 0 in every resample, whatever their spread.
    assert diffs["same"] == {"mean": 0.0, "low": 0.0, "high": 0.0}
    assert diffs["worse"]["mean"] == pytest.approx(0.25) and 0.0 <= diffs["worse"]["low"] <= 0.25 <= diffs["worse"]["high"] <= 1.0
    assert paired_differences({"x": np.ones(3)}, "hybrid", n_boot=10, seed=0) == {}


def test_relevance_by_held_out_tags() -> None:
    songs = pd.DataFrame(
        {"mood": pd.array(["sad", "sad", "happy", None], dtype="string"), "genres": [["rock"], ["pop"], ["rock", "pop"], []]}
    )
    labels = Labels.from_songs(songs)
    np.testing.assert_array_equal(labels.relevant(0, np.array([1, 2, 3]), "mood"), [True, False, False])
    np.testing.assert_array_equal(labels.relevant(0, np.array([1, 2, 3]), "genre"), [False, True, False])
    np.testing.assert_array_equal(labels.relevant(0, np.array([1, 2, 3]), "any"), [True, True, False])
    rel, n_rel = relevance_matrix(labels, np.array([0, 3]), np.array([[1, 2, -1], [0, 1, 2]]), "mood")
    np.testing.assert_array_equal(rel, [[True, False, False], [False, False, False]])
    np.testing.assert_array_equal(n_rel, [1, 0])  # the query itself is not in its pool


def test_head_probabilities_against_hand_computed_brier() -> None:
    songs = pd.DataFrame({
        "split": ["test", "test", "test", "train"],
        "mood": pd.array(["sad", "happy", None, "sad"], dtype="string"),
        "genres": [["rock"], ["pop", "jazz"], ["rock"], ["pop"]],
        "mood_probs": [[0.2, 0.8], [0.6, 0.4], [0.5, 0.5], [0.0, 1.0]],
        "genre_probs": [[0.5, 0.9], [1.0, 0.0], [0.25, 0.75], [1.0, 0.0]],
    })
    report = head_probabilities(songs, {"mood_labels": ["happy", "sad"], "genre_labels": ["pop", "rock"]}, "test")
    # Mood: rows 0 and 1 (row 2 has no mood, row 3 is not a test song); squared errors summed
    # over classes: (0.04 + 0.04) and (0.16 + 0.16).
    assert report["mood"]["n_songs"] == 2 and report["mood"]["brier"] == pytest.approx((0.08 + 0.32) / 2)
    assert report["mood"]["classes"]["sad"] == {"songs": 1, "observed": 0.5, "predicted": pytest.approx(0.6)}
    # Genre: rows 0-2 ("jazz" is outside the vocabulary); per cell errors
    # (0.25, 0.01), (0, 0), (0.0625, 0.0625), averaged over 6 cells.
    assert report["genre"]["n_songs"] == 3 and report["genre"]["brier"] == pytest.approx((0.25 + 0.01 + 0.125) / 6)
    assert report["genre"]["classes"]["rock"] == {"songs": 2, "observed": pytest.approx(2 / 3), "predicted": pytest.approx(1.65 / 3)}
    # What the filters would take for these songs: mood sad and happy, both right; genres
    # {rock, pop} (0.5 counts), {pop} and {rock}: 3 of 4 are tags, and they name all 3 tags.
    assert report["mood"]["filter_labels"] == {"precision": 1.0, "recall": 1.0}
    assert report["genre"]["filter_labels"] == {"precision": 0.75, "recall": 1.0}
    # A plain-encoder build has no heads to report.
    assert head_probabilities(songs, {}, "test") == {}


def test_evaluate_on_tiny_artefacts(tmp_path) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    report = evaluate(artifacts, tmp_path / "eval", ks=(5, 10), n_boot=100, seed=0)
    assert report["n_queries"] == 2  # rows 0 and 6 are the test songs
    assert "the artefacts were never tuned: the hybrid runs at the default w = 0.5, a = 0, e = 0; run recsys tune first" in report["warnings"]
    systems = report["results"]["mood"]["systems"]
    assert set(systems) == {"random", "tfidf", "bm25", "minilm", "audio", "era", "embedding", "hybrid", "rrf"}
    # Embedding neighbours of row 0 (0 deg) are rows 2, 1, 5, 7, 6: two sad songs in the top 5;
    # row 6 is the only angry song, so its precision is 0.
    assert systems["embedding"]["precision@5"]["mean"] == pytest.approx((2 / 5 + 0) / 2)
    # Row 6's only same-artist song (row 2, Cid Red) is among the 7 others listed; row 0 has none.
    assert systems["embedding"]["same-artist@10"]["mean"] == pytest.approx((0 + 1 / 10) / 2)
    # Every song but row 7 has audio: each query's 7 neighbours hold 6 with audio in 10 slots.
    assert systems["embedding"]["with-audio@10"]["mean"] == pytest.approx(6 / 10)
    assert systems["embedding"]["with-year@10"]["mean"] == pytest.approx(7 / 10)  # every song has a year
    for values in systems.values():
        for metric in values.values():
            assert 0.0 <= metric["low"] <= metric["mean"] <= metric["high"] <= 1.0
    assert report["results"]["mood"]["queries_with_audio"] == 1.0
    diffs = report["results"]["mood"]["hybrid_minus"]
    assert set(diffs) == set(systems) - {"hybrid"}
    p10 = {name: values["precision@10"]["mean"] for name, values in systems.items()}
    assert diffs["embedding"]["mean"] == pytest.approx(p10["hybrid"] - p10["embedding"])
    saved = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert saved["results"]["genre"]["n_queries"] == 2
    # Balanced: the mean of the mood and genre precision@10, and the paired hybrid-minus of the same.
    genre_p10 = {name: values["precision@10"]["mean"] for name, values in report["results"]["genre"]["systems"].items()}
    balanced = saved["balanced"]
    assert set(balanced["systems"]) == set(systems) and set(balanced["hybrid_minus"]) == set(systems) - {"hybrid"}
    for name in systems:
        assert balanced["systems"][name]["mean"] == pytest.approx((p10[name] + genre_p10[name]) / 2)
    assert balanced["hybrid_minus"]["tfidf"]["mean"] == pytest.approx((p10["hybrid"] + genre_p10["hybrid"] - p10["tfidf"] - genre_p10["tfidf"]) / 2)
    markdown = (tmp_path / "eval" / "evaluation.md").read_text()
    assert "## mood (2 queries, 100% with audio features, 100% with a year)" in markdown and "| hybrid |" in markdown and "Hybrid minus each system" in markdown
    assert "## Balanced precision@10 (the mean of the mood and genre figures, as tuning weighs them)" in markdown
    assert "## mood probabilities shown by --explain (2 test songs, Brier" in markdown
    assert "- Queries: the 2 test-split songs carrying a mood or a genre label" in markdown and "- Pool: all: every indexed song" in markdown
    assert "- hybrid: a = 0.0000, e = 0.0000, n_candidates = 100, w = 0.5000" in markdown  # the weights read as numbers, not as JSON
    assert (tmp_path / "eval" / "evaluation_p10.png").stat().st_size > 1000


def test_hybrid_and_rrf_rankings_are_the_served_rankers(tmp_path) -> None:
    update_manifest(write_tiny_artifacts(tmp_path / "a"), blend_weight=0.3, audio_weight=0.8, era_weight=0.9)
    artifacts = load_artifacts(tmp_path / "a")
    rankings, notes = system_rankings(artifacts, np.array([0, 6]), 5)
    assert (notes["hybrid"]["w"], notes["hybrid"]["a"], notes["hybrid"]["e"]) == (0.3, 0.8, 0.9)
    served, rrf = Recommender(artifacts), Recommender(artifacts, fusion="rrf")
    without_audio, without_era = Recommender(artifacts, audio_weight=0.0), Recommender(artifacts, era_weight=0.0)
    for i, q in enumerate((0, 6)):
        assert rankings["hybrid"][i].tolist() == [r["row"] for r in served.similar(q, k=5)]
        assert rankings["hybrid_no_audio"][i].tolist() == [r["row"] for r in without_audio.similar(q, k=5)]
        assert rankings["hybrid_no_era"][i].tolist() == [r["row"] for r in without_era.similar(q, k=5)]
        assert rankings["rrf"][i].tolist() == [r["row"] for r in rrf.similar(q, k=5)]
    # Both terms matter here.
    assert rankings["hybrid"].tolist() != rankings["hybrid_no_audio"].tolist() and rankings["hybrid"].tolist() != rankings["hybrid_no_era"].tolist()


def test_the_era_system_ranks_the_nearest_years_and_skips_songs_without_one(tmp_path) -> None:
    def years(songs) -> None:
        songs["year"] = pd.array([1970, 1972, 1990, 1969, 2020, 1971, None, 1980], dtype="Int64")

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=years))
    rankings, notes = system_rankings(artifacts, np.array([0, 6]), 7)
    # Row 0 (1970): 1969 and 1971 tie one year away (random order), then 1972, 1980, 1990, 2020;
    # row 6 has no year, so no list, and it is never recommended.
    assert set(rankings["era"][0, :2].tolist()) == {3, 5} and rankings["era"][0, 2:6].tolist() == [1, 7, 2, 4]
    assert rankings["era"][0, 6] == -1 and (rankings["era"][1] == -1).all()
    assert "queries without a year get no list" in notes["era"]


def test_labelled_pool_recommends_only_tagged_songs(tmp_path) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    labels = Labels.from_songs(artifacts.songs)
    allowed = labels.has("genre")  # row 7 has no genre
    rankings, _ = system_rankings(artifacts, np.array([0, 6]), 10, allowed=allowed)
    for name, ranked in rankings.items():
        shown = ranked[ranked >= 0]
        assert allowed[shown].all() and 7 not in shown, name
    assert (rankings["embedding"][0, :5] == [2, 1, 5, 6, 3]).all()  # row 7 (50 deg) skipped
    report = evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=50, pool="labelled")
    assert report["pool"] == "labelled" and "pool: labelled" in (tmp_path / "eval" / "evaluation.md").read_text()
    # Genre, embedding, top 5: song 0 (folk) gets 2, 1, 5, 6, 3 (two folk); song 6 (rock) gets
    # 5, 3, 1, 4, 2 (two rock) with the pool, but 7, 5, 3, 1, 4 (one rock) over all songs.
    labelled = report["results"]["genre"]["systems"]["embedding"]["precision@5"]["mean"]
    everyone = evaluate(artifacts, tmp_path / "eval_all", ks=(5,), n_boot=50)["results"]["genre"]["systems"]["embedding"]["precision@5"]["mean"]
    assert (labelled, everyone) == (pytest.approx(0.4), pytest.approx(0.3))


def test_a_candidate_table_widens_past_a_small_pool_and_pads_short_lists(tmp_path) -> None:
    from recsys.evaluate import CandidateTable

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    allowed = Labels.from_songs(artifacts.songs).has("genre")  # all but song 7
    # One candidate per retriever is too few for a depth of 5: N grows until all songs are candidates.
    table = CandidateTable.build(Recommender(artifacts, n_candidates=1), np.array([0, 6]), allowed=allowed, depth=5)
    assert table.valid.sum(axis=1).tolist() == [6, 6]
    assert table.take(table.ranked(6, weight=1.0))[0].tolist() == [2, 1, 5, 6, 3, 4]  # by cosine alone
    # Two allowed songs the first lists miss: N grows (x4) until they are candidates.
    few = np.zeros(len(allowed), dtype=bool)
    few[[3, 4]] = True
    widened = CandidateTable.build(Recommender(artifacts, n_candidates=1), np.array([0]), allowed=few, depth=2)
    assert sorted(widened.rows[0][widened.valid[0]].tolist()) == [3, 4]
    # Without a pool: song 0 gets Grey Window (BM25) and Tears (FAISS), song 3 only Party (both):
    # its shorter list is padded, and padding is never ranked.
    short = CandidateTable.build(Recommender(artifacts, n_candidates=1), np.array([0, 3]))
    assert short.valid.sum(axis=1).tolist() == [2, 1]
    assert short.take(short.ranked(2, weight=1.0)).tolist() == [[2, 1], [4, -1]]


def test_each_tag_is_scored_on_the_test_songs_that_carry_it(tmp_path) -> None:
    def highway_without_genre_or_audio(songs: pd.DataFrame) -> None:
        songs.at[6, "genres"] = []
        songs.loc[6, AUDIO_FEATURES] = np.nan
        songs.loc[7, "split"] = "test"  # untagged: never a query

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=highway_without_genre_or_audio))
    report = evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=10)
    assert report["n_queries"] == 2
    mood, genre = report["results"]["mood"], report["results"]["genre"]
    assert (mood["n_queries"], genre["n_queries"]) == (2, 1)
    assert (mood["queries_with_audio"], genre["queries_with_audio"]) == (0.5, 1.0)
    # Genre: song 0 (folk) alone; its embedding neighbours 2, 1, 5, 7, 6 hold two folk songs.
    assert genre["systems"]["embedding"]["precision@5"]["mean"] == pytest.approx(2 / 5)
    rankings, _ = system_rankings(artifacts, np.array([6]), 7)
    assert rankings["audio"][0].tolist() == [-1] * 7  # a query without audio gets no list


def test_a_model_trained_on_other_splits_is_a_warning(tmp_path) -> None:
    from recsys.tune import tune_blend

    same = load_artifacts(write_tiny_artifacts(tmp_path / "same", params={"splits": "a" * 64, "model_splits": "a" * 64}))
    assert same.split_warning is None
    other = load_artifacts(write_tiny_artifacts(tmp_path / "other", params={"splits": "a" * 64, "model_splits": "b" * 64}))
    report = evaluate(other, tmp_path / "eval", ks=(5,), n_boot=10)
    assert any("trained on a catalogue whose train/val/test splits differ" in w for w in report["warnings"])
    assert tune_blend(other, k=2, save=False).warnings[0] == other.split_warning


def test_without_audio_the_audio_system_is_not_evaluated(tmp_path) -> None:
    def no_audio(songs: pd.DataFrame) -> None:
        songs.loc[:, AUDIO_FEATURES] = np.nan

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=no_audio))
    rankings, notes = system_rankings(artifacts, np.array([0, 6]), 5)
    assert "audio" not in rankings and notes["audio"] == "not evaluated: no song has audio features"
    report = evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=10)
    assert "audio" not in report["results"]["mood"]["systems"] and "hybrid" in report["results"]["mood"]["systems"]


def test_the_random_baseline_follows_the_seed(tmp_path) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    draws = [system_rankings(artifacts, np.array([0, 6]), 7, seed=seed)[0]["random"].tolist() for seed in (3, 3, 4)]
    assert draws[0] == draws[1] and draws[0] != draws[2]


def test_lexical_and_audio_baselines_by_hand(tmp_path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from recsys.text import tokenize
    from test_recommend import TINY

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    rankings, _ = system_rankings(artifacts, np.array([0]), 7)
    assert rankings["bm25"][0, :3].tolist() == [1, 5, 2]  # the only songs sharing a term, best first
    docs = [tokenize(t[6]) for t in TINY]
    tfidf = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True).fit_transform(docs)
    cosine = (tfidf[0] @ tfidf.T).toarray()[0]
    cosine[0] = -np.inf
    assert rankings["tfidf"][0].tolist() == np.argsort(-cosine, kind="stable")[:7].tolist()
    # Audio: Euclidean distance of standardised features; song 7 has none and is never listed.
    z = Recommender(artifacts).audio.z
    distance = ((z - z[0]) ** 2).sum(axis=1)
    assert rankings["audio"][0].tolist() == [int(r) for r in np.argsort(distance, kind="stable") if r not in (0, 7)] + [-1]


def test_tbert_build_takes_its_off_the_shelf_row_from_a_baseline_build(tmp_path) -> None:
    def unit(degrees: list[float]) -> np.ndarray:
        angles = np.radians(degrees)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)

    # Three geometries with different neighbours of song 0: TINY's angles (2, 1, 5, 7, 6), the
    # "tBERT" embedding at -30 degrees per row (1, 2, 3, 4, ...), and pooled vectors at 70, 60,
    # ..., 10 degrees for rows 1..7 (7, 6, 5, 4, 3).
    pooled = unit([0, 70, 60, 50, 40, 30, 20, 10])
    plain = load_artifacts(write_tiny_artifacts(tmp_path / "plain", pooled=pooled))
    tbert = load_artifacts(write_tiny_artifacts(tmp_path / "tbert", embeddings=unit([-30.0 * i for i in range(8)]), model_kind="tbert", pooled=pooled))
    queries = np.array([0, 6])

    alone, notes = system_rankings(tbert, queries, 5)
    assert "minilm" not in alone and "not evaluated" in notes["minilm"]
    assert alone["encoder"][0].tolist() == [7, 6, 5, 4, 3]  # pooled.npy
    assert alone["embedding"][0, :4].tolist() == [1, 2, 3, 4]  # embeddings.npy

    with_baseline, notes = system_rankings(tbert, queries, 5, baseline=plain)
    assert with_baseline["minilm"][0].tolist() == [7, 6, 5, 4, 3]  # the baseline's pooled.npy, not its embeddings (2, 1, 5, ...)
    own, _ = system_rankings(plain, queries, 5)
    assert (with_baseline["minilm"] == own["minilm"]).all() and own["embedding"][0].tolist() == [2, 1, 5, 7, 6]
    assert str(plain.path) in notes["minilm"] and "off the shelf" in notes["minilm"]
    report = evaluate(tbert, tmp_path / "eval", ks=(5,), n_boot=20, baseline=plain)
    assert report["baseline"] == str(plain.path)
    assert {"minilm", "encoder"} <= set(report["results"]["mood"]["systems"])


@pytest.mark.parametrize(
    ("artifacts_kind", "baseline_kind", "baseline_ids", "message"),
    [
        ("tbert", "tbert", "id", "must be a plain-encoder build"),
        ("tbert", "encoder", "other", "built from other songs"),
        ("encoder", "encoder", "id", "its own off-the-shelf baseline"),
    ],
)
def test_bad_baseline_is_one_clear_error(tmp_path, artifacts_kind, baseline_kind, baseline_ids, message) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a", model_kind=artifacts_kind))
    baseline = load_artifacts(write_tiny_artifacts(tmp_path / "b", model_kind=baseline_kind, id_prefix=baseline_ids))
    with pytest.raises(RecsysError, match=message):
        evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=10, baseline=baseline)
    assert not (tmp_path / "eval").exists()



def test_bad_cutoffs_bootstrap_and_out_are_one_clear_error(tmp_path) -> None:
    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a"))
    # Past the 100 candidates, precision@500 scored the hybrid's 200-song lists against baselines
    # ranking every song, and `similar -k 500` searches deeper than any shallower cut-off's pool.
    for ks in ((0, 10), (10, 101), (10, 500), (10, 1_000_000)):
        with pytest.raises(RecsysError, match=r"--k values must be between 1 and 100 \(the candidates each retriever gives a query\), got \["):
            evaluate(artifacts, tmp_path / "eval", ks=ks)
    for n_boot in (0, -5, 10**9):  # a billion resamples would be a 600 GB array on the real test split
        with pytest.raises(RecsysError, match=rf"--bootstrap must be between 1 and 10,000 resamples, got '{str(n_boot)[:5]}"):
            evaluate(artifacts, tmp_path / "eval", n_boot=n_boot)
    (tmp_path / "report.txt").write_text("keep")
    with pytest.raises(RecsysError, match="report.txt: is a file"):
        evaluate(artifacts, tmp_path / "report.txt", n_boot=10)
    assert (tmp_path / "report.txt").read_text() == "keep"


def test_reports_replace_only_earlier_reports_and_stay_whole(tmp_path) -> None:
    built = write_tiny_artifacts(tmp_path / "a")
    artifacts = load_artifacts(built)
    # One or two resamples give intervals that can miss the mean: the chart still draws.
    first = evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=1, seed=5)
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["evaluation.json", "evaluation.md", "evaluation_p10.png"]
    second = evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=2, seed=5)
    assert first["bootstrap"] == 1 and second["bootstrap"] == 2
    for out in (built, built / "eval"):
        with pytest.raises(RecsysError, match="overlaps the artefact directory"):
            evaluate(artifacts, out, n_boot=10)
    load_artifacts(built, verify="full")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "evaluation.json").write_text('{"name": "my app"}')
    with pytest.raises(RecsysError, match="holds no evaluation.json of recsys's"):
        evaluate(artifacts, tmp_path / "web", n_boot=10)
    # A link to an earlier report: before, exit 1 naming a hidden temporary ("Not a directory").
    (tmp_path / "link").symlink_to(tmp_path / "eval")
    with pytest.raises(RecsysError, match=r"link: is a symbolic link; give the directory itself \(.*eval\)"):
        evaluate(artifacts, tmp_path / "link", n_boot=10)
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["bootstrap"] == 2


def test_nearest_by_cosine_gives_ties_at_the_cut_to_the_lower_rows() -> None:
    # Inner products with query 0 are the pattern below: twelve songs tie at the top score 2, so
    # the top 3 are the three lowest of them, whichever a partition would have picked.
    pattern = [1, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 1, 2, 2, 1, 1, 1, 2, 0, 2, 2, 0, 1, 2, 1, 0, 2, 2, 2, 0, 0,
               2, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 2, 1, 1, 0, 1, 2, 1, 1]
    vectors = np.array([[1.0, 0.0]] + [[float(v), 0.0] for v in pattern])
    assert nearest_by_cosine(vectors, np.array([0]), 3).tolist() == [[8, 10, 13]]
    # Only two songs allowed besides the query: the third slot stays empty (-1).
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[[0, 2, 8]] = True
    assert nearest_by_cosine(vectors, np.array([0]), 3, allowed).tolist() == [[8, 2, -1]]


def test_no_balanced_summary_when_one_tag_type_has_no_queries(tmp_path) -> None:
    def no_test_genres(songs: pd.DataFrame) -> None:
        for row in (0, 6):
            songs.at[row, "genres"] = []

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=no_test_genres))
    report = evaluate(artifacts, tmp_path / "eval", ks=(5,), n_boot=10)
    assert set(report["results"]) == {"mood"} and report["balanced"] == {}
    assert "Balanced precision@10" not in (tmp_path / "eval" / "evaluation.md").read_text()
