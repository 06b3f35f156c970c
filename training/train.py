"""Training the tBERT model: side inputs, the frozen-layer cache, and the AdamW loop with
warm-up, clipping and early stopping (labels and metrics: :mod:`training.labels`).

CPU cost is dominated by the encoder. With ``freeze_layers=N`` the embeddings and the lower N
layers run once per chunk under ``torch.inference_mode`` and their token states are kept (fp16)
in memory, so each epoch only runs the top layers and the heads. Only labelled songs with lyrics
are encoded; ``max_chunks`` caps chunks per song and the number of capped songs is reported.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from recsys.catalog import catalog_name, has_lyrics, in_split, split_fingerprint
from recsys.errors import RecsysError
from recsys.io import check_replaceable
from recsys.progress import progress
from recsys.text import counted, shorten
from training.encoding import Chunks, chunk_token_ids, pad_batch
from training.labels import Labels, class_weights, encode_labels, genre_thresholds, label_sets, neighbour_precision, score_tasks
from training.model import CONFIG_FILE, TBert, build_encoder, check_max_length, masked_losses, pool_songs, read_config, save_model
from training.options import MAX_TRAIN_CHUNKS, TrainOptions
from training.refit import HeadInputs, RefitResult, refit_head
from training.runtime import autocast, resolve_device, resolve_precision




def set_seed(seed: int) -> None:
    """Seed every generator a run touches (python, numpy, torch)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --- prepared inputs and the frozen-layer cache --------------------------------------------------


@dataclass
class Prepared:
    """Everything a training run (or a comparison variant) needs, computed once.

    ``rows`` are the catalogue rows that were encoded (labelled songs); chunk arrays and the
    cache are indexed through ``chunk_offsets`` (song position in ``rows`` -> its chunks).
    """

    catalog: pd.DataFrame
    labels: Labels
    tokenizer: Any
    encoder: Any
    encoder_path: str
    topic_model: Any
    features: Any
    topics: np.ndarray  # (n_catalog, k) float32
    audio: np.ndarray  # (n_catalog, d) float32
    rows: np.ndarray  # encoded catalogue rows
    chunks: Chunks
    chunk_offsets: np.ndarray  # (len(rows) + 1,)
    max_length: int
    max_chunks: int | None
    min_genre_songs: int
    freeze_layers: int
    precision: str  # resolved: fp32 or bf16 (autocast for the encoder in every later step)
    cache: list[torch.Tensor] | None  # per chunk: fp16 token states after the frozen layers
    cached_pooled: torch.Tensor | None  # per chunk pooled vectors when every layer is frozen
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def split_rows(self, split: str) -> np.ndarray:
        """Positions (into ``rows``) of encoded songs in ``split``."""
        return np.flatnonzero(in_split(self.catalog, split)[self.rows])


def _fit_side_inputs(catalog: pd.DataFrame, topics_k: int, topics_grid: Sequence[int] | None, lda_passes: int, seed: int, notes: list[str]) -> tuple[Any, Any]:
    from training.features import AudioFeatures
    from training.topics import TopicModel, select_num_topics

    train = catalog[in_split(catalog, "train")]
    texts = train.loc[has_lyrics(train), "lyrics"].astype(str).tolist()  # prepare checked there is one
    if topics_grid:
        topic_model, _ = select_num_topics(texts, list(topics_grid), seed=seed, passes=lda_passes)  # shows its own bar
        notes.append(f"topics: chose k={topic_model.num_topics} from grid {list(topics_grid)} by c_v coherence")
    else:
        # gensim reports no progress of its own: an open-ended bar shows what runs and for how long.
        with progress() as bar:
            bar.add_task(f"topic model (LDA, k={topics_k})", total=None, info=f"{len(texts)} lyrics, {lda_passes} passes")
            topic_model = TopicModel.fit(texts, num_topics=topics_k, passes=lda_passes, seed=seed)
    features = AudioFeatures.fit(train)
    return topic_model, features


def _cache_lower(model: TBert, chunks: Chunks, pad_id: int | None, n_frozen: int, device: torch.device, precision: str, batch_size: int) -> tuple[list[torch.Tensor] | None, torch.Tensor | None]:
    """Run the frozen part once per chunk, longest first so padding stays small."""
    n = len(chunks.input_ids)
    order = sorted(range(n), key=lambda i: -len(chunks.input_ids[i]))
    full = n_frozen >= model.n_layers
    hidden_cache: list[torch.Tensor | None] = [None] * n
    pooled = torch.zeros(n, model.enc_dim) if full else None
    model.eval()
    with progress() as bar, torch.inference_mode():
        task = bar.add_task(f"frozen layers 1-{n_frozen}", total=n, info="")
        start = time.perf_counter()
        for b in range(0, n, batch_size):
            idx = order[b : b + batch_size]
            ids, mask = pad_batch([chunks.input_ids[i] for i in idx], pad_id)
            ids_t, mask_t = torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
            with autocast(device, precision):
                hidden = model.lower(ids_t, mask_t, n_frozen)
                if full:
                    vecs = model.upper(hidden, mask_t, model.n_layers).float().cpu()
            if not full:
                hidden = hidden.to("cpu", torch.float16)  # one transfer per batch, then slice
            for j, i in enumerate(idx):
                if full:
                    pooled[i] = vecs[j]  # type: ignore[index]
                else:
                    hidden_cache[i] = hidden[j, : len(chunks.input_ids[i])].clone()
            done = b + len(idx)
            bar.update(task, advance=len(idx), info=f"{done / max(time.perf_counter() - start, 1e-9):.1f} chunks/s")
    return (None, pooled) if full else (hidden_cache, None)  # type: ignore[return-value]


def prepare(catalog: pd.DataFrame, options: TrainOptions = TrainOptions()) -> Prepared:
    """Fit topics and audio scaling on the train split, tokenize labelled songs and run the
    frozen encoder layers once (the preparation fields of ``options``)."""
    options.check()
    model, max_length, max_chunks, freeze_layers = options.model, options.max_length, options.max_chunks, options.freeze_layers
    min_genre_songs, seed = options.min_genre_songs, options.seed
    set_seed(seed)
    dev = resolve_device(options.device)
    precision = resolve_precision(options.precision, dev, inference=False)
    catalog = catalog.reset_index(drop=True)
    notes: list[str] = []
    timings: dict[str, float] = {}
    moods, genres = label_sets(catalog, min_genre_songs)
    labels = encode_labels(catalog, moods, genres)
    lyrics_present = has_lyrics(catalog)
    trained_on = in_split(catalog, "train") & lyrics_present
    train_moods = sorted(set(catalog.loc[trained_on, "mood"].dropna().astype(str)))
    no_moods = f"only one mood ({train_moods[0]})" if train_moods else "no mood labels"
    no_genres = f"fewer than two genres with at least {min_genre_songs} training songs (--min-genre-songs sets that floor)"
    if not in_split(catalog, "train").any():
        raise RecsysError(f"{catalog_name(catalog)}: the train split is empty; nothing to train on")
    if not trained_on.any():
        raise RecsysError(f"{catalog_name(catalog)}: no song in the train split has lyrics; nothing to train on")
    if not labels.moods and not labels.genres:
        raise RecsysError(f"{catalog_name(catalog)}: the train split has {no_moods} and {no_genres}; nothing to train on")
    if not labels.moods:
        notes.append(f"the train split has {no_moods}: training the genre head only")
    if not labels.genres:
        notes.append(f"{no_genres}: training the mood head only")
    lyricless = int((labels.labelled & ~lyrics_present).sum())
    if lyricless:
        # Said rather than silently done: a --keep-unmatched import holds many such songs. The batch
        # job never indexes them, so a model trained on them would learn songs it never embeds.
        notes.append(f"{lyricless} labelled song{'s' if lyricless > 1 else ''} without lyrics left out of training (never indexed either)")
    rows = np.flatnonzero(labels.labelled & lyrics_present)
    for split in ("train", "val"):
        if not in_split(catalog, split)[rows].any():
            raise RecsysError(f"{catalog_name(catalog)}: no labelled songs with lyrics in the {split} split")

    # The encoder first: its settings are checked before the topic fit's minutes.
    encoder, tokenizer, encoder_path = build_encoder(model)
    n_layers = len(encoder.encoder.layer)
    if not 0 <= freeze_layers <= n_layers:
        raise RecsysError(f"--freeze-layers must be between 0 and {n_layers} for this encoder, got {freeze_layers}")
    check_max_length(max_length, encoder, tokenizer)
    lyrics = catalog["lyrics"].fillna("").astype(str).tolist()
    t = time.perf_counter()
    chunks = chunk_token_ids(tokenizer, [lyrics[r] for r in rows], max_length, max_chunks)
    timings["tokenize_s"] = time.perf_counter() - t
    longest = int(np.argmax(chunks.chunks_per_song))
    if chunks.chunks_per_song[longest] > MAX_TRAIN_CHUNKS:
        song = catalog.iloc[rows[longest]]
        raise RecsysError(
            f"{catalog_name(catalog)}: the lyric of {shorten(song['title'])} by {shorten(song['artist'])} makes {chunks.chunks_per_song[longest]} chunks "
            f"of {max_length} tokens, and training holds every chunk of a batch's songs in memory at once; pass --max-chunks "
            f"(at most {MAX_TRAIN_CHUNKS}) to train on each song's first chunks"
        )
    if chunks.n_capped:
        notes.append(f"max_chunks={max_chunks}: {chunks.n_capped} of {len(rows)} songs were cut to their first {counted(max_chunks, 'chunk')}")

    t = time.perf_counter()
    topic_model, features = _fit_side_inputs(catalog, options.topics_k, options.topics_grid, options.lda_passes, seed, notes)
    timings["side_inputs_s"] = time.perf_counter() - t
    topics = np.asarray(topic_model.transform(lyrics), dtype=np.float32)
    audio = np.asarray(features.transform(catalog), dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum(chunks.chunks_per_song)]).astype(np.int64)

    cache, cached_pooled = None, None
    if freeze_layers > 0:
        holder = TBert(encoder, n_topics=topics.shape[1], audio_dim=audio.shape[1], n_moods=0, n_genres=0).to(dev)
        t = time.perf_counter()
        batch = options.encode_batch or (256 if dev.type == "cuda" else 32)
        cache, cached_pooled = _cache_lower(holder, chunks, tokenizer.pad_token_id, freeze_layers, dev, precision, batch)
        timings["frozen_cache_s"] = time.perf_counter() - t
        encoder.to("cpu")
    return Prepared(
        catalog, labels, tokenizer, encoder, encoder_path, topic_model, features, topics, audio, rows, chunks, offsets,
        max_length, max_chunks, min_genre_songs, freeze_layers, precision, cache, cached_pooled, timings, notes,
    )


# --- the loop -----------------------------------------------------------------------------------


def text_vectors(model: TBert, prep: Prepared, songs: np.ndarray, device: torch.device) -> torch.Tensor:
    """Per-song text vectors for positions ``songs`` (into ``prep.rows``), through the trainable
    top of the encoder (with gradients when the model is in training mode)."""
    chunk_idx = np.concatenate([np.arange(prep.chunk_offsets[s], prep.chunk_offsets[s + 1]) for s in songs])
    owner = torch.from_numpy(np.repeat(np.arange(len(songs)), np.diff(prep.chunk_offsets)[songs])).to(device)
    if prep.cached_pooled is not None:
        vecs = prep.cached_pooled[torch.from_numpy(chunk_idx)].to(device)
        return pool_songs(vecs, owner, len(songs))
    ids, mask = pad_batch([prep.chunks.input_ids[i] for i in chunk_idx], prep.tokenizer.pad_token_id)
    mask_t = torch.from_numpy(mask).to(device)
    if prep.cache is None:
        vecs = model.encode_chunks(torch.from_numpy(ids).to(device), mask_t)
    else:
        width = mask.shape[1]
        hidden = torch.zeros(len(chunk_idx), width, model.enc_dim, dtype=torch.float16)
        for j, i in enumerate(chunk_idx):
            h = prep.cache[i]
            hidden[j, : h.shape[0]] = h
        vecs = model.upper(hidden.to(device).float(), mask_t, prep.freeze_layers)
    return pool_songs(vecs.float(), owner, len(songs))


def _batch_tensors(prep: Prepared, songs: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
    rows = prep.rows[songs]
    return (
        torch.from_numpy(prep.topics[rows]).to(device),
        torch.from_numpy(prep.audio[rows]).to(device),
        torch.from_numpy(prep.labels.mood[rows]).to(device),
        torch.from_numpy(prep.labels.genre[rows]).to(device),
        torch.from_numpy(prep.labels.has_genre[rows]).to(device),
    )


def _song_weights(prep: Prepared, songs: np.ndarray) -> np.ndarray:
    """Weighted-sampler weights: a song with genres weighs the inverse frequency of its rarest
    genre (normalised to mean 1 over genre songs); songs without genres weigh 1."""
    genre = prep.labels.genre[prep.rows[songs]]
    freq = genre.sum(axis=0).clip(min=1)
    inv = np.where(genre > 0, 1.0 / freq, 0.0).max(axis=1)
    has = inv > 0
    weights = np.ones(len(songs))
    if has.any():
        weights[has] = inv[has] / inv[has].mean()
    return weights


def _batches(prep: Prepared, songs: np.ndarray, batch_size: int, rng: np.random.Generator, weights: np.ndarray | None) -> list[np.ndarray]:
    """One epoch of batches: draw songs (shuffled, or by weight with replacement), then sort
    within buckets of 50 batches by length so padding stays small, and shuffle the batches."""
    if weights is None:
        drawn = rng.permutation(songs)
    else:
        drawn = rng.choice(songs, size=len(songs), replace=True, p=weights / weights.sum())
    tokens = np.array([sum(len(prep.chunks.input_ids[i]) for i in range(prep.chunk_offsets[s], prep.chunk_offsets[s + 1])) for s in drawn])
    bucket = 50 * batch_size
    batches: list[np.ndarray] = []
    for b in range(0, len(drawn), bucket):
        part = drawn[b : b + bucket][np.argsort(-tokens[b : b + bucket], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def predict(model: TBert, prep: Prepared, songs: np.ndarray, device: torch.device, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Mood probabilities, genre probabilities, embeddings and pooled vectors for ``songs``."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {"mood": [], "genre": [], "embedding": [], "pooled": []}
    with torch.inference_mode(), autocast(device, prep.precision):
        for b in range(0, len(songs), batch_size):
            batch = songs[b : b + batch_size]
            topics, audio, *_ = _batch_tensors(prep, batch, device)
            pooled = text_vectors(model, prep, batch, device)
            out = model.head(pooled, topics, audio)
            parts["mood"].append(torch.softmax(out["mood_logits"].float(), dim=1).cpu().numpy())
            parts["genre"].append(torch.sigmoid(out["genre_logits"].float()).cpu().numpy())
            parts["embedding"].append(out["embedding"].float().cpu().numpy())
            parts["pooled"].append(pooled.float().cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for k, v in parts.items()}


def _loss_weights(prep: Prepared, songs: np.ndarray, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    weights = class_weights(prep.labels, prep.rows[songs])
    return tuple(None if w is None else torch.from_numpy(w).to(device) for w in weights)  # type: ignore[return-value]


@dataclass
class FitResult:
    model: TBert
    history: list[dict[str, float]]
    best_epoch: int
    train_s: float
    songs_per_s: float
    step_s: float
    settings: dict[str, Any]  # fit's arguments as used (batch size resolved), for the checkpoint
    refit: RefitResult | None = None


def fit(prep: Prepared, options: TrainOptions = TrainOptions(), *, use_topics: bool = True, use_audio: bool = True, label: str = "training") -> FitResult:
    """Train a fresh head (and the unfrozen encoder layers, on a copy of the encoder) on the
    train split with the fitting fields of ``options``; early-stop on the validation songs and
    return the best epoch's weights. ``use_topics``/``use_audio`` off give the comparison's
    text-only variant.

    ``select_on="retrieval"`` judges an epoch by the validation songs' neighbour precision@10
    among themselves (:func:`training.labels.neighbour_precision`), ``"loss"`` by validation
    loss. The embedding is what the product serves, and the loss can rise while the embedding
    still improves."""
    options.check()
    epochs, patience, select_on, seed = options.epochs, options.patience, options.select_on, options.seed
    set_seed(seed)
    dev = resolve_device(options.device)
    batch_size = options.batch_size or (64 if dev.type == "cuda" else 16)
    model = TBert(
        copy.deepcopy(prep.encoder), n_topics=prep.topics.shape[1], audio_dim=prep.audio.shape[1],
        n_moods=len(prep.labels.moods), n_genres=len(prep.labels.genres), hidden=options.hidden, dropout=options.dropout,
        use_topics=use_topics, use_audio=use_audio,
    ).to(dev)
    frozen = [model.encoder.embeddings, *model.encoder.encoder.layer[: prep.freeze_layers]] if prep.freeze_layers else []
    for module in frozen:
        module.requires_grad_(False)
    enc_params = [p for p in model.encoder.parameters() if p.requires_grad]
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [{"params": head_params, "lr": options.head_lr}] + ([{"params": enc_params, "lr": options.lr}] if enc_params else [])
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}

    train_songs, val_songs = prep.split_rows("train"), prep.split_rows("val")
    rng = np.random.default_rng(seed)
    weights = _song_weights(prep, train_songs) if options.sampler == "weighted" and prep.labels.genres else None
    steps_per_epoch = math.ceil(len(train_songs) / batch_size)
    total = steps_per_epoch * epochs
    warm = max(1, int(options.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    mood_w, pos_w = _loss_weights(prep, train_songs, dev)

    history: list[dict[str, float]] = []
    best_score, best_epoch, best_state, bad = -math.inf, 0, None, 0
    train_time, songs_seen, steps = 0.0, 0, 0
    with progress() as bar:
        task = bar.add_task(label, total=total, info="")
        for epoch in range(1, epochs + 1):
            model.train()
            for module in frozen:
                module.eval()
            epoch_loss, start = 0.0, time.perf_counter()
            for batch in _batches(prep, train_songs, batch_size, rng, weights):
                topics, audio, mood, genre, has_genre = _batch_tensors(prep, batch, dev)
                with autocast(dev, prep.precision):
                    out = model.head(text_vectors(model, prep, batch, dev), topics, audio)
                loss = masked_losses(out, mood, genre, has_genre, mood_w, pos_w)["total"]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
                optimizer.step()
                scheduler.step()
                epoch_loss += float(loss.detach()) * len(batch)
                songs_seen += len(batch)
                steps += 1
                elapsed = train_time + time.perf_counter() - start
                bar.update(task, advance=1, info=f"epoch {epoch} loss {float(loss.detach()):.3f} {songs_seen / elapsed:.1f} songs/s")
            train_time += time.perf_counter() - start
            val_loss, val_embeddings = validate(model, prep, val_songs, dev, mood_w, pos_w)
            if not (math.isfinite(epoch_loss) and math.isfinite(val_loss)):
                # Nothing after this epoch can be trusted, and a checkpoint of NaN weights would embed nothing.
                raise RecsysError(f"training diverged in epoch {epoch}: the loss is not finite (train {epoch_loss / len(train_songs)}, "
                                  f"validation {val_loss}); lower the learning rates (--lr, --head-lr). Nothing was saved")
            neighbours = neighbour_precision(prep.labels, prep.rows[val_songs], val_embeddings)
            history.append({
                "epoch": epoch, "train_loss": epoch_loss / len(train_songs), "val_loss": val_loss,
                **{f"val_p@10_{name}": value for name, value in neighbours.items()},
            })
            score = neighbours["balanced"] if select_on == "retrieval" else -val_loss
            if score > best_score + 1e-6:
                best_score, best_epoch, bad = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items() if k in trainable}
            else:
                bad += 1
                if bad >= patience:
                    bar.update(task, completed=total)
                    break
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    model.eval()
    refit = None
    if options.refit_epochs:
        refit = refit_head(
            model, head_inputs(model, prep, train_songs, dev), head_inputs(model, prep, val_songs, dev), prep.labels,
            epochs=options.refit_epochs, batch_size=options.refit_batch_size, lr=options.head_lr, contrastive=options.contrastive,
            seed=seed, mood_weight=mood_w, genre_pos_weight=pos_w, label=f"{label}: head refit",
        )
    return FitResult(
        model, history, best_epoch, train_time, songs_seen / max(train_time, 1e-9), train_time / max(steps, 1), options.fit_settings(batch_size), refit
    )


def head_inputs(model: TBert, prep: Prepared, songs: np.ndarray, device: torch.device) -> HeadInputs:
    """What the head sees of ``songs`` (positions into ``prep.rows``) with the encoder as it now
    is, in float32 on ``device``, for :func:`training.refit.refit_head`."""
    topics, audio, mood, genre, has_genre = _batch_tensors(prep, songs, device)
    text = torch.from_numpy(predict(model, prep, songs, device)["pooled"]).to(device)
    return HeadInputs(prep.rows[songs], text, topics, audio, mood, genre, has_genre)


def validate(model: TBert, prep: Prepared, songs: np.ndarray, device: torch.device, mood_w: torch.Tensor | None, pos_w: torch.Tensor | None, batch_size: int = 64) -> tuple[float, np.ndarray]:
    """Mean masked loss over ``songs`` (weighted by batch size) and their embeddings, from one
    pass with the model in eval mode."""
    model.eval()
    total, embeddings = 0.0, []
    with torch.inference_mode(), autocast(device, prep.precision):
        for b in range(0, len(songs), batch_size):
            batch = songs[b : b + batch_size]
            topics, audio, mood, genre, has_genre = _batch_tensors(prep, batch, device)
            out = model.head(text_vectors(model, prep, batch, device), topics, audio)
            total += float(masked_losses(out, mood, genre, has_genre, mood_w, pos_w)["total"]) * len(batch)
            embeddings.append(out["embedding"].float().cpu().numpy())
    return total / max(len(songs), 1), np.concatenate(embeddings) if embeddings else np.zeros((0, 0), np.float32)


def split_probs(model: TBert, prep: Prepared, split: str, device: torch.device) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Catalogue rows of ``split``'s encoded songs and the model's predictions for them."""
    songs = prep.split_rows(split)
    return prep.rows[songs], predict(model, prep, songs, device)


@dataclass
class TrainResult:
    out_dir: Path
    metrics: dict[str, Any]  # {"val": {task: ...}, "test": {task: ...}}
    timings: dict[str, float]
    songs_per_s: float
    step_s: float
    n_songs: dict[str, int]
    n_chunked: int
    n_capped: int
    history: list[dict[str, float]]
    best_epoch: int
    notes: list[str]
    precision: str
    refit: RefitResult | None = None


def check_model_out(out_dir: Path) -> None:
    """Refuse, before any training, to replace anything but a model directory (replacing a
    checkpoint is fine)."""
    check_replaceable(out_dir, marker=CONFIG_FILE)
    if (out_dir / CONFIG_FILE).is_file():
        read_config(out_dir)


def save_checkpoint(out_dir: Path, prep: Prepared, result: FitResult, *, device: str = "auto") -> dict[str, Any]:
    """Choose genre thresholds on val, score ``result.model`` on val and test, then write it with
    everything inference needs (tokenizer, topic model, feature scaler, label vocabularies,
    thresholds) as a checkpoint. Returns the metrics."""
    dev = resolve_device(device)
    preds = {split: split_probs(result.model, prep, split, dev) for split in ("val", "test")}
    val_rows, val_pred = preds["val"]
    thresholds = genre_thresholds(prep.labels, val_rows, val_pred["genre"])
    metrics = {split: score_tasks(prep.labels, rows, pred["mood"], pred["genre"], thresholds) if len(rows) else {} for split, (rows, pred) in preds.items()}
    config = {
        "moods": prep.labels.moods,
        "genres": prep.labels.genres,
        "genre_thresholds": {g: float(t) for g, t in zip(prep.labels.genres, thresholds)},
        "max_length": prep.max_length,
        "encoder": {"source": prep.encoder_path, "n_layers": result.model.n_layers, "freeze_layers": prep.freeze_layers, "precision": prep.precision},
        "topic_k": int(prep.topics.shape[1]),
        "catalog_splits": split_fingerprint(prep.catalog),
        "train": {
            **result.settings, "max_chunks": prep.max_chunks, "min_genre_songs": prep.min_genre_songs,
            "best_epoch": result.best_epoch, "history": result.history,
            "refit": result.refit.to_json() if result.refit else None,
        },
        "metrics": metrics,
    }
    save_model(out_dir, result.model.to("cpu"), prep.tokenizer, prep.topic_model, prep.features, config)
    return metrics


def train(catalog: pd.DataFrame, out_dir: str | Path, options: TrainOptions = TrainOptions(), *, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train tBERT on ``catalog`` (splits from its ``split`` column) and write the checkpoint
    directory ``out_dir`` atomically. Reports validation and test metrics."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    check_model_out(out_dir)
    prep = prepare(catalog, options)  # checks the options first
    for note in prep.notes:
        if log:
            log(note)
    result = fit(prep, options)
    t = time.perf_counter()
    metrics = save_checkpoint(out_dir, prep, result, device=options.device)
    timings = {**prep.timings, "train_s": result.train_s, "refit_s": result.refit.seconds if result.refit else 0.0, "eval_s": time.perf_counter() - t}
    timings["total_s"] = time.perf_counter() - start
    counts = {s: int(len(prep.split_rows(s))) for s in ("train", "val", "test")}
    return TrainResult(
        out_dir, metrics, timings, result.songs_per_s, result.step_s, counts, prep.chunks.n_chunked, prep.chunks.n_capped,
        result.history, result.best_epoch, prep.notes, prep.precision, result.refit,
    )
