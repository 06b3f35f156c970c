"""The scale-out path: the same encoder as a Ray Data ``map_batches`` job, and a FAISS IVF
index trained on a sample and filled shard by shard.

Each Ray actor loads the encoder once and runs ``index.embed.encode_pooled`` on its batches of
songs, so a cluster of N machines embeds N times as fast with the code the single-machine build
uses. It returns the encoder's pooled vectors (the build's ``pooled.npy``): for a plain encoder
that is its embedding; for a tBERT checkpoint the served embedding also needs each song's
topics and audio through the model's head, which this job does not run. Results stream back
in batches and are written into a memory-mapped ``.npy`` by row, so the driver never holds
every vector at once; the IVF index then reads that file shard by shard
(``recsys.dense.build_ivf_sharded``). Locally it runs on ``ray.init(num_cpus=...)``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from recsys.errors import RecsysError
from recsys.io import atomic_path


@dataclass(frozen=True)
class DistributedResult:
    vectors_path: Path  # (n, d) float32 L2-normalised pooled vectors, row i = text i
    index: Any  # recsys.dense.DenseIndex (IVF)
    embed_s: float
    index_s: float


class _BatchEncoder:
    """Ray actor: loads the encoder once, embeds one batch of songs per call."""

    def __init__(self, model: str | None, max_length: int | None, batch_size: int, threads: int) -> None:
        import torch

        from index.embed import chunk_length, encoder_of, load_embedder

        torch.set_num_threads(threads)
        embedder = load_embedder(model)
        self.encoder = encoder_of(embedder)
        self.tokenizer = embedder.tokenizer
        self.max_length, self.batch_size = max_length or chunk_length(embedder), batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from index.embed import encode_pooled

        vectors, _ = encode_pooled(
            self.encoder, self.tokenizer, [str(t) for t in batch["lyrics"]], max_length=self.max_length,
            batch_size=self.batch_size, device="cpu", progress=False,
        )
        return {"row": batch["row"], "vector": vectors}


def _shards(vectors: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(vectors), size):
        yield np.asarray(vectors[start : start + size])


def embed_and_index(
    texts: Iterable[object],
    out_dir: str | Path,
    *,
    model: str | Path | None = None,
    max_length: int | None = None,
    songs_per_task: int = 64,
    batch_size: int = 32,
    num_cpus: int | None = None,
    nlist: int = 16,
    train_size: int | None = None,
    shard_size: int = 10_000,
    seed: int = 0,
) -> DistributedResult:
    """Embed ``texts`` with Ray Data (one single-threaded actor per CPU) into
    ``out_dir/pooled.npy`` (chunks of ``max_length`` tokens; by default the model's own, as in
    the single-machine build), then build an IVF index (``nlist`` lists, trained on a seeded sample
    of ``train_size`` vectors, default 39 * nlist) filled shard by shard.

    ``texts`` may hold missing lyrics (None, NaN), embedded as empty text. ``num_cpus`` actors
    embed at once: by default 2 on a Ray this call starts, or every CPU of the cluster a caller's
    ``ray.init(address=...)`` joined."""
    try:
        import ray
    except ImportError:
        raise RecsysError("the distributed path needs Ray Data: pip install 'ray[data]==2.60.0' (extra: distributed)") from None
    from recsys.dense import build_ivf_sharded
    from recsys.progress import progress

    from recsys.artifacts import MANIFEST

    # A pandas column works too; NaN is a float there, and str() would embed the word "nan".
    texts = [t if isinstance(t, str) else "" for t in texts]
    if not texts:
        raise RecsysError("no texts to embed")
    if not 1 <= nlist <= len(texts):
        # Checked before the embedding's minutes, not by FAISS after them.
        raise RecsysError(f"nlist must be between 1 and the {len(texts)} texts, got {nlist}")
    out = Path(out_dir)
    if (out / MANIFEST).exists():
        raise RecsysError(f"{out}: holds an artefact build; its pooled.npy would be replaced behind its manifest's back; choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(num_cpus=num_cpus or 2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    actors = num_cpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
    try:
        t0 = time.perf_counter()
        # Our own rich bar reports progress; Ray Data's log-line bars would interleave with it.
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ds = ray.data.from_items([{"row": i, "lyrics": t} for i, t in enumerate(texts)])
        embedded = ds.map_batches(
            _BatchEncoder,
            fn_constructor_kwargs={"model": None if model is None else str(model), "max_length": max_length,
                                   "batch_size": batch_size, "threads": 1},
            batch_size=songs_per_task, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1, batch_format="numpy",
        )
        vectors: np.ndarray | None = None
        path = out / "pooled.npy"
        # Staged and renamed, so a job killed half way never leaves a pooled.npy of zero rows.
        with atomic_path(path) as staged, progress() as bar:
            task = bar.add_task("ray embedding", total=len(texts), info="")
            for batch in embedded.iter_batches(batch_format="numpy", batch_size=None):
                block = np.stack(batch["vector"]).astype(np.float32)
                if vectors is None:
                    vectors = np.lib.format.open_memmap(staged, mode="w+", dtype=np.float32, shape=(len(texts), block.shape[1]))
                vectors[batch["row"]] = block
                done = bar.tasks[task].completed + len(block)
                bar.update(task, advance=len(block), info=f"{done / (time.perf_counter() - t0):.1f} songs/s")
            assert vectors is not None
            vectors.flush()
            del vectors
        embed_s = time.perf_counter() - t0
    finally:
        if started_ray:
            ray.shutdown()

    t0 = time.perf_counter()
    mapped = np.load(path, mmap_mode="r")
    rng = np.random.default_rng(seed)
    size = min(len(mapped), train_size or 39 * nlist)
    sample = np.asarray(mapped[np.sort(rng.choice(len(mapped), size=size, replace=False))])
    index = build_ivf_sharded(_shards(mapped, shard_size), sample, nlist, seed=seed)
    return DistributedResult(path, index, embed_s, time.perf_counter() - t0)
