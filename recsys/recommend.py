"""Songs like this one: BM25 candidates ∪ FAISS candidates, reranked by a blend of both.

For a query song the lexical query is the song's own term counts as stored in the BM25 index
(songs.parquet carries no lyrics), and the dense query is its row of ``embeddings.npy``. Both
retrieve their top N (songs with a zero BM25 score share no term and are not lexical
candidates); the union is reranked:

    linear: score = w * cosine + (1 - w) * bm25 / max(bm25 over the candidates) + a * audio + e * era

``cosine`` is the raw inner product of L2-normalised embeddings (in practice 0..1 for songs
that reach the candidate list; it is not clipped), and dividing BM25 by its maximum over the
candidates puts the lexical term in [0, 1] with the best lexical match at 1, so ``w`` trades
two comparable quantities. ``audio`` is the cosine of the two songs' standardised audio
features (``recsys.audio``; in [-1, 1], 0 when either song has none, and 0 for free-text
queries), and ``era`` the agreement of the two songs' years (``recsys.era``; 0 on average, 0
when either song has no year, and 0 for free-text queries). ``w`` comes from the manifest's
``blend_weight`` (0.5 if absent), ``a`` from its ``audio_weight`` and ``e`` from its
``era_weight`` (0 if absent, which is the two-signal blend); ``recsys tune`` sets all three.
``rrf`` fusion instead adds 1 / (60 + rank) from the cosine's and BM25's rankings of the
candidates (a song with no term in common gets no lexical share): no weight to tune, and
insensitive to the scales of the two scores; it leaves the audio and era signals out.

Filters (mood, genre, year range, excluded artist) apply to the candidates before the top k is
taken; if they leave fewer than k songs, N grows (x4) until the whole catalogue is candidates.
N is 100, or k when k is larger: so up to k = 100 a smaller k's list is the start of a larger
one's, and past it (or when filters widen N) the deeper lists can bring in songs that the audio
and era terms lift above ones a shorter list showed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from recsys.artifacts import Artifacts, Verify, load_artifacts
from recsys.audio import AudioSpace
from recsys.era import EraSpace
from recsys.schema import MOODS
from recsys.text import lookup_key, shorten
from recsys.errors import RecsysError
from recsys.resolve import artist_matches, resolve_id, resolve_title
from recsys.songtable import SongTable
from recsys.vectors import best_indices

Fusion = Literal["linear", "rrf"]
RRF_K = 60
N_CANDIDATES = 100
# A longer list is no longer a recommendation, and ranking the whole real catalogue takes seconds.
MAX_K = 1000
YEARS = (1, 9999)
# The genre head's probabilities are Platt-calibrated on the validation songs (index/calibrate.py):
# from 0.5 on, a genre is at least as likely as not.
GENRE_EVEN_ODDS = 0.5


def most_probable_mood(probs: dict[str, float]) -> str | None:
    """The mood a head's probabilities (by label, in its order) predict; None without any."""
    return max(probs, key=probs.__getitem__) if probs else None


def likely_genres(probs: dict[str, float]) -> list[str]:
    """The genres at even odds or better (``GENRE_EVEN_ODDS``), most probable first."""
    return [genre for genre in sorted(probs, key=lambda g: -probs[g]) if probs[genre] >= GENRE_EVEN_ODDS]


@dataclass(frozen=True)
class Filters:
    """Constraints on recommended songs; None (or blank text) means no constraint. ``mood`` and
    ``genre`` match a song's tags, or where it has no tag of that kind the model's prediction
    (:meth:`Recommender.predicted_mood`, :meth:`Recommender.predicted_genres`); ``tagged_only``
    matches tags alone."""

    mood: str | None = None
    genre: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    exclude_artist: str | None = None
    tagged_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.tagged_only, (bool, np.bool_)):
            raise RecsysError(f"tagged only is true or false, got {type(self.tagged_only).__name__}")
        for name in ("mood", "genre", "exclude_artist"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise RecsysError(f"the {name.replace('_', ' ')} filter is text, got {type(value).__name__}")
            object.__setattr__(self, name, value.strip() or None)  # frozen: set once, here
        for name in ("year_from", "year_to"):
            if not _is_whole(getattr(self, name), optional=True):
                raise RecsysError(f"the {name.replace('_', ' ')} filter is a year, got {getattr(self, name)!r}")

    def active(self) -> bool:
        return any(v is not None for v in (self.mood, self.genre, self.year_from, self.year_to, self.exclude_artist))


@dataclass(frozen=True)
class Candidates:
    """The candidate set of one query with every signal; arrays aligned with ``rows``."""

    rows: np.ndarray  # int64 song rows
    cosine: np.ndarray  # float64
    bm25: np.ndarray  # raw BM25, float64
    bm25_norm: np.ndarray  # bm25 / max(bm25), in [0, 1]
    audio: np.ndarray  # audio-feature cosine to the query song, 0 without audio or query song
    era: np.ndarray  # era agreement with the query song, 0 without a year or query song

    def subset(self, keep: np.ndarray) -> Candidates:
        """The candidates where ``keep`` (a bool mask or indices) selects."""
        return Candidates(self.rows[keep], self.cosine[keep], self.bm25[keep], self.bm25_norm[keep], self.audio[keep], self.era[keep])


def _is_whole(value: Any, optional: bool = False) -> bool:
    """An int (numpy's too) but not a bool, which Python counts as one; None passes if ``optional``."""
    return (optional and value is None) or (isinstance(value, (int, np.integer)) and not isinstance(value, bool))


def _blend(weight: Any, audio_weight: Any, era_weight: Any, fusion: Any, overridden: bool) -> tuple[float, float, float, Fusion]:
    """The checked (w, a, e, fusion) of one ranking; ``overridden`` when the caller set a weight,
    which rrf has no use for."""
    for name, value in (("blend weight", weight), ("audio weight", audio_weight), ("era weight", era_weight)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= value <= 1.0:
            raise RecsysError(f"{name} must be a number in [0, 1], got {value!r}")
    if not isinstance(fusion, str) or fusion.lower() not in ("linear", "rrf"):
        raise RecsysError(f"unknown fusion {fusion!r}: use linear or rrf")
    if fusion.lower() == "rrf" and overridden:
        raise RecsysError("--weight, --audio-weight and --era-weight set the linear blend; rrf fuses ranks and takes no weight")
    return float(weight), float(audio_weight), float(era_weight), fusion.lower()  # type: ignore[return-value]


def linear_scores(
    cosine: np.ndarray, bm25_norm: np.ndarray, audio: np.ndarray, weight: float, audio_weight: float = 0.0, era: np.ndarray | float = 0.0, era_weight: float = 0.0
) -> np.ndarray:
    """``w * cosine + (1 - w) * bm25_norm + a * audio + e * era``, elementwise (one query's
    candidates, or a padded table of many)."""
    return weight * cosine + (1.0 - weight) * bm25_norm + audio_weight * audio + era_weight * era


def _ranks(values: np.ndarray, valid: np.ndarray | bool) -> np.ndarray:
    # 1-based rank along the last axis, best first, invalid entries last; ties keep their
    # order of appearance (stable).
    order = np.argsort(-np.where(valid, values, -np.inf), axis=-1, kind="stable")
    ranks = np.empty(values.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, values.shape[-1] + 1, dtype=np.float64), values.shape), axis=-1)
    return ranks


def rrf_scores(cosine: np.ndarray, bm25: np.ndarray, valid: np.ndarray | bool = True, k: int = RRF_K) -> np.ndarray:
    """Reciprocal rank fusion of the cosine and BM25 rankings of the candidates, along the last
    axis (one query's candidates, or a padded table of many where ``valid`` marks the real ones);
    a song without BM25 score gets no lexical share."""
    lexical = np.where(bm25 > 0, 1.0 / (k + _ranks(bm25, valid)), 0.0)
    return 1.0 / (k + _ranks(cosine, valid)) + lexical


class Recommender:
    """The query path over loaded artefacts::

        rec = Recommender.load("runs/demo/artifacts")
        rec.similar("Hey Jude", artist="Beatles", k=5, filters=Filters(year_to=1990))

    ``weight``, ``audio_weight`` and ``era_weight`` default to the tuned values in the manifest.
    """

    def __init__(
        self,
        artifacts: Artifacts,
        *,
        weight: float | None = None,
        audio_weight: float | None = None,
        era_weight: float | None = None,
        fusion: Fusion = "linear",
        n_candidates: int = N_CANDIDATES,
    ) -> None:
        self.artifacts = artifacts
        self.songs: SongTable = artifacts.table
        self.embeddings: np.ndarray = artifacts.embeddings
        self.weight, self.audio_weight, self.era_weight, self.fusion = _blend(
            artifacts.blend_weight if weight is None else weight,
            artifacts.audio_weight if audio_weight is None else audio_weight,
            artifacts.era_weight if era_weight is None else era_weight,
            fusion,
            overridden=weight is not None or audio_weight is not None or era_weight is not None,
        )
        self.n_candidates = n_candidates
        self._last_excluded: tuple[str, np.ndarray] | None = None

    @classmethod
    def load(cls, directory: str | Path, *, verify: Verify = "size", **options: Any) -> Recommender:
        """A recommender over the artefact directory ``recsys index build`` wrote; ``options`` as
        for the constructor (``weight``, ``audio_weight``, ``era_weight``, ``fusion``)."""
        return cls(load_artifacts(directory, verify=verify), **options)

    def find(self, title: str, artist: str | None = None) -> int:
        """The row of the song titled ``title``: exact, then normalised, then fuzzy match,
        ``artist`` narrowing each step. RecsysError when unknown (naming the nearest titles) or
        ambiguous (listing the candidates)."""
        return resolve_title(self.songs, title, artist, not_indexed=self.artifacts.n_without_lyrics)

    def find_id(self, song_id: str) -> int:
        """The row of the song with this ``song_id`` (printed by ``--json``, stable across builds
        of one catalogue): the handle for a title no ``artist`` can settle. RecsysError if none."""
        return resolve_id(self.songs, song_id, not_indexed=self.artifacts.n_without_lyrics)

    @cached_property
    def audio(self) -> AudioSpace:
        songs = self.songs
        return AudioSpace.from_columns(len(songs), lambda f: songs.numbers(f) if f in songs else None)

    @cached_property
    def era(self) -> EraSpace:
        return EraSpace(self.songs.numbers("year"))

    @cached_property
    def genres(self) -> list[str]:
        """Every genre some song carries, lower-cased and sorted."""
        return sorted({g.lower() for gs in self.songs.lists("genres") for g in gs})

    @cached_property
    def artist_keys(self) -> list[str]:
        """Each song's artist folded like titles (``lookup_key``), once for every excluded artist."""
        return [lookup_key(a) for a in self.songs.values("artist")]

    @cached_property
    def genre_keys(self) -> list[frozenset[str]]:
        """Each song's genres folded like titles (``lookup_key``), once: a --genre filter that
        widens to the whole catalogue compares thousands of songs."""
        return [frozenset(lookup_key(g) for g in gs) for gs in self.songs.lists("genres")]

    # --- candidates -----------------------------------------------------------------------

    def query_tokens(self, row: int) -> list[str]:
        """The song's lyric terms, repeated by count, as stored in the BM25 index."""
        return self.artifacts.lexical.document_tokens(row)

    def candidates(self, tokens: list[str], vector: np.ndarray, n: int, query_row: int | None = None) -> Candidates:
        """BM25 top ``n`` (positive scores only) ∪ FAISS top ``n``. ``query_row``, the query song
        if there is one, is left out and gives the audio and era queries."""
        n_songs = len(self.songs)
        bm25_all = self.artifacts.lexical.scores(tokens)
        if query_row is not None:
            bm25_all = bm25_all.copy()
            bm25_all[query_row] = 0.0
        positive = np.flatnonzero(bm25_all > 0)
        positive = positive[best_indices(bm25_all[positive], n)]
        _, dense_rows = self.artifacts.dense.search(np.asarray(vector, dtype=np.float32)[None, :], min(n + 1, n_songs))
        rows = np.union1d(positive, dense_rows[0][dense_rows[0] >= 0])
        if query_row is not None:
            rows = rows[rows != query_row]
        bm25 = bm25_all[rows]
        if not np.isfinite(bm25).all():
            row = int(rows[~np.isfinite(bm25)][0])
            raise RecsysError(f"{self.artifacts.path}/bm25: the weights of song row {row} hold NaN or infinite values; the artefacts are damaged, rebuild them")
        top = bm25.max() if len(bm25) else 0.0
        norm = bm25 / top if top > 0 else np.zeros(len(rows))
        cosine = np.asarray(self.embeddings[rows] @ np.asarray(vector, dtype=np.float32), dtype=np.float64)
        if not np.isfinite(cosine).all():
            raise self._damaged_row(int(rows[~np.isfinite(cosine)][0]))
        audio = self.audio.similarity(query_row, rows) if query_row is not None else np.zeros(len(rows))
        era = self.era.similarity(query_row, rows) if query_row is not None else np.zeros(len(rows))
        return Candidates(rows.astype(np.int64), cosine, bm25, norm, audio, era)

    def _damaged_row(self, row: int) -> RecsysError:
        # Loading checks sizes, not every value (`recsys index verify` hashes the files).
        return RecsysError(f"{self.artifacts.path}/embeddings.npy: row {row} holds NaN or infinite values; the artefacts are damaged, rebuild them")

    def check_request(self, k: int, filters: Filters) -> None:
        """RecsysError for a ``k`` outside 1..MAX_K or a filter no song could pass (a typo rather than a
        real constraint)."""
        if not _is_whole(k) or not 1 <= k <= MAX_K:
            raise RecsysError(f"k must be a whole number between 1 and {MAX_K}, got {k!r}")
        if filters.mood is not None and filters.mood.lower() not in MOODS:
            raise RecsysError(f"unknown mood {filters.mood!r}: choose one of {', '.join(MOODS)}")
        if filters.genre is not None:
            known = self.genres
            if not any(lookup_key(filters.genre) in keys for keys in self.genre_keys):
                raise RecsysError(f"no song has genre {filters.genre!r}; genres here: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}")
        for option, year in (("--year-from", filters.year_from), ("--year-to", filters.year_to)):
            if year is not None and not YEARS[0] <= year <= YEARS[1]:
                raise RecsysError(f"{option} {shorten(year, 12)} is not a year between {YEARS[0]} and {YEARS[1]}")
        if filters.year_from is not None and filters.year_to is not None and filters.year_from > filters.year_to:
            raise RecsysError(f"--year-from {filters.year_from} is after --year-to {filters.year_to}")
        if filters.exclude_artist is not None and not self._excluded(filters.exclude_artist).any():
            raise RecsysError(f"no artist here matches --exclude-artist {shorten(filters.exclude_artist, 60)}")

    def _excluded(self, artist: str) -> np.ndarray:
        """The songs (a bool mask over all of them) by the artist ``artist`` names, matched as
        ``--artist`` is: a full name, a close spelling or part of a name ("groban")."""
        # One query asks for the same mask several times (the request check, each widening of the
        # candidates); matching every artist takes ~8 ms on the real catalogue.
        if self._last_excluded is None or self._last_excluded[0] != artist:
            self._last_excluded = (artist, artist_matches(self.artist_keys, artist))
        return self._last_excluded[1]

    def _filter_mask(self, rows: np.ndarray, filters: Filters) -> np.ndarray:
        songs = self.songs
        keep = np.ones(len(rows), dtype=bool)
        if filters.mood is not None:
            mood, moods = filters.mood.lower(), songs.values("mood")

            def has_mood(row: int) -> bool:
                if moods[row] is not None or filters.tagged_only:
                    return moods[row] == mood
                return self.predicted_mood(row) == mood

            keep &= np.array([has_mood(r) for r in rows], dtype=bool)
        if filters.genre is not None:
            # Folded like titles: "HIP-HOP" and "Hip Hop" find "hip hop".
            genre, genre_keys = lookup_key(filters.genre), self.genre_keys

            def has_genre(row: int) -> bool:
                if genre_keys[row] or filters.tagged_only:
                    return genre in genre_keys[row]
                return any(lookup_key(g) == genre for g in self.predicted_genres(row))

            keep &= np.array([has_genre(r) for r in rows], dtype=bool)
        year = songs.numbers("year")[rows]
        if filters.year_from is not None:
            keep &= np.nan_to_num(year, nan=-np.inf) >= filters.year_from
        if filters.year_to is not None:
            keep &= np.nan_to_num(year, nan=np.inf) <= filters.year_to
        if filters.exclude_artist is not None:
            keep &= ~self._excluded(filters.exclude_artist)[rows]
        return keep

    # --- ranking --------------------------------------------------------------------------

    def rank(
        self,
        tokens: list[str],
        vector: np.ndarray,
        k: int,
        *,
        query_row: int | None = None,
        filters: Filters | None = None,
        weight: float | None = None,
        audio_weight: float | None = None,
        era_weight: float | None = None,
        fusion: Fusion | None = None,
    ) -> tuple[Candidates, np.ndarray, np.ndarray]:
        """(candidates, indices of the top ``k`` into them best first, their scores)."""
        filters = filters or Filters()
        self.check_request(k, filters)
        w, a, e, fusion = _blend(
            self.weight if weight is None else weight,
            self.audio_weight if audio_weight is None else audio_weight,
            self.era_weight if era_weight is None else era_weight,
            self.fusion if fusion is None else fusion,
            overridden=weight is not None or audio_weight is not None or era_weight is not None,
        )
        n = max(self.n_candidates, k)
        while True:
            cand = self.candidates(tokens, vector, n, query_row)
            keep = self._filter_mask(cand.rows, filters) if filters.active() else np.ones(len(cand.rows), bool)
            if keep.sum() >= k or n >= len(self.songs):
                break
            n *= 4
        # RRF ranks only the songs the filters keep, as the evaluation's filtered pools do.
        scores = rrf_scores(cand.cosine, cand.bm25, keep) if fusion == "rrf" else linear_scores(cand.cosine, cand.bm25_norm, cand.audio, w, a, cand.era, e)
        kept = np.flatnonzero(keep)
        # Candidate rows are ascending, so ties to the lower index are ties to the lower song row.
        chosen = kept[best_indices(scores[kept], k)]
        return cand, chosen, scores[chosen]

    def similar(
        self, song: int | str, k: int = 10, filters: Filters | None = None, explain: bool = False, *, artist: str | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        """The ``k`` songs most like ``song`` (itself excluded), as records best first. ``song`` is
        a title (resolved by :meth:`find`, ``artist`` narrowing it) or a row of the song table."""
        if isinstance(song, str):
            row = self.find(song, artist)
        elif not _is_whole(song):
            raise RecsysError(f"a song is a title or a row number, got {type(song).__name__}")
        elif artist is not None:
            raise RecsysError("artist narrows a title; a song given by its row needs none")
        else:
            row = int(song)
        if not 0 <= row < len(self.songs):
            raise RecsysError(f"song row {row} is outside the artefacts' {len(self.songs)} songs")
        tokens = self.query_tokens(row)
        vector = np.asarray(self.embeddings[row])
        if not np.isfinite(vector).all():
            raise self._damaged_row(row)
        cand, chosen, scores = self.rank(tokens, vector, k, query_row=row, filters=filters, **options)
        return self._records(cand, chosen, scores, tokens, row if explain else None, explain)

    def search_vector(
        self, tokens: list[str], vector: np.ndarray, k: int = 10, filters: Filters | None = None, explain: bool = False, **options: Any
    ) -> list[dict[str, Any]]:
        """The ``k`` songs best matching a free-text query given as tokens and an embedding."""
        cand, chosen, scores = self.rank(tokens, vector, k, filters=filters, **options)
        return self._records(cand, chosen, scores, tokens, None, explain)

    # --- output ---------------------------------------------------------------------------

    def _records(
        self, cand: Candidates, chosen: np.ndarray, scores: np.ndarray, tokens: list[str], query_row: int | None, explain: bool
    ) -> list[dict[str, Any]]:
        songs = self.songs
        years = songs.numbers("year")
        clusters = songs.numbers("cluster") if "cluster" in songs else np.full(len(songs), np.nan)
        out = []
        for rank, (i, score) in enumerate(zip(chosen, scores), start=1):
            row = int(cand.rows[i])
            record: dict[str, Any] = {
                "rank": rank,
                "row": row,
                "song_id": str(songs.values("song_id")[row]),
                "title": str(songs.values("title")[row]),
                "artist": str(songs.values("artist")[row]),
                "year": None if math.isnan(years[row]) else int(years[row]),
                "score": round(float(score), 8),
                "cosine": round(float(cand.cosine[i]), 6),
                "bm25": round(float(cand.bm25_norm[i]), 6),
                "bm25_raw": round(float(cand.bm25[i]), 4),
                "audio": round(float(cand.audio[i]), 6),
                "era": round(float(cand.era[i]), 6),
                "mood": songs.values("mood")[row],
                "genres": [str(g) for g in songs.lists("genres")[row]],
                "predicted_mood": self.predicted_mood(row),
                "predicted_genres": self.predicted_genres(row),
                "cluster": None if math.isnan(clusters[row]) else int(clusters[row]),
            }
            if explain:
                record["why"] = self.explain(row, tokens, query_row)
            out.append(record)
        return out

    def explain(self, row: int, tokens: list[str], query_row: int | None = None) -> dict[str, Any]:
        """Why ``row`` was recommended: matched lyric terms, the shared cluster and its keywords,
        the song's predicted mood/genre probabilities, and (for a query song) the years between
        the two songs and the three audio features that differ most, in standard deviations."""
        why: dict[str, Any] = {"matched_terms": self.artifacts.lexical.matched_terms(tokens, row, 5)}
        songs = self.songs
        if query_row is not None and "cluster" in songs:
            c, q = songs.numbers("cluster")[row], songs.numbers("cluster")[query_row]
            if c == q:  # False when either is NaN
                keywords = (getattr(self.artifacts, "clusters", None) or {}).get("keywords", {})
                why["shared_cluster"] = {"cluster": int(c), "keywords": list(keywords.get(str(int(c)), []))}
        why.update(self._label_probs(row))
        if query_row is not None:
            why["year_gap"] = self.era.gap(query_row, row)
            why["audio_differences"] = self.audio.differences(query_row, row)
        return why

    def predicted_mood(self, row: int) -> str | None:
        """The mood head's most probable mood for song ``row``; None without a mood head (a
        plain-encoder build)."""
        return most_probable_mood(self._head_probs(row, "mood_probs", "mood_labels"))

    def predicted_genres(self, row: int) -> list[str]:
        """The genres the genre head gives song ``row`` at even odds or better (``GENRE_EVEN_ODDS``),
        most probable first; none without a genre head."""
        return likely_genres(self._head_probs(row, "genre_probs", "genre_labels"))

    def _head_probs(self, row: int, column: str, vocab_key: str) -> dict[str, float]:
        """One head's probabilities for song ``row`` by label, in the head's label order; empty
        when the build has no such head."""
        vocab = ((self.artifacts.manifest or {}).get("params") or {}).get(vocab_key) or []
        if not vocab or column not in self.songs:
            return {}
        probs = self.songs.matrix(column, len(vocab))[row]
        return {} if np.isnan(probs).any() else {label: float(p) for label, p in zip(vocab, probs)}

    def _label_probs(self, row: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, vocab_key in (("mood_probs", "mood_labels"), ("genre_probs", "genre_labels")):
            probs = self._head_probs(row, column, vocab_key)
            if probs:
                out[column] = {label: round(probs[label], 3) for label in sorted(probs, key=lambda label: -probs[label])[:3]}
        return out
