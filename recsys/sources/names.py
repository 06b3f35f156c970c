"""Titles and artists from sources that lower-cased every name.

Some sources write every name in lower case ("bob dylan", "monk's mood": the tcc_ceds files and
the one-song-per-artist Spotify file). Shown as they are, a quarter of the shipped catalogue's
results would read like that. The join gives such a name the case that sources which kept case
spell the same words with (the same song's title, any song's artist), and capitalises the rest
by :func:`capitalise`. Names styled in lower case on purpose ("thank u, next") come from sources
that keep case, so they stay as written.
"""

from __future__ import annotations

import re

import pandas as pd

from recsys.text import BRACKET_CREDIT, CREDIT_WORDS

# A file is read as having lost the case of its names when at least this share of the names
# that have cased letters is all lower case: an artist who styles every title in lower case
# still has a capitalised artist name, and a file of such songs has capitals somewhere.
LOWERCASED_SHARE = 0.99
LOWERCASED_MIN_NAMES = 20

# Left lower case inside a name, as English title case does ("Siouxsie and the Banshees").
MINOR_WORDS = frozenset(
    "a an and as at but by for from in into nor of on or over so the to up via vs with yet".split()
)
_ROMAN = frozenset({"ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii"})
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# After these a word opens a new phrase ("Love (The Remix)", "Act II: In the End").
_PHRASE_OPENERS = set("([{:\"“/")


def lowercased(frame: pd.DataFrame) -> bool:
    """Whether the source frame's ``title`` and ``artist`` columns were written all in lower case."""
    names = pd.concat([frame["title"], frame["artist"]]).dropna().astype(str)
    cased = names[names.str.lower() != names.str.upper()]  # names with letters that have a case
    return len(cased) >= LOWERCASED_MIN_NAMES and float((cased.str.lower() == cased).mean()) >= LOWERCASED_SHARE


def _upper_first(word: str) -> str:
    head = word[0].upper()
    return head + word[1:] if len(head) == 1 else word  # "ß".upper() is two letters: leave such a word


def capitalise(name: str) -> str:
    """Title case for a name whose case was lost: each word's first letter upper case, the rest
    kept ("monk's mood" -> "Monk's Mood"), minor words lower case inside a phrase ("siouxsie and
    the banshees" -> "Siouxsie and the Banshees"), credits lower case ("feat." past the first
    word, "with" after a bracket), "i" and Roman numerals upper case. Only case changes, so the
    song's key (``recsys.catalog.song_key``) stays the same."""
    words = list(_WORD.finditer(name))
    out, end, after_credit = [], 0, False
    for i, match in enumerate(words):
        word = match.group()
        before = name[end : match.start()].strip()
        # Credits, as match keys read them (recsys.text), stay lower case as streaming services
        # write them ("(feat. Van Morrison)"); the name after one is capitalised ("(feat. The Weeknd)").
        after_bracket = before[-1:] in ("(", "[")
        credit = (word in CREDIT_WORDS and (i > 0 or after_bracket)) or (word == BRACKET_CREDIT and after_bracket)
        opens_phrase = i == 0 or i == len(words) - 1 or before[-1:] in _PHRASE_OPENERS or after_credit
        if word in _ROMAN or word == "i":
            word = word.upper()
        elif (opens_phrase or word not in MINOR_WORDS) and not credit:
            word = _upper_first(word)
        out.append(name[end : match.start()] + word)
        end, after_credit = match.end(), credit
    return "".join(out) + name[end:]
