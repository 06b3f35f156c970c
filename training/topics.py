"""LDA topic proportions of lyrics: fit, choose the number of topics, transform any song, save, load.

Lyrics go through :func:`recsys.text.tokenize` (the tokenizer BM25 uses too), a gensim
``Dictionary`` filtered of rare and ubiquitous words, then a gensim ``LdaModel``. The model feeds
tBERT a (k,) topic distribution per song; it is saved inside the checkpoint's ``topics/`` folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from gensim.corpora import Dictionary
from gensim.models import CoherenceModel, LdaModel

from recsys.errors import RecsysError
from recsys.io import atomic_path
from recsys.progress import progress
from recsys.text import TOKENIZER, Tokenizer, tokenize

FORMAT_VERSION = 1
MODEL_FILE = "lda.gensim"
DICTIONARY_FILE = "dictionary.gensim"
PARAMS_FILE = "topics.json"

BowCorpus = list[list[tuple[int, int]]]


def _build_dictionary(token_lists: Sequence[list[str]], no_below: int, no_above: float, keep_n: int) -> Dictionary:
    dictionary = Dictionary(token_lists)
    dictionary.filter_extremes(no_below=no_below, no_above=no_above, keep_n=keep_n)
    if len(dictionary) == 0:
        raise RecsysError(
            f"topics: no words left after filtering {len(token_lists)} lyrics (no_below={no_below}, no_above={no_above}): "
            "too few words shared by enough songs; lyric words are Latin letters after folding accents, so lyrics "
            "in other scripts give none; give more songs with such lyrics"
        )
    return dictionary


def _check_topic_counts(counts: Sequence[int], n_texts: int) -> None:
    bad = [k for k in counts if k < 1]
    if bad:
        raise RecsysError(f"topics: a topic count must be at least 1, got {bad[0]}")
    too_many = [k for k in counts if k > n_texts]
    if too_many:
        # More topics than lyrics cannot be told apart, and gensim's cost grows with k.
        raise RecsysError(f"topics: {too_many[0]} topics for {n_texts} training lyrics; choose at most {n_texts}")


def _fit_lda(corpus: BowCorpus, dictionary: Dictionary, num_topics: int, passes: int, seed: int, alpha: str) -> LdaModel:
    if not any(corpus):
        raise RecsysError("topics: every lyric is empty after tokenisation and filtering")
    # eval_every=None: gensim would otherwise compute perplexity during training, doubling the cost.
    return LdaModel(
        corpus=corpus,
        id2word=dictionary,
        num_topics=num_topics,
        passes=passes,
        random_state=seed,
        alpha=alpha,
        eta="symmetric",
        chunksize=2000,
        eval_every=None,
    )


def _save_lda(lda: Any, fname: str) -> None:
    """``LdaModel.save`` with its defaults, but with the attributes it leaves out of the pickle
    in a fixed order: gensim builds that list from a set, whose order follows the process's string
    hash seed, so two processes wrote different bytes for the same model. ``LdaModel.load`` reads
    the files back (state and id2word beside the pickle, the large arrays as .npy)."""
    from gensim import utils

    lda.state.save(utils.smart_extension(fname, ".state"))
    utils.pickle(lda.id2word, utils.smart_extension(fname, ".id2word"))
    separately = ["expElogbeta", "sstats"] + [
        name for name in ("alpha", "eta")
        if isinstance(getattr(lda, name), str) or (isinstance(getattr(lda, name), np.ndarray) and getattr(lda, name).ndim != 1)
    ]
    utils.SaveLoad.save(lda, fname, ignore=("dispatcher", "id2word", "state"), separately=separately)


class TopicModel:
    """A fitted LDA model with its dictionary; ``transform`` gives (n, k) topic proportions.

    ``tokenizer`` is the one the dictionary was built with: a model loaded from before the current
    tokenizer keeps its own, so its topics stay what they were."""

    def __init__(self, lda: LdaModel, dictionary: Dictionary, params: dict[str, Any], tokenizer: Tokenizer = TOKENIZER) -> None:
        self.lda = lda
        self.dictionary = dictionary
        self.params = params
        self.tokenizer = tokenizer

    @property
    def num_topics(self) -> int:
        return int(self.lda.num_topics)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        num_topics: int = 10,
        passes: int = 5,
        seed: int = 0,
        no_below: int = 5,
        no_above: float = 0.5,
        keep_n: int = 20000,
        alpha: str = "symmetric",
    ) -> TopicModel:
        """Fit on ``texts`` (lyrics of the training songs).

        Words in fewer than ``no_below`` songs or more than ``no_above`` of them are dropped, then
        the ``keep_n`` most frequent are kept.
        """
        _check_topic_counts([num_topics], len(texts))
        token_lists = [tokenize(t) for t in texts]
        dictionary = _build_dictionary(token_lists, no_below, no_above, keep_n)
        corpus = [dictionary.doc2bow(tokens) for tokens in token_lists]
        lda = _fit_lda(corpus, dictionary, num_topics, passes, seed, alpha)
        params = dict(
            num_topics=num_topics, passes=passes, seed=seed, no_below=no_below, no_above=no_above,
            keep_n=keep_n, alpha=alpha, n_docs=len(token_lists),
        )
        return cls(lda, dictionary, params)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) float32 topic proportions, rows summing to 1, for any lyrics (seen or not).

        Each song's variational inference starts from the same seeded state, so a song's row does
        not depend on which other songs share the call, and repeated calls agree exactly. A song
        with no known words gets the prior (uniform under a symmetric alpha).
        """
        out = np.empty((len(texts), self.num_topics), dtype=np.float32)
        seed = int(self.params["seed"])
        for i, text in enumerate(texts):
            bow = self.dictionary.doc2bow(self.tokenizer(text))
            self.lda.random_state = np.random.RandomState(seed)
            gamma, _ = self.lda.inference([bow])
            out[i] = gamma[0] / gamma[0].sum()
        return out

    def top_words(self, topic: int, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` most probable words of ``topic`` with their probabilities."""
        if not 0 <= topic < self.num_topics:
            raise RecsysError(f"topics: topic {topic} out of range 0..{self.num_topics - 1}")
        return [(word, float(p)) for word, p in self.lda.show_topic(topic, topn=n)]

    def save(self, path: str | Path) -> Path:
        """Write the model folder atomically: gensim model, gensim dictionary, params JSON."""
        path = Path(path)
        # gensim pickles a log of dated events (and this save's temporary path) with each object:
        # without it, the same seed writes the same bytes, and the model's hash is reproducible.
        for part in (self.lda, self.lda.state, self.lda.id2word, self.dictionary):
            part.lifecycle_events = None
        with atomic_path(path, marker=PARAMS_FILE) as tmp:
            tmp.mkdir()
            _save_lda(self.lda, str(tmp / MODEL_FILE))
            self.dictionary.save(str(tmp / DICTIONARY_FILE))
            meta = {
                "format_version": FORMAT_VERSION, "params": self.params, "vocab_size": len(self.dictionary),
                "tokenizer": self.tokenizer.settings(),
            }
            (tmp / PARAMS_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TopicModel:
        """Read a folder written by :meth:`save`; one-line RecsysError if missing, damaged, of another
        version, or fitted with tokenizer settings this recsys does not have."""
        path = Path(path)
        meta_file = path / PARAMS_FILE
        if not meta_file.is_file():
            raise RecsysError(f"{path}: not a topic model folder (no {PARAMS_FILE})")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            version, params, vocab_size = meta["format_version"], meta["params"], int(meta["vocab_size"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RecsysError(f"{meta_file}: unreadable topic model params ({type(exc).__name__})") from None
        if version != FORMAT_VERSION:
            raise RecsysError(f"{path}: topic model format {version}, this recsys reads {FORMAT_VERSION}")
        # Other tokens than the dictionary was built from would shift every song's topics silently.
        tokenizer = Tokenizer.from_settings(meta.get("tokenizer"))
        if tokenizer is None:
            raise RecsysError(
                f"{path}: topic model was fitted with tokenizer settings this recsys does not have "
                "(or before models recorded them); retrain with `recsys train`"
            )
        for name in (MODEL_FILE, DICTIONARY_FILE):
            if not (path / name).is_file():
                raise RecsysError(f"{path}: topic model folder is missing {name}")
        try:
            lda = LdaModel.load(str(path / MODEL_FILE))
            dictionary = Dictionary.load(str(path / DICTIONARY_FILE))
        except Exception as exc:  # pickle and numpy raise many types for damaged files
            raise RecsysError(f"{path}: topic model files do not load ({type(exc).__name__})") from None
        if len(dictionary) != vocab_size or lda.num_terms != vocab_size or lda.num_topics != params.get("num_topics"):
            raise RecsysError(f"{path}: topic model files do not match {PARAMS_FILE} (vocabulary or topic count)")
        return cls(lda, dictionary, params, tokenizer)


def select_num_topics(
    texts: Sequence[str],
    grid: Sequence[int] = (5, 7, 10, 15),
    *,
    seed: int = 0,
    coherence: str = "c_v",
    sample: int = 2000,
    holdout: float = 0.1,
    passes: int = 5,
    no_below: int = 5,
    no_above: float = 0.5,
    keep_n: int = 20000,
) -> tuple[TopicModel, list[dict[str, Any]]]:
    """Fit one model per k in ``grid``; return the one with the best ``coherence`` and a report.

    A seeded ``holdout`` fraction of the songs is kept out of fitting to measure perplexity
    (``2 ** -bound``, gensim's per-word bound); the returned model is the one fitted without it.
    c_v coherence is slow (about 40 s on 20k songs), so it is computed on a seeded sample of
    ``sample`` training songs (the report says how many; None where a topic's top word is absent
    from the sample); u_mass, cheap, uses every training song and is always reported. ``coherence="u_mass"`` selects on u_mass and skips c_v.
    """
    if coherence not in ("c_v", "u_mass"):
        raise RecsysError(f"topics: coherence must be c_v or u_mass, got {coherence!r}")
    if not grid:
        raise RecsysError("topics: the grid of topic counts is empty")
    _check_topic_counts(grid, len(texts))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    n_held = max(1, int(round(holdout * len(texts))))
    if len(texts) - n_held < 2:
        raise RecsysError(f"topics: {len(texts)} lyrics are too few to hold out {n_held} for perplexity")
    held_idx, train_idx = order[:n_held], order[n_held:]
    train_tokens = [tokenize(texts[i]) for i in train_idx]
    dictionary = _build_dictionary(train_tokens, no_below, no_above, keep_n)
    train_corpus = [dictionary.doc2bow(t) for t in train_tokens]
    held_corpus = [dictionary.doc2bow(tokenize(texts[i])) for i in held_idx]
    n_sample = min(sample, len(train_tokens))
    sample_tokens = [train_tokens[i] for i in rng.choice(len(train_tokens), size=n_sample, replace=False)]

    report: list[dict[str, Any]] = []
    models: list[TopicModel] = []
    with progress() as bar:
        task = bar.add_task("topics grid", total=len(grid), info="")
        for k in grid:
            bar.update(task, info=f"k={k}")
            start = time.perf_counter()
            lda = _fit_lda(train_corpus, dictionary, k, passes, seed, "symmetric")
            fit_s = time.perf_counter() - start
            bound = float(lda.log_perplexity(held_corpus))
            start = time.perf_counter()
            u_mass = CoherenceModel(model=lda, corpus=train_corpus, dictionary=dictionary, coherence="u_mass")
            row: dict[str, Any] = {
                "k": int(k),
                "log_perplexity_bound": bound,
                "perplexity": float(2.0 ** (-bound)),
                "u_mass": float(u_mass.get_coherence()),
                "c_v": None,
                "c_v_sample": 0,
            }
            if coherence == "c_v":
                c_v = CoherenceModel(
                    model=lda, texts=sample_tokens, dictionary=dictionary, coherence="c_v", processes=1
                )
                # A top word absent from the sample makes c_v 0/0; report None rather than NaN.
                with np.errstate(divide="ignore", invalid="ignore"):
                    value = float(c_v.get_coherence())
                row["c_v"], row["c_v_sample"] = (value if np.isfinite(value) else None), n_sample
            row.update(
                fit_seconds=round(fit_s, 2),
                coherence_seconds=round(time.perf_counter() - start, 2),
                train_docs=len(train_corpus),
                holdout_docs=n_held,
            )
            report.append(row)
            params = dict(
                num_topics=int(k), passes=passes, seed=seed, no_below=no_below, no_above=no_above,
                keep_n=keep_n, alpha="symmetric", n_docs=len(train_corpus),
            )
            models.append(TopicModel(lda, dictionary, params))
            bar.update(task, advance=1)
    scores = [row[coherence] if row[coherence] is not None else -np.inf for row in report]
    if not np.isfinite(max(scores)):
        raise RecsysError(f"topics: {coherence} is undefined for every k on a {n_sample}-song sample; raise sample")
    best = int(np.argmax(scores))
    for i, row in enumerate(report):
        row["selected"] = i == best
    return models[best], report
