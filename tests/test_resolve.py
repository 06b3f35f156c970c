"""Title resolution: exact, normalised, fuzzy, narrowed by artist, ambiguous and unknown."""

from __future__ import annotations

import pytest

from recsys.errors import RecsysError
from recsys.resolve import resolve_title, title_keys
from recsys.songtable import SongTable

SONGS = SongTable.from_columns(
    {
        "title": ["Yesterday", "Bohemian Rhapsody", "Don't Stop Me Now (Remastered 2011)", "Home", "Home", "Home", "Glove Box", "Stairway to Heaven"],
        "artist": ["The Beatles", "Queen", "Queen", "Michael Bublé", "Daughtry", "Edward Sharpe", "Cake", "Led Zeppelin"],
        "year": [1965, 1975, 1978, 2005, None, 2009, 1996, 1971],
    }
)


def test_exact_and_normalised_titles() -> None:
    assert resolve_title(SONGS, "Yesterday") == 0
    assert resolve_title(SONGS, "  bohemian RHAPSODY ") == 1
    assert resolve_title(SONGS, "dont stop me now") == 2  # apostrophe and "(Remastered)" folded


def test_fuzzy_title_tolerates_typos_but_not_substrings() -> None:
    assert resolve_title(SONGS, "Yesterdy") == 0
    assert resolve_title(SONGS, "Stairway Heaven") == 7
    with pytest.raises(RecsysError, match="no song titled 'Love'"):
        resolve_title(SONGS, "Love")


def test_artist_narrows_an_ambiguous_title() -> None:
    assert resolve_title(SONGS, "Home", artist="daughtry") == 4
    assert resolve_title(SONGS, "Home", artist="Michael Buble") == 3  # accent folded
    with pytest.raises(RecsysError, match="by 'Adele'"):
        resolve_title(SONGS, "Home", artist="Adele")


def test_ambiguous_title_lists_candidates_on_one_line() -> None:
    with pytest.raises(RecsysError) as info:
        resolve_title(SONGS, "Home")
    message = str(info.value)
    assert "\n" not in message and "--artist" in message
    assert "Home — Michael Bublé (2005); Home — Daughtry; Home — Edward Sharpe (2009)" in message


def test_unknown_title_suggests_nearest() -> None:
    with pytest.raises(RecsysError, match="did you mean: Bohemian Rhapsody — Queen"):
        resolve_title(SONGS, "Bohemian Song")
    with pytest.raises(RecsysError, match=r"did you mean: Home — .*; Home — .*; Home — "):  # several suggestions
        resolve_title(SONGS, "Homes Sweet")
    with pytest.raises(RecsysError, match=r"no song titled 'Qwerty' among the 8 indexed songs \(3 catalogue songs without lyrics are not indexed\)"):
        resolve_title(SONGS, "Qwerty", not_indexed=3)  # a song without lyrics is in the catalogue, not in the artefacts
    with pytest.raises(RecsysError, match="empty title"):
        resolve_title(SONGS, " ")


def test_a_near_tie_between_fuzzy_titles_is_an_ambiguity() -> None:
    songs = SongTable.from_columns({"title": ["Dancing on the Train", "Dancing down the Rain"], "artist": ["Ann", "Bo"], "year": [2001, 2002]})
    # 88.9 against 86.5: too close to take the first silently.
    with pytest.raises(RecsysError, match="2 songs match 'Dancing the Rain'"):
        resolve_title(songs, "Dancing the Rain")
    assert resolve_title(songs, "Dancing on the Trian") == 0  # a clear winner is still taken


def test_artist_may_be_part_of_the_name() -> None:
    assert resolve_title(SONGS, "Home", artist="sharpe") == 5
    assert resolve_title(SONGS, "Home", artist="MICHAEL") == 3
    with pytest.raises(RecsysError, match="by 'Edward Daughtry'"):
        resolve_title(SONGS, "Home", artist="Edward Daughtry")  # every word must be in one name


def test_a_very_long_title_is_shortened_in_the_error() -> None:
    with pytest.raises(RecsysError) as info:
        resolve_title(SONGS, "x" * 100_000)
    assert len(str(info.value)) < 300 and "xxx..." in str(info.value)


def test_straight_and_curly_apostrophes_meet() -> None:
    songs = SongTable.from_columns({"title": ["I Don't Care", "I Don’t Care", "Sk8er Boi"], "artist": ["Fall Out Boy", "Ariana Grande", "Avril"],
                                    "year": [2008, 2014, 2002]})
    with pytest.raises(RecsysError, match="2 songs match 'I Dont Care'"):
        resolve_title(songs, "I Dont Care")
    assert resolve_title(songs, "I Don't Care", artist="Ariana Grande") == 1
    assert resolve_title(songs, "sk8erboi") == 2


def test_titles_with_with_and_other_scripts_resolve_to_themselves() -> None:
    songs = SongTable.from_columns({
        "title": ["Stay", "Stay With Me", "With a Little Luck", "작은 것들을 위한 시 (Boy With Luv)", "Don’t Go"],
        "artist": ["Ann", "Sam", "Wings", "BTS", "Nena"],
        "year": [2001, 2014, 1978, 2019, 1983],
    })
    assert resolve_title(songs, "stay with me") == 1  # not "stay": only a bracketed "(with ...)" is a credit
    assert resolve_title(songs, "stay") == 0
    assert resolve_title(songs, "with a little luck") == 2
    assert resolve_title(songs, "작은 것들을 위한 시") == 3
    assert resolve_title(songs, "don't go") == 4  # curly and straight apostrophes agree


def test_latin_letters_without_a_decomposition_are_found_from_a_plain_keyboard() -> None:
    songs = SongTable.from_columns({"title": ["Lean On", "Łódź Nights", "Fire"], "artist": ["MØ", "Żuk", "Æther Band"], "year": [2015, 2010, 2001]})
    assert resolve_title(songs, "Lodz Nights") == 1
    assert resolve_title(songs, "Lean On", artist="MO") == 0
    assert resolve_title(songs, "fire", artist="aether band") == 2


def test_the_exact_pass_ignores_case_and_lists_other_spellings_when_ambiguous() -> None:
    songs = SongTable.from_columns({
        "title": ["Deja Vu", "deja vu", "Déjà Vu", "Stay", "STAY"],
        "artist": ["Post Malone", "Dionne Warwick", "Beyoncé", "Rihanna", "Zedd"],
        "year": [2016, 1979, 2006, 2013, 2017],
    })
    # Sources differ in capitalisation: the same typing must not pick a different song.
    with pytest.raises(RecsysError, match="2 songs match 'stay'.*Rihanna.*Zedd"):
        resolve_title(songs, "stay")
    # Beyoncé's accented spelling is the same title to whoever types it without accents.
    for typed in ("Deja Vu", "deja vu"):
        with pytest.raises(RecsysError, match="3 songs match .*Post Malone.*Dionne Warwick.*Beyoncé"):
            resolve_title(songs, typed)
    assert resolve_title(songs, "Déjà Vu") == 2  # typed with its accents, it is that one song
    assert resolve_title(songs, "Deja Vu", artist="beyonce") == 2
    with pytest.raises(RecsysError, match="2 songs match"):
        resolve_title(songs, "Stay", artist="   ")  # a blank artist narrows nothing, like none


def test_each_pass_decides_on_its_own() -> None:
    songs = SongTable.from_columns({"title": ["Don't", "Donut", "Home", "Home", "❤️"], "artist": ["Ann", "Bo", "Daughtry", "Adele", "Cy"],
                                    "year": [2001, 2002, 2003, 2004, 2005]})
    # The space-free pass finds "Don't": fuzzy matching alone would see a near-tie with "Donut".
    assert resolve_title(songs, "dont") == 0
    assert resolve_title(songs, "Home", artist="Daughtyr") == 2  # a typo in the artist: its fuzzy pass
    with pytest.raises(RecsysError, match="no song titled '💔'"):
        resolve_title(songs, "💔")  # symbols fold to nothing: no pass can match them
    many = SongTable.from_columns({"title": ["Home"] * 10, "artist": [f"Singer {i}" for i in range(10)], "year": list(range(2000, 2010))})
    with pytest.raises(RecsysError, match="; and 2 more, by Singer 8, Singer 9$"):  # every artist named, to pick with --artist
        resolve_title(many, "Home")


def test_a_title_in_another_script_is_found_by_its_latin_name_in_brackets() -> None:
    songs = SongTable.from_columns({
        "title": ["피 땀 눈물 (Blood Sweat & Tears)", "작은 것들을 위한 시 (Boy With Luv)", "BOY IN LUV (Japanese Ver.)",
                  "봄날 (Spring Day)", "Spring Day (Japanese Ver.)", "Ёлка (Yolka)", "Yesterday (Remastered 2009)",
                  "血、汗、淚 (Blood, Sweat & Tears) (Japanese Ver.)", "DOPE -超ヤベー!- (Japanese Ver.)"],
        "artist": ["BTS", "BTS", "BTS", "BTS", "BTS", "Ёлка", "The Beatles", "bts", "BTS"],
        "year": [2016, 2019, 2014, 2017, 2017, 2010, 1965, 2017, 2015],
    })
    assert title_keys("봄날 (Spring Day)") == ["봄날", "spring day"]
    assert title_keys("Yesterday (Remastered 2009)") == ["yesterday"]  # a Latin title keeps one key
    # Version labels and credits name no song; every other bracketed name counts, nested ones too.
    assert title_keys("DOPE -超ヤベー!- (Japanese Ver.)") == ["dope 超ヤベー"]
    assert title_keys("1993 (with J. Cole)") == ["1993"] and title_keys("1999 (Remastered)") == ["1999"]
    assert title_keys("ペップセ (Peppuse) (Silver Spoon) (Japanese Ver.)") == ["ペップセ", "peppuse", "silver spoon"]
    assert title_keys("뱁새 (Silver Spoon/Baepsae)") == ["뱁새", "silver spoon", "baepsae"]
    assert title_keys("봄날 (Spring Day (Brit Rock Remix))") == ["봄날", "spring day"]
    assert resolve_title(songs, "Boy With Luv") == 1  # it found "BOY IN LUV (Japanese Ver.)" fuzzily
    assert resolve_title(songs, "boy with love") == 1  # fuzzy matching reaches the bracketed name too
    assert resolve_title(songs, "피 땀 눈물") == 0 and resolve_title(songs, "yolka") == 5
    # One artist's versions ("BTS" and "bts" are one): the version typed, and without one the
    # title that has none.
    assert resolve_title(songs, "Spring Day") == 3 and resolve_title(songs, "spring day (japanese ver)") == 4
    assert resolve_title(songs, "Blood Sweat & Tears") == 0
    assert resolve_title(songs, "Blood Sweat and Tears (Japanese Ver.)", artist="BTS") == 7
    # A version that none of them is: --artist cannot choose, the exact title can.
    with pytest.raises(RecsysError, match=r"2 songs match 'Spring Day \(Remix\)'; give the exact title to choose one of: 봄날 \(Spring Day\) — BTS \(2017\); Spring Day \(Japanese Ver.\) — BTS"):
        resolve_title(songs, "Spring Day (Remix)", artist="BTS")
    with pytest.raises(RecsysError, match="no song titled 'Japanese Version'"):
        resolve_title(songs, "Japanese Version")
