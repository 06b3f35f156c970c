"""Title resolution: the user's spelling of a song title -> one catalogue row.

Three passes, stopping at the first that finds anything: the exact title (up to case: sources
differ in capitalisation, so "deja vu" and "Deja Vu" find the same songs), the normalised title
(``recsys.text.lookup_key``: case, accents (ø and æ too), punctuation, "feat." credits and "(Remastered)"
suffixes folded away; compared without spaces), then fuzzy matching (rapidfuzz ratio on normalised titles). A title
in another script with a Latin name in brackets ("피 땀 눈물 (Blood Sweat & Tears)") is found by that
name too in the last two passes. ``artist`` narrows every pass the same way (normalised, then fuzzy, then as a
part of the name). Several artists under the matched title is an ambiguity the user must settle
with ``--artist``; among one artist's songs, the one whose bracketed version labels are those
typed wins ("Spring Day (Japanese Ver)"), and failing that the exact title must choose. When the
exact pass finds several, the songs whose titles differ from it only in accents or punctuation
are listed too.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Callable, Iterator, Sequence

import numpy as np

from recsys.errors import RecsysError
from recsys.songtable import SongTable
from recsys.text import lookup_key, shorten

# Plain Levenshtein similarity (fuzz.ratio, 0..100): typos and a dropped short word pass
# ("Yesterdy" 94, "Stairway Heaven" 90) while substring hits ("Love" in "Glove Box") do not.
FUZZY_CUTOFF = 80.0
# Fuzzy titles within this many points of the best are listed as an ambiguity: "Dancing the
# Rain" scores 88.9 against "Dancing on the Train" and 86.5 against "Dancing down the Rain".
NEAR_TIE = 3.0
MAX_LISTED = 8
MAX_ARTISTS = 40
# A bracketed part of a title, up to the next bracket of any kind: "(Spring Day (Remix))" has the
# parts "Spring Day " and "Remix".
_BRACKET_PART = re.compile(r"[\(\[]([^\(\)\[\]]+)")
# A bracketed part that names a version or credits someone, never the song: no alias, and what
# tells one artist's versions of a song apart.
_VERSION_LABEL = re.compile(
    r"^\W*(?:with|feat|ft|featuring|prod)\b|\b(?:ver|version|remix|mix|live|inst|instrumental|mr|ost|acoustic|demo|edit"
    r"|remaster|remastered|cover|bonus|hidden|track|radio|extended|intro|outro|interlude|skit)\b",
    re.IGNORECASE,
)


def _describe(songs: SongTable, rows: np.ndarray) -> str:
    titles, artists = songs.values("title"), songs.values("artist")
    years = songs.numbers("year") if "year" in songs else np.full(len(songs), np.nan)
    shown = []
    for row in rows[:MAX_LISTED]:
        when = f" ({int(years[row])})" if not math.isnan(years[row]) else ""
        shown.append(f"{titles[row]} — {artists[row]}{when}")
    rest = list(dict.fromkeys(str(artists[row]) for row in rows[MAX_LISTED:]))
    # Their artists at least, so that every one of them can be picked with --artist.
    more = f"; and {len(rows) - MAX_LISTED} more, by {', '.join(rest[:MAX_ARTISTS])}{', ...' if len(rest) > MAX_ARTISTS else ''}" if rest else ""
    return "; ".join(shown) + more


def artist_matches(names: Sequence[str], artist: str) -> np.ndarray:
    """Which of ``names`` (artist names folded by ``lookup_key``) ``artist`` means, as a bool
    mask: the names equal to it if any, else the fuzzily close ones, else those holding all its
    words ("crosby" for Bing Crosby, "pharrell" for Pharrell Williams)."""
    from rapidfuzz import fuzz

    wanted = lookup_key(artist)
    exact = np.array([n == wanted for n in names], dtype=bool)
    if exact.any():
        return exact
    close = np.array([fuzz.ratio(wanted, n) >= FUZZY_CUTOFF for n in names], dtype=bool)
    if close.any():
        return close
    words = set(wanted.split())
    return np.array([bool(words) and words <= set(n.split()) for n in names], dtype=bool)


def _by_artist(songs: SongTable, rows: np.ndarray, artist: str) -> np.ndarray:
    artists = songs.values("artist")
    return rows[artist_matches([lookup_key(artists[row]) for row in rows], artist)]


def _is_latin_name(key: str) -> bool:
    return key.isascii() and any(ch.isalpha() for ch in key)


def title_keys(title: str) -> list[str]:
    """The normalised keys a title is found by: its :func:`lookup_key`, and when that key holds
    another script (or no letter), the keys of its bracketed Latin names that are no version
    label ("봄날 (Spring Day)": "봄날" and "spring day"; "(Japanese Ver.)" gives none), since that
    is how most people outside the script type it."""
    key = lookup_key(title)
    if _is_latin_name(key):
        return [key]
    parts = (part for part in _BRACKET_PART.findall(title) if not _VERSION_LABEL.search(part))
    names = (lookup_key(name) for part in parts for name in part.split("/"))  # "(Silver Spoon/Baepsae)": two names
    return list(dict.fromkeys([key, *(name for name in names if _is_latin_name(name))]))


def _version_labels(title: str) -> frozenset[str]:
    """The version labels among a title's bracketed parts, as keys: {"japanese ver"}."""
    return frozenset(lookup_key(part) for part in _BRACKET_PART.findall(title) if _VERSION_LABEL.search(part))


class _TitleKeys:
    """Every title's keys (:func:`title_keys`) side by side, with the row each belongs to."""

    def __init__(self, songs: SongTable) -> None:
        pairs = [(key, row) for row, title in enumerate(songs.values("title")) for key in title_keys(title)]
        self.keys = np.array([key for key, _ in pairs], dtype=object)
        self.rows = np.array([row for _, row in pairs], dtype=np.int64)
        self.most_per_row = int(np.bincount(self.rows).max()) if len(pairs) else 1

    def best(self, wanted: str, cutoff: float, limit: int | None) -> list[tuple[int, float]]:
        """Rows whose best key scores at least ``cutoff`` against ``wanted`` (rapidfuzz ratio),
        with that score, best first; at most ``limit`` of them."""
        from rapidfuzz import fuzz, process

        scores: dict[int, float] = {}
        # The best keys, as many as the best rows could hold, include each best row's best key.
        depth = None if limit is None else self.most_per_row * limit
        for _, score, at in process.extract(wanted, self.keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=depth):
            row = int(self.rows[at])
            scores[row] = max(score, scores.get(row, 0.0))
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _title_passes(songs: SongTable, all_keys: Callable[[], _TitleKeys], title: str) -> Iterator[np.ndarray]:
    """The rows each pass finds, in order: exact title, normalised title, best fuzzy titles."""
    folded = title.strip().casefold()
    yield np.array([row for row, t in enumerate(songs.values("title")) if t.casefold() == folded], dtype=np.int64)
    keys = all_keys()
    wanted = lookup_key(title)
    if not wanted:
        return
    # Compared without spaces: an apostrophe folds to a space ("Don't" -> "don t") that users
    # leave out ("dont"), and "Sk8er Boi" is also typed "Sk8erBoi".
    compact = np.array([t.replace(" ", "") for t in keys.keys], dtype=object)
    yield np.unique(keys.rows[compact == wanted.replace(" ", "")])
    hits = keys.best(wanted, FUZZY_CUTOFF, None)
    if hits:
        best = hits[0][1]
        # Keep only the best-scoring title(s): a near-tie between two different titles is shown
        # as an ambiguity rather than silently taking one.
        yield np.array(sorted(row for row, score in hits if score >= best - NEAR_TIE), dtype=np.int64)


def _suggestions(songs: SongTable, keys: _TitleKeys, title: str) -> str:
    rows = np.array([row for row, score in keys.best(lookup_key(title), 0.0, 5) if score > 50], dtype=np.int64)
    return f"; did you mean: {_describe(songs, rows)}" if len(rows) else ""


def _left_out(not_indexed: int) -> str:
    if not not_indexed:
        return ""
    plural = not_indexed != 1
    return f" ({not_indexed} catalogue song{'s' * plural} without lyrics {'are' if plural else 'is'} not indexed)"


def resolve_id(songs: SongTable, song_id: str, *, not_indexed: int = 0) -> int:
    """The row of the song whose ``song_id`` this is (the id `--json` prints, the same in every
    build of one catalogue); RecsysError when no indexed song has it."""
    if not isinstance(song_id, str):
        raise RecsysError(f"a song id is text, got {type(song_id).__name__}")
    wanted = song_id.strip().lower()
    if not wanted:
        raise RecsysError("empty song id: give one that `recsys similar --json` printed, e.g. --id 20318b63aa49111d")
    row = next((row for row, value in enumerate(songs.values("song_id")) if value == wanted), None)
    if row is None:
        raise RecsysError(f"no song with id {shorten(song_id, 40)} among the {len(songs):,} indexed songs{_left_out(not_indexed)}")
    return row


def resolve_title(songs: SongTable, title: str, artist: str | None = None, *, not_indexed: int = 0) -> int:
    """The row of ``songs`` whose title (and artist, if given) matches; RecsysError otherwise.

    The error lists the candidates ("Title — Artist (year)", semicolon-separated) when the
    match is ambiguous, or the nearest titles when nothing matches; ``not_indexed``, the
    catalogue's songs left out of ``songs`` (no lyrics), is said there too, since the title may
    be one of them.
    """
    if not isinstance(title, str):
        raise RecsysError(f"a title is text, got {type(title).__name__}")
    if artist is not None and not isinstance(artist, str):
        raise RecsysError(f"an artist is text, got {type(artist).__name__}")
    if not title.strip():
        raise RecsysError("empty title: give a song title, e.g. recsys similar \"Yesterday\"")
    artist = artist if artist and artist.strip() else None
    shown = shorten(title, 80)
    # The first pass with a match decides, unless --artist rules all its songs out: then a looser
    # pass may hold that artist's spelling of the title ("Don’t" where the exact pass found "Don't").
    first: np.ndarray | None = None
    rows = np.array([], dtype=np.int64)
    # Normalising every title takes ~55 ms on the real catalogue: only when the exact title
    # misses, and once for the passes and the suggestions.
    keys = functools.cache(lambda: _TitleKeys(songs))
    passes = _title_passes(songs, keys, title)
    for deciding, found in enumerate(passes):
        if len(found) == 0:
            continue
        first = found if first is None else first
        rows = _by_artist(songs, found, artist) if artist else found
        if len(rows):
            break
    if first is None:
        raise RecsysError(f"no song titled {shown} among the {len(songs):,} indexed songs{_left_out(not_indexed)}{_suggestions(songs, keys(), title)}")
    if len(rows) == 0:
        raise RecsysError(f"no song titled {shown} by {artist!r}; songs with that title: {_describe(songs, first)}")
    if len(rows) > 1:
        if deciding == 0:
            # "Deja Vu" and "Déjà Vu" are one title to whoever types it: offer both spellings' songs.
            looser = next(passes, rows)
            rows = np.union1d(rows, _by_artist(songs, looser, artist) if artist else looser)
        one_artist = len({lookup_key(songs.values("artist")[row]) for row in rows}) == 1
        if one_artist:
            # One artist's versions ("봄날 (Spring Day)", "Spring Day (Japanese Ver.)"): the one whose
            # version labels are those typed, if any is ("Spring Day" has none).
            wanted = _version_labels(title)
            titles = songs.values("title")
            same = rows[[_version_labels(titles[row]) == wanted for row in rows]]
            rows = same if len(same) else rows
    if len(rows) > 1:
        how = "give the exact title" if one_artist else "name the artist (--artist)"
        raise RecsysError(f"{len(rows)} songs match {shown}; {how} to choose one of: {_describe(songs, rows)}")
    return int(rows[0])
