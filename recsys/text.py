"""Text handling shared by every stage: lyric tokenisation (LDA topics, BM25, TF-IDF,
keywords) and the folding of titles and artists into match keys.

One tokenizer for all of them, so that a query token always matches an index token. Each index
and topic model records its tokenizer's settings and loads with that tokenizer, so builds made
before a tokenizer change keep answering as they were built.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

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


# Latin letters that Unicode does not decompose into a base letter and an accent, so NFKD alone
# drops them from lyric tokens ("søren" would become "sren") and accent folding leaves them whole in
# title lookups. Lower-case keys: both fold case first.
LETTER_FOLDS: dict[str, str] = {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_LETTER_FOLDS = str.maketrans(LETTER_FOLDS)
# Typographic apostrophes, and the cp1252 one that mis-decoded lyrics carry: "don’t" meets "don't".
APOSTROPHE_CHARS = "\u2019\u2018\u02bc\x92"
# Letters of other scripts that their writers mostly replace by another: Russian prints ё as е.
SCRIPT_FOLDS: dict[str, str] = {"ё": "е"}
_UNICODE_FOLDS = str.maketrans({**LETTER_FOLDS, **SCRIPT_FOLDS, **dict.fromkeys(APOSTROPHE_CHARS, "'")})
# Scripts written without spaces between words (Chinese, Japanese) or with particles glued to them
# (Korean): indexed as overlapping two-character pieces, as Lucene's CJK analyzer does, so that
# "사랑을" and "사랑해" share "사랑". Single kana and Hangul syllables are not words (the most
# frequent are particles such as "の" and "이"), so they are tokens only when standing alone.
_BIGRAM_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー〆"
_HAN_WORD = r"[\p{Han}--[々]]"  # 々 repeats the character before it: a word only with it
_WORD_CHAR = rf"[[\p{{L}}\p{{M}}]--[{_BIGRAM_SCRIPTS}]]"  # marks too: Hindi vowel signs are inside words
UNICODE_TOKEN_PATTERN = rf"(?P<bigrams>[{_BIGRAM_SCRIPTS}]+)|{_WORD_CHAR}(?:[{_WORD_CHAR}']*{_WORD_CHAR})?"
# Dropped before the words are found, as the writers of each script mostly leave them out. Before
# decomposition: invisible format characters (a soft hyphen must not split a word) and Hangul
# compatibility jamo, the emoticons "ㅋㅋ" and "ㅠㅠ", which decomposed would join syllables. After:
# Latin and Greek accents, Arabic vowel signs and tatweel, Hebrew points.
UNICODE_DROPPED_PATTERNS = (
    r"\p{Cf}|[\u3130-\u318f]",
    r"(?<=[\x00-\x7f\p{Greek}])\p{Mn}+|[\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]",
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text.translate(_LETTER_FOLDS)).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True)
class Tokenizer:
    """Lyrics to word tokens: lower-cased, accents folded ("beyoncé" -> "beyonce"), inner
    apostrophes removed ("don't" -> "dont"), stop words and one-letter words dropped.

    Letters of every script make words ("привет", "नमस्ते"); Chinese, Japanese and Korean runs give
    their overlapping two-character pieces and their Chinese characters, and a lone character
    itself. ``latin_only=True`` is the tokenizer of indexes and topic models made before
    2026-12-07: it folds the text to ASCII, so other scripts give no tokens and a dash between two
    words ("love—war") joins them. It is kept so that those builds still load and answer as they
    were built.
    """

    latin_only: bool = False

    def __call__(self, text: str | None) -> list[str]:
        if not text:
            return []
        folded = text.lower()
        if not folded.isascii():
            folded = _fold(folded) if self.latin_only else _fold_marks(folded)
        if folded.isascii():  # most lyrics, once folded: the stdlib pattern is faster
            return _words([m.group(0) for m in _TOKEN.finditer(folded)])
        tokens: list[str] = []
        for match in _unicode_regex(UNICODE_TOKEN_PATTERN).finditer(folded):
            run = match.group("bigrams")
            if run is None:
                tokens.extend(_words([match.group(0)]))
            elif len(run) == 1:
                tokens.append(run)
            else:  # Chinese characters alone too: one is a word ("星", star), where kana and Hangul are syllables
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
                tokens.extend(_unicode_regex(_HAN_WORD).findall(run))
        return tokens

    def settings(self) -> dict[str, object]:
        """What decides this tokenizer's output. Indexes and topic models save it and pick their
        tokenizer by it at load, so that query-time tokens are produced like index-time tokens."""
        stop_words = "\n".join(sorted(STOP_WORDS)).encode()
        settings: dict[str, object] = {
            "name": "recsys.text.tokenize",
            "pattern": TOKEN_PATTERN,
            "min_len": MIN_TOKEN_LEN,
            "stop_words_sha256": hashlib.sha256(stop_words).hexdigest(),
            "letter_folds": dict(sorted(LETTER_FOLDS.items())),
        }
        if not self.latin_only:  # the settings of a latin-only tokenizer are what its builds stored
            settings["unicode_pattern"] = UNICODE_TOKEN_PATTERN
            settings["dropped_patterns"] = list(UNICODE_DROPPED_PATTERNS)
            settings["cjk"] = "pairs, Han characters but 々, lone characters"
            settings["apostrophes"] = APOSTROPHE_CHARS
            settings["script_folds"] = dict(sorted(SCRIPT_FOLDS.items()))
        return settings

    @classmethod
    def from_settings(cls, settings: object) -> Tokenizer | None:
        """The tokenizer whose :meth:`settings` are ``settings``; None if this recsys has none."""
        return next((t for t in (cls(), cls(latin_only=True)) if t.settings() == settings), None)


def _fold_marks(lowered: str) -> str:
    """Lower-cased text with the letter and script folds applied, apostrophes made plain,
    compatibility forms decomposed ("ﬁ", "ｌｏｖｅ") and what :data:`UNICODE_DROPPED_PATTERNS`
    match removed."""
    before, after = (_unicode_regex(pattern) for pattern in UNICODE_DROPPED_PATTERNS)
    decomposed = unicodedata.normalize("NFKD", before.sub("", lowered.translate(_UNICODE_FOLDS)))
    # Lower-cased again: decomposition can give capitals ("™" -> "TM").
    return unicodedata.normalize("NFC", after.sub("", decomposed)).lower()


def _words(matches: list[str]) -> list[str]:
    words = (m.replace("'", "") for m in matches)
    return [w for w in words if len(w) >= MIN_TOKEN_LEN and w not in STOP_WORDS]


@functools.cache
def _unicode_regex(pattern: str) -> Any:
    import regex  # the stdlib's re has no script classes, and its \w splits Hindi words at vowel signs

    return regex.compile(pattern, regex.VERSION1)


TOKENIZER = Tokenizer()


def tokenize(text: str | None) -> list[str]:
    """:class:`Tokenizer`'s tokens of ``text``; what every new index and topic model uses."""
    return TOKENIZER(text)


# A credit: "feat./ft./featuring" anywhere, "with" only when it opens a bracket ("Señorita (with
# Camila)"), since it also starts and fills titles ("With a Little Luck", "Stay With Me").
CREDIT_WORDS = ("feat", "ft", "featuring")
BRACKET_CREDIT = "with"
_FEAT = re.compile(rf"\s*(?:[\(\[]\s*{BRACKET_CREDIT}\b|[\(\[]?\s*\b(?:{'|'.join(CREDIT_WORDS)})\b).*$", re.IGNORECASE)
_BRACKETED = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")
_DASH_SUFFIX = re.compile(
    r"\s+-\s+.*\b(remaster(ed)?|live|version|edit|mix|remix|mono|stereo|acoustic|demo)\b.*$", re.IGNORECASE
)
_NON_ALNUM = re.compile(r"[\W_]+")
_WHITESPACE = re.compile(r"\s+")


def _missing(text: object) -> bool:
    return text is None or (isinstance(text, float) and math.isnan(text))


# Some sources wrote a comma as "_" ("Harry Connick_ Jr", "Dance_ Dance") and a space as "_" in
# names that have no space ("mamas_and_the_papas"). Match keys read "_" as a space already.
_UNDERSCORE_COMMA = re.compile(r"_(?= )")
_UNDERSCORE_SPACE = re.compile(r"(?<=[^\W_])_(?=[^\W_])")


def tidy_name(text: object) -> str | None:
    """A title or artist as it should be shown: invisible format characters removed (the sources
    carry zero-width spaces, which also break table alignment), whitespace runs collapsed, and
    "_" read as the comma or the space it stands for; the match key stays the same."""
    if _missing(text):
        return None
    visible = "".join(ch for ch in str(text) if unicodedata.category(ch) not in ("Cf", "Cc"))
    name = _UNDERSCORE_COMMA.sub(",", _WHITESPACE.sub(" ", visible).strip())
    return name if " " in name else _UNDERSCORE_SPACE.sub(" ", name)


# Lyric sites annotate lyrics in brackets: section headers, often with the singer ("[Chorus: Ariana
# Grande]", "[Verse 2 - LL Cool J]"), repeat marks ("[x2]", "(Chorus x2)") and transcription notes
# ("[?]", "[Inaudible]"). Left in, the singers' names become lyric terms for BM25, TF-IDF and LDA
# and reach the encoder. Brackets also hold sung lines ("[come on baby let me kiss you]") and bare
# singer names ("[Ludacris]"), which nothing in the text tells apart, so those are kept.
_BRACKET_SPAN = re.compile(r"\[([^\[\]\n]*)\]|\(([^()\n]*)\)")
# Words that open a section header, which may go on to name the singers.
_SECTION_WORDS = frozenset(
    """
    chorus verse vers verso hook bridge ponte intro outro pre post prechorus postchorus prehook
    posthook refrain refräng ref interlude interlúdio instrumental solo repeat breakdown skit speech
    spoken dialogue coro estribillo escribillo refrao refrão couplet refreng strofa ritornello
    preritornello omkvæd nakarat estrofa letra хук припев куплет inaudible incomprehensible
    unintelligible
    """.split()
)
# Words that are an annotation only when the whole bracket is made of them ("[Guitar Solo]",
# "[Part 2]"); they also open sung lines ("[Drop it like it's hot]").
_LABEL_WORDS = _SECTION_WORDS | {"part", "guitar", "drop", "break", "buildup", "fade", "fades", "out"}
_REPEAT_MARK = re.compile(r"^(?:x|\*)?\d+x?$|^[ivx]+$")
_ANNOTATION_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_HEADER_LABEL_END = re.compile(r":| - ")


def _is_annotation(inner: str, square: bool) -> bool:
    words = [w.replace("-", "") for w in _ANNOTATION_WORD.findall(inner.lower())]
    if not any(ch.isalpha() for ch in inner) or (words and all(w in _LABEL_WORDS or _REPEAT_MARK.match(w) for w in words)):
        return True
    # A header naming who sings: "[Chorus: ...]", "[Verse 1 - ...]", "[Barbra:]"; square brackets only,
    # since parentheses hold far more sung asides.
    label = _HEADER_LABEL_END.split(inner, maxsplit=1)[0]
    return square and bool(words) and (words[0] in _SECTION_WORDS or (":" in inner and 0 < len(label.split()) <= 4))


def strip_lyric_annotations(text: object) -> str | None:
    """Lyrics without the lyric sites' bracketed annotations (section headers, singer credits,
    repeat marks, transcription notes); sung lines in brackets stay. None when no word is left
    ("[Instrumental with flute and percussion]")."""
    if _missing(text):
        return None

    def keep_or_drop(match: re.Match[str]) -> str:
        square = match.group(1) is not None
        return "" if _is_annotation(match.group(1) if square else match.group(2), square) else match.group(0)

    # Until nothing changes: dropping "[Chorus]" from "[x [Chorus] 2]" leaves "[x  2]", an annotation
    # too, and a second cleaning (the catalogue is conformed on save and again on load) must be a no-op.
    cleaned, before = str(text), None
    while cleaned != before:
        before, cleaned = cleaned, _BRACKET_SPAN.sub(keep_or_drop, cleaned)
    return cleaned if any(ch.isalpha() for ch in cleaned) else None


def counted(n: int, noun: str) -> str:
    """"1 row", "3 rows": a count and its noun, for messages."""
    return f"{n} {noun}{'s' * (n != 1)}"


def shorten(value: object, width: int = 40) -> str:
    """The ``repr`` of ``value`` cut to about ``width`` characters, for messages that quote a
    cell or a query: never a whole lyric, and the line stays readable."""
    text = str(value)
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _fold_latin_accents(text: str) -> str:
    """"Beyoncé" -> "Beyonce", while letters of other scripts stay whole ("작은 것들을 위한 시",
    "Мумий Тролль", "が"): a title in Hangul keeps a key of its own instead of folding to nothing."""
    if text.isascii():
        return text
    kept: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        if not (unicodedata.combining(ch) and kept and kept[-1].isascii()):
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def normalize_text(text: object) -> str:
    """Fold a title or artist for matching: accents removed, case folded, punctuation removed.

    Drops "feat./ft." and "(with ...)" credits, bracketed suffixes such as "(Remastered 2011)" and dash suffixes
    such as " - Live at Wembley"; a leading "the " is dropped so "The Beatles" meets "Beatles".
    """
    if _missing(text):
        return ""
    s = _fold_latin_accents(str(text)).casefold()
    s = s.replace("&", " and ")
    s = _FEAT.sub("", s)
    s = _BRACKETED.sub("", s)
    s = _DASH_SUFFIX.sub("", s)
    s = _NON_ALNUM.sub(" ", s).strip()
    if s.startswith("the "):
        s = s[4:]
    return s


def lookup_key(text: object) -> str:
    """:func:`normalize_text` with "ø", "æ", "ł" and the like folded too, so that a title or
    artist typed on a plain keyboard finds "MØ" or "Łódź". Only for matching what a user typed:
    song ids and source joins keep :func:`normalize_text`, so ids stay what earlier imports made."""
    return normalize_text(text).translate(_LETTER_FOLDS)
