"""The hybrid ranker on a tiny real artefact directory: the rerank formula by hand (with and
without the audio term), RRF, filters, exclusion of the query song and the explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from recsys.artifacts import ArtifactWriter, load_artifacts
from recsys.errors import RecsysError
from recsys.audio import AudioSpace
from recsys.schema import AUDIO_FEATURES, CONTINUOUS_FEATURES
from recsys.dense import DenseIndex
from recsys.io import write_json
from recsys.lexical import BM25Index
from recsys.recommend import Filters, Recommender
from recsys.text import TOKENIZER, Tokenizer

# Eight songs; lyrics exist only here (the artefact keeps their tokens, never the text).
TINY = [
    # title, artist, year, split, mood, genres, lyrics, angle of the 2-d embedding (degrees)
    ("Rain Song", "Ann Blue", 1971, "test", "sad", ["folk"], "rain rain window grey tears rain", 0),
    ("Grey Window", "Bob Grey", 1975, "val", "sad", ["folk"], "window grey rain tears", 30),
    ("Tears", "Cid Red", 1999, "val", "sad", ["rock"], "tears tears guitar", 10),
    ("Sunny Day", "Dee Gold", 2005, "val", "happy", ["pop"], "sun dance party sun", 80),
    ("Party", "Dee Gold", 2010, "train", "happy", ["pop", "rock"], "party dance sun night", 90),
    ("Rain Song", "Eve Green", 1988, "train", "relaxed", ["folk"], "rain river calm", 45),
    ("Highway", "Cid Red", 1980, "test", "angry", ["rock"], "guitar highway loud engine", 60),
    ("Calm River", "Fay White", 2001, "train", None, [], "river calm water", 50),
]
MOOD_LABELS = ["happy", "sad", "angry", "relaxed"]


def write_tiny_artifacts(
    out: Path, embeddings: np.ndarray | None = None, model: str = "handmade-2d", model_kind: str = "encoder", id_prefix: str = "id",
    *, pooled: np.ndarray | None = None, edit: Callable[[pd.DataFrame], None] | None = None, params: dict | None = None,
    tokenizer: Tokenizer = TOKENIZER,
) -> Path:
    """Build a real artefact directory (BM25Index, DenseIndex, ArtifactWriter) for TINY; the
    embeddings are unit vectors at each song's angle unless given (e.g. real encoder vectors),
    and ``pooled.npy`` holds them too unless ``pooled`` is given. ``model_kind`` is what the
    manifest says built it ("encoder" plain, "tbert"); ``edit`` changes the song table in place
    before it is written (a missing year, another split); ``params`` adds manifest params;
    ``tokenizer`` makes the BM25 index."""
    tokens = [tokenizer(t[6]) for t in TINY]
    angles = np.radians([t[7] for t in TINY])
    emb = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32) if embeddings is None else embeddings
    rng = np.random.default_rng(0)
    songs = pd.DataFrame(
        {
            "song_id": [f"{id_prefix}{i:02d}" for i in range(len(TINY))],
            "title": [t[0] for t in TINY],
            "artist": [t[1] for t in TINY],
            "year": pd.array([t[2] for t in TINY], dtype="Int64"),
            "split": [t[3] for t in TINY],
            "mood": pd.array([t[4] for t in TINY], dtype="string"),
            "genres": [t[5] for t in TINY],
        }
    )
    for feature in AUDIO_FEATURES:
        songs[feature] = rng.random(len(TINY))
    songs.loc[7, AUDIO_FEATURES] = np.nan  # one song without audio
    songs["cluster"] = [0, 0, 0, 1, 1, 0, 2, 0]
    songs["mood_probs"] = [list(rng.dirichlet(np.ones(4))) for _ in TINY]
    songs["genre_probs"] = [[] for _ in TINY]
    if edit is not None:
        edit(songs)
    params = {"model": model, "model_kind": model_kind, "mood_labels": MOOD_LABELS, "genre_labels": [], **(params or {})}
    hashes = {"catalog": "tiny"}
    if Path(model).is_dir():  # a real encoder directory: recorded as a build records it, for free-text search
        from index.embed import model_hashes

        hashes.update(model_hashes(Path(model)))
    with ArtifactWriter(out, params=params, hashes=hashes) as stage:
        songs.to_parquet(stage / "songs.parquet", index=False)
        np.save(stage / "embeddings.npy", emb)
        np.save(stage / "embedding_mean.npy", np.zeros(emb.shape[1], dtype=np.float32))
        np.save(stage / "pooled.npy", emb if pooled is None else pooled)
        BM25Index.build(tokens, tokenizer=tokenizer).save(stage / "bm25")
        DenseIndex.build(emb, kind="flat").save(stage / "faiss.index")
        write_json(stage / "clusters.json", {"chosen_k": 3, "keywords": {"0": ["rain", "grey"], "1": ["party"], "2": ["guitar"]}})
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return load_artifacts(write_tiny_artifacts(tmp_path_factory.mktemp("tiny") / "artifacts"))


def test_linear_rerank_matches_hand_formula(tiny) -> None:
    rec = Recommender(tiny, weight=0.3)
    out = rec.similar(0, k=7)
    assert [r["row"] for r in out if r["row"] == 0] == []  # the query song is never recommended
    tokens = TOKENIZER(TINY[0][6])
    bm25 = BM25Index.build([TOKENIZER(t[6]) for t in TINY]).scores(tokens)
    bm25[0] = 0.0
    cos = np.cos(np.radians([t[7] for t in TINY]) - np.radians(TINY[0][7]))
    expected = 0.3 * cos + 0.7 * bm25 / bm25.max()
    for r in out:
        assert r["score"] == pytest.approx(expected[r["row"]], abs=1e-5)
        assert r["cosine"] == pytest.approx(cos[r["row"]], abs=1e-5)
        assert r["bm25"] == pytest.approx(bm25[r["row"]] / bm25.max(), abs=1e-6)
    order = sorted(range(1, 8), key=lambda i: (-expected[i], i))
    assert [r["row"] for r in out] == order
    assert out[0]["title"] == "Grey Window"  # shares rain, window, grey, tears
    assert [r["rank"] for r in out] == list(range(1, 8))


def _audio_cosines(artifacts, query: int) -> np.ndarray:
    """Audio cosine of ``query`` to every song, by hand: each continuous feature standardised
    over the songs that have it, missing -> 0, rows scaled to unit length."""
    values = artifacts.songs[CONTINUOUS_FEATURES].to_numpy(dtype=float)
    z = np.nan_to_num((values - np.nanmean(values, axis=0)) / np.nanstd(values, axis=0))
    norms = np.linalg.norm(z, axis=1)
    unit = z / np.where(norms > 0, norms, 1.0)[:, None]
    return unit @ unit[query]


def test_python_api_loads_a_directory_and_takes_titles(tiny) -> None:
    import subprocess
    import sys

    import recsys

    rec = recsys.Recommender.load(tiny.path, weight=0.3)
    # A title is resolved as `recsys similar` resolves it; the songs are those of its row.
    assert rec.find("tears") == 2 and rec.find("RAIN SONG", artist="eve") == 5
    by_title = rec.similar("Tears", k=4, filters=recsys.Filters(genre="folk"))
    assert by_title == rec.similar(2, k=4, filters=recsys.Filters(genre="folk"))
    assert [r["row"] for r in by_title] and all("folk" in r["genres"] for r in by_title)
    assert rec.similar("Rain Song", artist="Ann Blue", k=3) == rec.similar(0, k=3)
    with pytest.raises(RecsysError, match="2 songs match 'Rain Song'; name the artist .*Ann Blue.*Eve Green"):
        rec.similar("Rain Song")
    with pytest.raises(RecsysError, match="no song titled 'Moonlight'"):
        rec.find("Moonlight")
    with pytest.raises(RecsysError, match="artist narrows a title"):
        rec.similar(2, artist="Cid Red")
    # A song id, as the records give it, finds its row: the handle no artist is needed with.
    ids = rec.songs.values("song_id")
    assert [rec.find_id(song_id) for song_id in ids] == list(range(len(ids)))
    assert rec.find_id(f" {ids[5].upper()} ") == 5
    with pytest.raises(RecsysError, match="no song with id 'ffffffffffffffff' among the 8 indexed songs"):
        rec.find_id("ffffffffffffffff")
    with pytest.raises(RecsysError, match="empty song id"):
        rec.find_id("")
    with pytest.raises(AttributeError, match="no attribute 'Recomender'"):
        recsys.Recomender  # noqa: B018
    # The API names load on first use: importing the package alone pulls in no numpy.
    done = subprocess.run([sys.executable, "-c", "import sys, recsys; print('numpy' in sys.modules)"], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_audio_term_adds_the_weighted_audio_cosine(tiny) -> None:
    out = Recommender(tiny, weight=0.3, audio_weight=0.4).similar(0, k=7)
    tokens = TOKENIZER(TINY[0][6])
    bm25 = BM25Index.build([TOKENIZER(t[6]) for t in TINY]).scores(tokens)
    bm25[0] = 0.0
    cos = np.cos(np.radians([t[7] for t in TINY]) - np.radians(TINY[0][7]))
    audio = _audio_cosines(tiny, 0)
    assert audio[7] == 0.0  # the song without audio gets no audio share
    expected = 0.3 * cos + 0.7 * bm25 / bm25.max() + 0.4 * audio
    assert [r["row"] for r in out] == sorted(range(1, 8), key=lambda i: (-expected[i], i))
    for r in out:
        assert r["score"] == pytest.approx(expected[r["row"]], abs=1e-5)
        assert r["audio"] == pytest.approx(audio[r["row"]], abs=1e-5)
    # Free-text queries have no audio: the term is 0 whatever the weight.
    rec = Recommender(tiny, weight=0.3, audio_weight=1.0)
    vector = tiny.embeddings[0]
    with_audio = rec.search_vector(tokens, vector, k=7)
    assert all(r["audio"] == 0.0 for r in with_audio)
    assert [r["row"] for r in with_audio] == [r["row"] for r in Recommender(tiny, weight=0.3).search_vector(tokens, vector, k=7)]


def test_audio_space_standardises_and_handles_missing_features() -> None:
    values = np.array([[0.0, 10.0], [1.0, np.nan], [2.0, 30.0], [np.nan, np.nan]])
    space = AudioSpace(values, ["a", "b"])
    assert space.has.tolist() == [True, True, True, False]
    assert space.z[1, 1] == 0.0 and not space.unit[3].any()  # missing -> the mean; no audio -> zero vector
    assert space.z[:, 0][:3] == pytest.approx([-1.2247449, 0.0, 1.2247449])
    # Row 1 sits at the mean of both features (b imputed), so it has no direction: cosine 0.
    assert space.similarity(0, np.array([0, 1, 2, 3])) == pytest.approx([1.0, 0.0, -1.0, 0.0])
    assert space.differences(0, 2) == [{"feature": "a", "query": 0.0, "song": 2.0, "sd": 2.45}, {"feature": "b", "query": 10.0, "song": 30.0, "sd": 2.0}]
    assert [d["feature"] for d in space.differences(0, 1)] == ["a"]  # b missing on one side


def test_weight_extremes_follow_one_signal(tiny) -> None:
    dense_only = Recommender(tiny, weight=1.0).similar(0, k=3)
    assert [r["row"] for r in dense_only] == [2, 1, 5]  # 10, 30, 45 degrees away
    lexical_only = Recommender(tiny, weight=0.0).similar(0, k=1)
    assert lexical_only[0]["row"] == 1 and lexical_only[0]["score"] == pytest.approx(1.0)


def test_rrf_is_reciprocal_rank_fusion(tiny) -> None:
    out = Recommender(tiny, fusion="rrf").similar(0, k=3)
    # Cosine ranks: Tears 1, Grey Window 2, Rain Song (Eve Green) 3; BM25 ranks: Grey Window 1,
    # Rain Song 2 (rain), Tears 3.
    assert [r["row"] for r in out] == [1, 2, 5]
    assert [r["score"] for r in out] == pytest.approx([1 / 62 + 1 / 61, 1 / 61 + 1 / 63, 1 / 63 + 1 / 62], abs=1e-7)


def test_candidates_are_the_union_of_both_top_n(tiny) -> None:
    rec = Recommender(tiny)
    tokens, vector = rec.query_tokens(0), tiny.embeddings[0]
    # BM25 of song 0's terms: Grey Window > Rain Song (Eve Green) > Tears, the rest 0; by angle:
    # Tears, Grey Window, Rain Song, Calm River, Highway, ... The query song itself is left out.
    assert rec.candidates(tokens, vector, 1, query_row=0).rows.tolist() == [1, 2]
    assert rec.candidates(tokens, vector, 2, query_row=0).rows.tolist() == [1, 2, 5]
    # A free-text query keeps song 0; songs without a shared term are no lexical candidates.
    assert rec.candidates(tokens, vector, 5).rows.tolist() == [0, 1, 2, 5, 6, 7]


def test_rrf_with_a_filter_ranks_only_the_songs_it_keeps(tiny) -> None:
    out = Recommender(tiny, fusion="rrf").similar(0, k=3, filters=Filters(genre="Rock"))
    # Among rows 2, 4 and 6 (10, 90 and 60 degrees away), only Tears shares a term with the query:
    # its cosine and BM25 ranks are both 1 there (over all candidates Grey Window has the better BM25).
    assert [r["row"] for r in out] == [2, 6, 4]
    assert [r["score"] for r in out] == pytest.approx([2 / 61, 1 / 62, 1 / 63], abs=1e-7)


def test_filters_apply_before_top_k(tiny) -> None:
    rec = Recommender(tiny, n_candidates=1)  # forces the candidate widening
    assert {r["row"] for r in rec.similar(0, k=5, filters=Filters(mood="happy"))} == {3, 4}
    assert {r["row"] for r in rec.similar(0, k=5, filters=Filters(genre="Rock"))} == {2, 4, 6}
    assert {r["row"] for r in rec.similar(0, k=5, filters=Filters(mood="Happy"))} == {3, 4}  # case folded
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(year_from=1975, year_to=1999))} == {1, 2, 5, 6}  # bounds included
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(exclude_artist="bob grey."))} == {2, 3, 4, 5, 6, 7}
    # Matched as --artist is: part of the name, or a close spelling.
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(exclude_artist="gold"))} == {1, 2, 5, 6, 7}
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(exclude_artist="Cid Redd"))} == {1, 3, 4, 5, 7}
    assert [r["row"] for r in rec.similar(0, k=3, filters=Filters(genre="Pop", year_from=2006))] == [4]


def predictions_for_the_untagged_song(songs: pd.DataFrame) -> None:
    """Calm River (row 7) has no mood or genre tag; the heads call it relaxed, folk and rock.
    Grey Window (row 1), tagged folk, is predicted rock: its tag decides."""
    songs["mood_probs"] = [[0.7, 0.1, 0.1, 0.1]] * 7 + [[0.1, 0.1, 0.1, 0.7]]
    songs["genre_probs"] = [[0.6, 0.1, 0.1]] * 8
    songs.at[1, "genre_probs"] = [0.1, 0.1, 0.9]
    songs.at[7, "genre_probs"] = [0.7, 0.2, 0.8]


def test_mood_and_genre_filters_take_the_model_s_word_for_untagged_songs(tmp_path: Path) -> None:
    artifacts = write_tiny_artifacts(tmp_path / "a", edit=predictions_for_the_untagged_song, params={"genre_labels": ["folk", "pop", "rock"]})
    rec = Recommender(load_artifacts(artifacts))
    assert rec.predicted_mood(7) == "relaxed" and rec.predicted_genres(7) == ["rock", "folk"]  # most probable first
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(mood="relaxed"))} == {5, 7}
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(mood="relaxed", tagged_only=True))} == {5}
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(genre="Rock"))} == {2, 4, 6, 7}
    assert {r["row"] for r in rec.similar(0, k=10, filters=Filters(genre="rock", tagged_only=True))} == {2, 4, 6}
    calm = next(r for r in rec.similar(0, k=10) if r["row"] == 7)
    assert (calm["mood"], calm["genres"], calm["predicted_mood"], calm["predicted_genres"]) == (None, [], "relaxed", ["rock", "folk"])
    # A build without heads predicts nothing, so its filters match tags alone.
    plain = Recommender(load_artifacts(write_tiny_artifacts(tmp_path / "b", params={"mood_labels": []})))
    assert plain.predicted_mood(7) is None and plain.predicted_genres(7) == []
    assert {r["row"] for r in plain.similar(0, k=10, filters=Filters(mood="relaxed"))} == {5}
    with pytest.raises(RecsysError, match="tagged only is true or false, got str"):
        Filters(mood="sad", tagged_only="yes")  # type: ignore[arg-type]


def test_filters_fold_the_catalogue_side_too(tmp_path: Path) -> None:
    def accented_artist_and_capital_genre(songs: pd.DataFrame) -> None:
        songs.loc[1, "artist"] = "Bøb Grëy"
        songs.at[2, "genres"] = ["Rock"]

    rec = Recommender(load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=accented_artist_and_capital_genre)))
    assert 1 not in {r["row"] for r in rec.similar(0, k=7, filters=Filters(exclude_artist="bob grey"))}
    assert {r["row"] for r in rec.similar(0, k=7, filters=Filters(genre="rock"))} == {2, 4, 6}
    assert {r["row"] for r in rec.similar(0, k=7, filters=Filters(genre="ROCK!"))} == {2, 4, 6}  # punctuation folded too


def test_a_song_of_unknown_year_passes_no_year_filter(tmp_path: Path) -> None:
    def unknown_year(songs: pd.DataFrame) -> None:
        songs.loc[7, "year"] = pd.NA

    rec = Recommender(load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=unknown_year)))
    assert 7 in {r["row"] for r in rec.similar(0, k=10)}
    assert 7 not in {r["row"] for r in rec.similar(0, k=10, filters=Filters(year_from=1900))}
    assert 7 not in {r["row"] for r in rec.similar(0, k=10, filters=Filters(year_to=2100))}


def test_impossible_filters_are_errors(tiny) -> None:
    rec = Recommender(tiny)
    with pytest.raises(RecsysError, match="unknown mood 'cheerful'"):
        rec.similar(0, filters=Filters(mood="cheerful"))
    with pytest.raises(RecsysError, match="no song has genre 'polka'; genres here: folk, pop, rock"):
        rec.similar(0, filters=Filters(genre="polka"))
    with pytest.raises(RecsysError, match="after"):
        rec.similar(0, filters=Filters(year_from=2000, year_to=1990))
    with pytest.raises(RecsysError, match=r"--year-from '100000000\.\.\.' is not a year between 1 and 9999"):
        rec.similar(0, filters=Filters(year_from=10**400))  # too large for a float: it used to overflow
    with pytest.raises(RecsysError, match="--year-to '0' is not a year"):
        rec.similar(0, filters=Filters(year_to=0))
    with pytest.raises(RecsysError, match="no artist here matches --exclude-artist 'Zed Zoo'"):
        rec.similar(0, filters=Filters(exclude_artist="Zed Zoo"))  # a typo would otherwise exclude nothing, silently


def test_explain_gives_terms_cluster_probs_and_audio(tiny) -> None:
    out = {r["row"]: r["why"] for r in Recommender(tiny, weight=0.3).similar(0, k=7, explain=True)}
    why = out[1]  # Grey Window, the top result
    assert set(why["matched_terms"]) == {"rain", "window", "grey", "tears"}
    assert why["shared_cluster"] == {"cluster": 0, "keywords": ["rain", "grey"]}
    assert "shared_cluster" not in out[3] and "shared_cluster" not in out[6]  # clusters 1 and 2, the query's is 0
    probs = tiny.songs["mood_probs"][1]
    top3 = sorted(range(4), key=lambda i: -probs[i])[:3]
    assert why["mood_probs"] == {MOOD_LABELS[i]: round(float(probs[i]), 3) for i in top3}
    diffs = why["audio_differences"]
    assert len(diffs) == 3 and diffs[0]["sd"] >= diffs[1]["sd"] >= diffs[2]["sd"]
    assert why["year_gap"] == 4 and out[6]["year_gap"] == 9  # 1971 against 1975 and 1980


def test_era_term_adds_the_weighted_era_agreement(tmp_path) -> None:
    def one_song_without_a_year(songs) -> None:
        songs["year"] = pd.array([1971, 1975, 1999, 2005, 2010, 1988, None, 2040], dtype="Int64")

    artifacts = load_artifacts(write_tiny_artifacts(tmp_path / "a", edit=one_song_without_a_year))
    out = Recommender(artifacts, weight=0.3, audio_weight=0.4, era_weight=0.5).similar(0, k=7)
    bm25 = BM25Index.build([TOKENIZER(t[6]) for t in TINY]).scores(TOKENIZER(TINY[0][6]))
    bm25[0] = 0.0
    cos = np.cos(np.radians([t[7] for t in TINY]) - np.radians(TINY[0][7]))
    # By hand: years clipped to 1950-2022 as angles over 180 degrees; the mean agreement over
    # every pair of the seven songs with a year is subtracted; no year, no agreement.
    years = np.array([1971, 1975, 1999, 2005, 2010, 1988, np.nan, 2022])
    theta = np.pi * (years - 1950) / 72
    known = ~np.isnan(years)
    mean = np.mean(np.cos(theta[known][:, None] - theta[known][None, :]))
    era = np.where(known, np.cos(theta - theta[0]) - mean, 0.0)
    expected = 0.3 * cos + 0.7 * bm25 / bm25.max() + 0.4 * _audio_cosines(artifacts, 0) + 0.5 * era
    assert [r["row"] for r in out] == sorted(range(1, 8), key=lambda i: (-expected[i], i))
    for r in out:
        assert r["score"] == pytest.approx(expected[r["row"]], abs=1e-5)
        assert r["era"] == pytest.approx(era[r["row"]], abs=1e-6)  # rounded to 6 places, as audio
    # A query without a year, and a free-text query, get no era share.
    assert all(r["era"] == 0.0 for r in Recommender(artifacts, era_weight=1.0).similar(6, k=7))
    vector = artifacts.embeddings[0]
    assert all(r["era"] == 0.0 for r in Recommender(artifacts, era_weight=1.0).search_vector(TOKENIZER(TINY[0][6]), vector, k=7))
    # Over the catalogue the agreement averages 0: the term favours near years, not having one.
    space = Recommender(artifacts).era
    assert space.agreement_matrix(np.flatnonzero(known))[:, known].mean() == pytest.approx(0.0, abs=1e-12)
    assert space.gap(0, 7) == 69 and space.gap(0, 6) is None


def test_bad_options_are_one_line_errors(tiny) -> None:
    from recsys.errors import RecsysError

    with pytest.raises(RecsysError, match="blend weight"):
        Recommender(tiny, weight=1.5)
    with pytest.raises(RecsysError, match=r"audio weight must be a number in \[0, 1\], got -0.1"):
        Recommender(tiny, audio_weight=-0.1)
    with pytest.raises(RecsysError, match=r"era weight must be a number in \[0, 1\], got 1.5"):
        Recommender(tiny, era_weight=1.5)
    with pytest.raises(RecsysError, match="fusion"):
        Recommender(tiny, fusion="max")  # type: ignore[arg-type]
    for weights in ({"weight": 0.2}, {"audio_weight": 0.0}, {"era_weight": 0.1}):
        with pytest.raises(RecsysError, match="rrf fuses ranks and takes no weight"):
            Recommender(tiny, fusion="rrf", **weights)
    with pytest.raises(RecsysError, match="outside"):
        Recommender(tiny).similar(99)
    for k in (0, 1001):
        with pytest.raises(RecsysError, match=f"k must be a whole number between 1 and 1000, got {k}"):
            Recommender(tiny).similar(0, k=k)


def test_options_given_per_query_are_checked_as_the_constructor_checks_them(tiny) -> None:
    rec = Recommender(tiny)
    with pytest.raises(RecsysError, match="unknown fusion 'xyz'"):
        rec.similar(0, k=1, fusion="xyz")
    with pytest.raises(RecsysError, match="blend weight must be a number in"):
        rec.similar(0, weight=5)
    with pytest.raises(RecsysError, match="audio weight must be a number in"):
        rec.similar(0, audio_weight=-3)
    with pytest.raises(RecsysError, match="rrf fuses ranks and takes no weight"):
        rec.similar(0, fusion="rrf", weight=0.3)
    assert rec.similar(0, k=3, fusion="RRF") == Recommender(tiny, fusion="rrf").similar(0, k=3)  # case folded


def test_wrong_types_are_one_line_errors_not_numpy_ones(tiny) -> None:
    rec = Recommender(tiny)
    for song in (None, [1, 2], b"Tears", 3.7, True):
        with pytest.raises(RecsysError, match="a song is a title or a row number"):
            rec.similar(song)  # type: ignore[arg-type]
    assert rec.similar(np.int64(2), k=2) == rec.similar(2, k=2)
    for k in ("5", None, 2.5, True):
        with pytest.raises(RecsysError, match="k must be a whole number"):
            rec.similar(0, k=k)  # type: ignore[arg-type]
    with pytest.raises(RecsysError, match="the mood filter is text, got int"):
        Filters(mood=3)  # type: ignore[arg-type]
    with pytest.raises(RecsysError, match="the year from filter is a year, got '1990'"):
        Filters(year_from="1990")  # type: ignore[arg-type]
    with pytest.raises(RecsysError, match="a title is text, got int"):
        rec.find(5)  # type: ignore[arg-type]
    with pytest.raises(RecsysError, match="an artist is text"):
        rec.find("Tears", artist=1)  # type: ignore[arg-type]
    with pytest.raises(RecsysError, match="a song id is text, got int"):
        rec.find_id(5)  # type: ignore[arg-type]
    # Blank text is no constraint, and stray spaces do not make a mood unknown.
    assert Filters(mood=" happy ", genre="  ", exclude_artist="") == Filters(mood="happy")


def test_a_damaged_query_vector_names_the_file_and_row(tmp_path) -> None:
    path = write_tiny_artifacts(tmp_path / "a")
    stored = np.load(path / "embeddings.npy", mmap_mode="r+")  # damage after the build: same size, so only a full verify sees it
    stored[2] = np.nan
    stored.flush()
    del stored
    with pytest.raises(RecsysError, match=r"a/embeddings.npy: row 2 holds NaN or infinite values"):
        Recommender(load_artifacts(path)).similar(2, k=3)
    # A damaged candidate, too: its NaN score would otherwise reach the --json output, which no JSON parser reads.
    with pytest.raises(RecsysError, match=r"a/embeddings.npy: row 2 holds NaN or infinite values"):
        Recommender(load_artifacts(path)).similar(0, k=3)


def test_damaged_bm25_weights_are_an_error_not_nan_scores(tmp_path) -> None:
    path = write_tiny_artifacts(tmp_path / "a")
    stored = np.load(path / "bm25" / "weights" / "data.npy", mmap_mode="r+")  # same size: only a full verify sees it
    stored[:] = np.nan
    stored.flush()
    del stored
    # Before, "bm25_raw": NaN reached --json (no JSON parser reads it) and the lexical signal vanished.
    with pytest.raises(RecsysError, match=r"a/bm25: the weights of song row \d+ hold NaN or infinite values; the artefacts are damaged"):
        Recommender(load_artifacts(path)).similar(0, k=3)


def test_text_search_normalises_what_the_encoder_gives(tiny) -> None:
    from recsys.search import TextSearch

    def unit(text: str) -> np.ndarray:
        return np.array([np.cos(np.radians(20)), np.sin(np.radians(20))], dtype=np.float32)

    expected = TextSearch(tiny, unit).search("rain window", k=4)
    # A batch of one, at another length: the reranking cosine must not grow with it.
    assert TextSearch(tiny, lambda text: 100 * unit(text)[None, :]).search("rain window", k=4) == expected
    with pytest.raises(RecsysError, match="no usable query vector"):
        TextSearch(tiny, lambda text: np.zeros(2, dtype=np.float32)).search("rain", k=2)
    with pytest.raises(RecsysError, match="the search text is text, got NoneType"):
        TextSearch(tiny, unit).search(None)  # type: ignore[arg-type]


def test_text_search_tokenises_the_query_as_its_index_was_built(tmp_path) -> None:
    from recsys.search import TextSearch

    def unit(text: str) -> np.ndarray:
        return np.array([1.0, 0.0], dtype=np.float32)

    def matched(artifacts_dir: Path) -> list[list[str]]:
        found = TextSearch(load_artifacts(artifacts_dir), unit).search("rain—window", k=2, explain=True)
        return [sorted(r["why"]["matched_terms"]) for r in found]

    assert matched(write_tiny_artifacts(tmp_path / "now")) == [["rain", "window"], ["rain", "window"]]
    # Built before the Unicode tokenizer: the dash joins the two words, as that index's terms were
    # made, so nothing matches (and the index keeps answering as it was built).
    assert matched(write_tiny_artifacts(tmp_path / "legacy", tokenizer=Tokenizer(latin_only=True))) == [[], []]
