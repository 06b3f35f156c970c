"""Text handling shared by every stage: lyric tokenisation (LDA topics, BM25, TF-IDF,
keywords) and the folding of titles and artists into match keys.

One tokenizer for all of them, so that a query token always matches an index token.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
# English function words plus the filler that dominates lyrics ("oh", "yeah", "la") and carries
# no topic. Kept short and explicit so index and query agree; saved with every index.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against ain all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn did didn do does doesn doing don down
    during each few for from further had hadn has hasn have haven having he her here hers herself
    him himself his how i if in into is isn it its itself just ll let me more most my myself no nor
    not now of off on once only or other ought our ours ourselves out over own re same shan she
    should shouldn so some such than that the their theirs them themselves then there these they
    this those through to too under until up ve very was wasn we were weren what when where which
    while who whom why will with won would wouldn you your yours yourself yourselves im youre dont
    cant wont thats gonna wanna gotta got get oh ooh ohh yeah yea ya la na da uh hey whoa woah
    mmm hmm ah aah eh like just one two also us s t d m o y ll ve re
    chorus verse bridge intro outro refrain pre hook repeat x2 x3 x4
    """.split()
)

TOKEN_PATTERN = r"[a-z][a-z']*[a-z]|[a-z]"
MIN_TOKEN_LEN = 2
_TOKEN = re.compile(TOKEN_PATTERN)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def tokenize(text: str | None, *, min_len: int = MIN_TOKEN_LEN, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Lower-case, accent-fold and split ``text`` into word tokens, dropping stop words.

    Apostrophes inside words are removed ("don't" -> "dont") so spelling variants meet.
    """
    if not text:
        return []
    folded = _fold(text.lower()) if not text.isascii() else text.lower()
    tokens = (m.group(0).replace("'", "") for m in _TOKEN.finditer(folded))
    return [t for t in tokens if len(t) >= min_len and t not in stop_words]


def tokenizer_settings() -> dict[str, object]:
    """What decides :func:`tokenize`'s output. Indexes save it and compare it at load, so that
    query-time tokens are produced exactly like index-time tokens."""
    stop_words = "\n".join(sorted(STOP_WORDS)).encode()
    return {
        "name": "recsys.text.tokenize",
        "pattern": TOKEN_PATTERN,
        "min_len": MIN_TOKEN_LEN,
        "stop_words_sha256": hashlib.sha256(stop_words).hexdigest(),
    }


_FEAT = re.compile(r"\s*[\(\[]?\s*\b(feat|ft|featuring|with)\b\.?.*$", re.IGNORECASE)
_BRACKETED = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")
_DASH_SUFFIX = re.compile(
    r"\s+-\s+.*\b(remaster(ed)?|live|version|edit|mix|remix|mono|stereo|acoustic|demo)\b.*$", re.IGNORECASE
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_WHITESPACE = re.compile(r"\s+")


def _missing(text: object) -> bool:
    return text is None or (isinstance(text, float) and math.isnan(text))


def tidy_name(text: object) -> str | None:
    """A title or artist as it should be shown: invisible format characters removed (the sources
    carry zero-width spaces, which also break table alignment), whitespace runs collapsed."""
    if _missing(text):
        return None
    visible = "".join(ch for ch in str(text) if unicodedata.category(ch) not in ("Cf", "Cc"))
    return _WHITESPACE.sub(" ", visible).strip()


def normalize_text(text: object) -> str:
    """Fold a title or artist for matching: Unicode NFKD, ASCII, lower case, punctuation removed.

    Drops "feat./ft." credits, bracketed suffixes such as "(Remastered 2011)" and dash suffixes
    such as " - Live at Wembley"; a leading "the " is dropped so "The Beatles" meets "Beatles".
    """
    if _missing(text):
        return ""
    s = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii").lower()
    s = s.replace("&", " and ")
    s = _FEAT.sub("", s)
    s = _BRACKETED.sub("", s)
    s = _DASH_SUFFIX.sub("", s)
    s = _NON_ALNUM.sub(" ", s).strip()
    if s.startswith("the "):
        s = s[4:]
    return s
