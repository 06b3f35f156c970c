"""Lyric tokenizers on the real catalogue: recsys.text's Unicode tokenizer against the latin-only one
of builds made before 2026-12-07, which folds lyrics to ASCII and so drops every other script.

Run from the project root: ``.venv/bin/python -m bench.tokenizer``. For each tokenizer: the time to
tokenise every song, the songs whose tokens differ from the latin-only tokenizer's, the songs left
without a token, the BM25 vocabulary, and for the songs whose
letters are mostly in another script than Latin (Hangul, kana, Cyrillic, ...; at least
``--min-share`` of them): how many get any lexical neighbour, and the share of their BM25 top 10
(over their own terms, the query song excluded) that is written in the same script, or by the same
artist. Neither catalogue source tags these songs, so script and artist are the checks at hand.
"""

from __future__ import annotations

import time
import unicodedata
from collections import Counter

import numpy as np

from bench.common import add_name_option, bench_parser, real_songs, report, run
from recsys.errors import RecsysError
from recsys.lexical import BM25Index
from recsys.text import Tokenizer
from recsys.vectors import best_indices


def main_script(text: str) -> tuple[str, float]:
    """The script most of the non-Latin letters of ``text`` are in ("HANGUL", "CYRILLIC"; "LATIN"
    when there are none), and the share of its letters that are not Latin."""
    letters = [ch for ch in text if ch.isalpha()]
    other = Counter(unicodedata.name(ch, "?").split()[0] for ch in letters if not unicodedata.name(ch, "").startswith("LATIN"))
    if not other:
        return "LATIN", 0.0
    return other.most_common(1)[0][0], sum(other.values()) / len(letters)


def neighbours(index: BM25Index, row: int, k: int) -> list[int]:
    scores = index.scores(index.document_tokens(row))
    scores[row] = 0.0
    return [int(i) for i in best_indices(scores, k) if scores[i] > 0]


def main() -> None:
    parser = bench_parser("bench.tokenizer", __doc__)
    parser.add_argument("--min-share", type=float, default=0.3, help="share of a song's letters outside Latin for it to count")
    add_name_option(parser, "tokenizer", "catalogue and machine")
    args = parser.parse_args()
    if not 0 < args.min_share <= 1:
        raise RecsysError(f"--min-share must be in (0, 1], got {args.min_share}")

    songs, source = real_songs(["artist", "lyrics"])
    lyrics, artists = songs["lyrics"].tolist(), songs["artist"].tolist()
    scripts = [main_script(text) for text in lyrics]
    queries = [i for i, (_, share) in enumerate(scripts) if share >= args.min_share]
    by_script = Counter(scripts[i][0] for i in queries)
    k = 10
    rows: list[dict[str, object]] = []
    latin_only_tokens: list[list[str]] = []
    for name, tokenizer in (("latin-only (before 2026-12-07)", Tokenizer(latin_only=True)), ("unicode (now)", Tokenizer())):
        start = time.perf_counter()
        tokens = [tokenizer(text) for text in lyrics]
        tokenize_s = time.perf_counter() - start
        latin_only_tokens = latin_only_tokens or tokens  # the first pass is the latin-only tokenizer
        index = BM25Index.build(tokens, tokenizer=tokenizer)
        found = [neighbours(index, i, k) for i in queries]
        rows.append({
            "tokenizer": name,
            "tokenize_s": round(tokenize_s, 2),
            "songs_changed": sum(a != b for a, b in zip(tokens, latin_only_tokens)),
            "songs_without_tokens": sum(not t for t in tokens),
            "terms": len(index.terms),
            "queries": len(queries),
            "with_neighbours": sum(bool(f) for f in found),
            "same_script@10": round(float(np.mean([sum(scripts[j][0] == scripts[i][0] for j in f) / k for i, f in zip(queries, found)])), 3),
            "same_artist@10": round(float(np.mean([sum(artists[j] == artists[i] for j in f) / k for i, f in zip(queries, found)])), 3),
        })
    path = report(
        args.name,
        rows,
        title=f"Lyric tokenizers: {len(lyrics):,} songs, {len(queries)} mostly in another script than Latin",
        settings={"source": source, "songs": len(lyrics), "min_share": args.min_share, "k": k, "query_scripts": dict(by_script.most_common())},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    run(main)
