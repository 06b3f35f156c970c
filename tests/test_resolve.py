"""Title resolution: exact, normalised, fuzzy, narrowed by artist, ambiguous and unknown."""

from __future__ import annotations

import pytest

from recsys.errors import RecsysError
from recsys.resolve import resolve_title
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
    with pytest.raises(RecsysError, match="empty title"):
        resolve_title(SONGS, " ")
