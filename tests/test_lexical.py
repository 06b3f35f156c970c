"""BM25Index against rank_bm25 (the reference) on real lyrics and the demo catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rank_bm25 import BM25Okapi

from recsys.errors import RecsysError
from recsys.lexical import BM25Index
from recsys.vectors import best_indices
from recsys.text import Tokenizer, tokenize


@pytest.fixture(scope="module")
def real_tokens(shared_data: Path) -> list[list[str]]:
    lyrics = pd.read_csv(shared_data / "joined" / "songs_joined.csv", usecols=["lyrics"], nrows=500)["lyrics"]
    return [tokenize(text) for text in lyrics.fillna("")]


def _queries(token_lists: list[list[str]], n: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    docs = [t for t in token_lists if t]
    queries = []
    for _ in range(n):
        doc = docs[rng.integers(len(docs))]
        queries.append([str(t) for t in rng.choice(doc, size=min(30, len(doc)))])
    return queries


def _assert_matches_rank_bm25(token_lists: list[list[str]], queries: list[list[str]]) -> None:
    ours, ref = BM25Index.build(token_lists), BM25Okapi(token_lists)
    for query in queries:
        assert np.abs(ours.scores(query) - ref.get_scores(query)).max() < 1e-9


@pytest.mark.realdata
def test_scores_equal_rank_bm25_on_real_lyrics(real_tokens: list[list[str]]) -> None:
    queries = _queries(real_tokens, 20, seed=0)
    # Duplicated and unknown terms: rank_bm25 adds a repeated term once per occurrence and 0 for
    # a term it has never seen.
    queries.append(queries[0][:3] * 3 + ["notawordinanysong"])
    _assert_matches_rank_bm25(real_tokens, queries)


def test_scores_equal_rank_bm25_on_demo_catalogue(request: pytest.FixtureRequest) -> None:
    pytest.importorskip("recsys.demo")
    demo: pd.DataFrame = request.getfixturevalue("demo_catalog_df")
    tokens = [tokenize(text) for text in demo["lyrics"]]
    _assert_matches_rank_bm25(tokens, _queries(tokens, 10, seed=1))


def test_negative_idf_is_floored_like_rank_bm25() -> None:
    # "love" is in 3 of 4 songs: raw idf < 0, so both floor it at epsilon * mean idf.
    docs = [["love", "night"], ["love", "rain"], ["love", "fire", "fire"], ["sea"]]
    ours, ref = BM25Index.build(docs), BM25Okapi(docs)
    assert ours.idf[ours.column("love")] == pytest.approx(ref.idf["love"])
    np.testing.assert_allclose(ours.scores(["love", "fire"]), ref.get_scores(["love", "fire"]), atol=1e-12)


def test_top_k_orders_excludes_and_breaks_ties_by_row() -> None:
    docs = [["rain"], ["sun"], ["rain", "rain", "cloud"], ["rain"], ["snow"]]
    index = BM25Index.build(docs)
    rows, scores = index.top_k(["rain"], 3)
    # Rows 0 and 3 tie; the longer row 2 is pushed down by length normalisation.
    np.testing.assert_array_equal(rows, [0, 3, 2])
    assert scores[0] == scores[1] > scores[2]
    rows, _ = index.top_k(["rain"], 2, exclude=0)
    np.testing.assert_array_equal(rows, [3, 2])
    assert index.top_k(["rain"], 10, exclude=[0, 1])[0].tolist() == [3, 2, 4]


def test_keywords_and_matched_terms() -> None:
    docs = [["ocean", "ocean", "ocean", "wave", "night"], ["night", "city"], ["night", "fire"], ["ocean", "city"]]
    index = BM25Index.build(docs)
    assert index.keywords(0, k=2) == ["ocean", "wave"]
    assert index.matched_terms(["wave", "city", "night", "unknown"], 0, k=5) == ["wave", "night"]
    norms = np.sqrt(np.asarray(index.tfidf_vectors.multiply(index.tfidf_vectors).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0)


def test_tfidf_vectors_equal_scikit_learn(request: pytest.FixtureRequest) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [tokenize(text) for text in request.getfixturevalue("demo_catalog_df")["lyrics"].head(200)]
    ours = BM25Index.build(docs)
    reference = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True)
    expected = reference.fit_transform(docs).toarray()[:, [reference.vocabulary_[t] for t in ours.terms]]
    np.testing.assert_allclose(ours.tfidf_vectors.toarray(), expected, atol=1e-12)


def test_tokens_fold_accents_and_letters_without_a_decomposition() -> None:
    # NFKD alone drops letters such as ø and ß, which Unicode does not split into base + accent.
    assert tokenize("Søren sang Ærø's STRASSE straße Łódź Beyoncé ŒUVRE") == [
        "soren", "sang", "aeros", "strasse", "strasse", "lodz", "beyonce", "oeuvre"]


def test_every_script_gives_words_and_chinese_japanese_korean_give_pairs_and_chinese_characters() -> None:
    assert tokenize("Привет, мой друг! नमस्ते दुनिया Γειά σου") == ["привет", "мой", "друг", "नमस्ते", "दुनिया", "γεια", "σου"]
    # Marks that writers mostly leave out are folded as Latin accents are (a query typed without
    # them must find the lyric), Hindi vowel signs are not; Russian ё is е, as mostly printed, й stays й.
    assert tokenize("مَرْحَبًا ســـلام שָׁלוֹם ΣΙΣΥΦΟΣ Σίσυφος йод Звёзды") == ["مرحبا", "سلام", "שלום", "σισυφος", "σισυφος", "йод", "звезды"]
    # Invisible characters do not split words, compatibility forms do not leave capitals behind,
    # and the emoticons "ㅠㅠ" are no syllables.
    assert tokenize("lo\u00adve fi\u200dre Brand™ ｌｏｖｅ 좋아ㅠㅠ ㅋㅋ") == ["love", "fire", "brandtm", "love", "좋아"]
    # Korean particles glue to words: "사랑을" (love + object marker) and "사랑해" share "사랑".
    assert tokenize("사랑을 꿈") == ["사랑", "랑을", "꿈"]
    # A Chinese character is a word on its own, a kana or Hangul syllable (the particle "の") is not.
    assert tokenize("夜空の星") == ["夜空", "空の", "の星", "夜", "空", "星"]
    assert tokenize("人々") == ["人々", "人"]  # 々 repeats the character before it
    # A dash or a typographic apostrophe is no longer lost between two words.
    assert tokenize("rain—fire don’t can't stop’n") == ["rain", "fire", "stopn"]
    assert tokenize("K-pop사랑 love") == ["pop", "사랑", "love"]


def test_the_latin_only_tokenizer_of_earlier_builds_is_kept_as_it_was() -> None:
    latin_only = Tokenizer(latin_only=True)
    assert latin_only("사랑해 Привет rain—fire Søren") == ["rainfire", "soren"]
    ascii_lyrics = "Rain on the window, don't you cry (oh) tonight"
    assert latin_only(ascii_lyrics) == tokenize(ascii_lyrics) == ["rain", "window", "cry", "tonight"]
    # Earlier builds stored exactly these settings: more keys would refuse every one of them.
    assert set(latin_only.settings()) == {"name", "pattern", "min_len", "stop_words_sha256", "letter_folds"}
    assert Tokenizer.from_settings(latin_only.settings()) == latin_only
    assert Tokenizer.from_settings(Tokenizer().settings()) == Tokenizer()
    assert Tokenizer.from_settings({**Tokenizer().settings(), "min_len": 3}) is None


def test_a_query_in_another_script_finds_the_songs_in_it(tmp_path: Path) -> None:
    lyrics = [
        "밤하늘의 별을 보며 너를 사랑해",  # night sky, stars, I love you
        "Ночь и звёзды над рекой, я люблю тебя",
        "夜空の星を見ていた",
        "rain on the window tonight",
        "",
    ]
    index = BM25Index.build([tokenize(t) for t in lyrics])
    for query, song in (("사랑해요", 0), ("звезды", 1), ("星", 2)):
        scores = index.scores(index.tokenizer(query))
        assert int(np.argmax(scores)) == song and np.count_nonzero(scores) == 1
    index.save(tmp_path / "bm25")
    assert BM25Index.load(tmp_path / "bm25").terms == index.terms
    # The same songs indexed as before 2026-12-07: no term for any of these queries.
    latin_only = BM25Index.build([Tokenizer(latin_only=True)(t) for t in lyrics], tokenizer=Tokenizer(latin_only=True))
    latin_only.save(tmp_path / "latin_only")
    loaded = BM25Index.load(tmp_path / "latin_only")
    assert loaded.tokenizer == Tokenizer(latin_only=True)
    assert [loaded.tokenizer(q) for q in ("사랑해요", "звёзды", "星")] == [[], [], []]


def test_save_load_round_trip_and_refuses_mismatches(tmp_path: Path) -> None:
    docs = [["ocean", "wave"], ["night", "city", "city"], ["fire"]]
    index = BM25Index.build(docs, k1=1.2, b=0.6, epsilon=0.3)
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert (loaded.k1, loaded.b, loaded.epsilon) == (1.2, 0.6, 0.3)
    np.testing.assert_array_equal(loaded.scores(["city", "fire"]), index.scores(["city", "fire"]))

    meta_path = tmp_path / "bm25" / "meta.json"
    original = meta_path.read_text()
    meta = json.loads(original)
    for changed in ({"stop_words_sha256": "0" * 64}, {"letter_folds": None}):  # None: an index from before the folds
        meta_path.write_text(json.dumps({**meta, "tokenizer": {**meta["tokenizer"], **changed}}))
        with pytest.raises(RecsysError, match="tokenizer settings"):
            BM25Index.load(tmp_path / "bm25")
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RecsysError, match="format version 99"):
        BM25Index.load(tmp_path / "bm25")
    meta_path.write_text("[]")
    with pytest.raises(RecsysError, match="meta.json: expected a JSON object"):
        BM25Index.load(tmp_path / "bm25")
    meta_path.write_text(original)
    # Ids past the end (same file sizes, so only `recsys index verify` would see it) are one line.
    for matrix, use in (("counts", lambda i: i.document_tokens(0)), ("weights", lambda i: i.scores(["ocean"]))):
        ids = tmp_path / "bm25" / matrix / "indices.npy"
        kept = ids.read_bytes()
        np.save(ids, np.full_like(np.load(ids), 10**6))
        with pytest.raises(RecsysError, match=r"a stored (term|song) id lies outside 0\.\.\d+; the index files are damaged"):
            use(BM25Index.load(tmp_path / "bm25"))
        ids.write_bytes(kept)
    (tmp_path / "bm25" / "weights" / "data.npy").unlink()
    with pytest.raises(RecsysError, match="data.npy: missing"):
        BM25Index.load(tmp_path / "bm25")
    (tmp_path / "bm25" / "vocab.json").unlink()
    with pytest.raises(RecsysError, match="vocab.json: missing"):
        BM25Index.load(tmp_path / "bm25")


def test_best_indices_breaks_ties_by_index() -> None:
    scores = np.array([1.0, 3.0, 2.0, 3.0, 2.0, 2.0])
    # Three songs tie at 2.0 for the last place: the lowest index takes it, whatever the partition did.
    assert best_indices(scores, 3).tolist() == [1, 3, 2]
    assert best_indices(scores, 10).tolist() == [1, 3, 2, 4, 5, 0]
    assert best_indices(scores, 0).tolist() == []
    # NaN (a damaged vector's score) ranks last instead of breaking the partition.
    assert best_indices(np.array([1.0, np.nan, 2.0]), 3).tolist() == [2, 0, 1]
    assert best_indices(np.array([[np.nan, 1.0], [2.0, np.nan]]), 1).tolist() == [[1], [0]]
