"""Nearest neighbours by cosine similarity: FAISS inner product over L2-normalised float32 vectors.

Row i of the indexed matrix is song i; every index here adds vectors in row order, so FAISS ids
are row numbers without an IndexIDMap. GPU is used when the installed faiss has one (the
``faiss-gpu`` wheel installed in place of ``faiss-cpu``) for Flat and IVF; HNSW has no GPU form and stays on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from recsys.errors import RecsysError
from recsys.io import atomic_path
from recsys.progress import progress

Kind = Literal["auto", "flat", "hnsw", "ivf"]
# FAISS GPU indexes select at most this many neighbours per query (faiss issue #2103).
GPU_MAX_K = 2048


def set_threads(n: int) -> None:
    """Cap FAISS's OpenMP threads (on a shared machine, leave cores for the others)."""
    faiss.omp_set_num_threads(max(1, int(n)))


def gpu_count() -> int:
    """GPUs FAISS can use: 0 with faiss-cpu, whatever the driver reports with faiss-gpu."""
    return faiss.get_num_gpus() if hasattr(faiss, "StandardGpuResources") else 0


def _normalised(vectors: np.ndarray, what: str, dim: int | None = None) -> np.ndarray:
    arr = np.asarray(vectors)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise RecsysError(f"{what}: expected a 2-D (n, d) array, got shape {np.shape(vectors)}")
    if dim is not None and arr.shape[1] != dim:
        raise RecsysError(f"{what}: dimension {arr.shape[1]} does not match the index dimension {dim}")
    if not np.isfinite(arr).all():
        raise RecsysError(f"{what}: contains NaN or infinite values")
    arr = np.array(arr, dtype=np.float32, order="C", copy=True)
    faiss.normalize_L2(arr)
    return arr


def _default_nlist(n: int) -> int:
    # FAISS guidance: about 4 * sqrt(n) lists, and at least ~39 training points per list.
    return max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))


@dataclass
class DenseIndex:
    """A FAISS index whose ids are song rows; ``search`` returns cosine scores and rows."""

    index: Any
    kind: str
    _gpu: Any = field(default=None, repr=False)
    _cpu_copy: Any = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        *,
        kind: Kind = "auto",
        threshold: int = 50_000,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int = 16,
        seed: int = 0,
        use_gpu: bool | None = None,
    ) -> DenseIndex:
        """Index ``vectors`` (row i = song i); they are L2-normalised here, so scores are cosines.

        ``auto`` is exact (IndexFlatIP) below ``threshold`` songs and HNSW above it. ``seed``
        drives the IVF k-means; HNSW levels use FAISS's own fixed seed.
        """
        data = _normalised(vectors, "dense index vectors")
        n, dim = data.shape
        if kind == "auto":
            kind = "flat" if n < threshold else "hnsw"
        if kind == "flat":
            index: Any = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        elif kind == "ivf":
            index = _ivf(dim, nlist or _default_nlist(n), nprobe, seed)
            index.train(data)
        else:
            raise RecsysError(f"dense index kind {kind!r}: choose auto, flat, hnsw or ivf")
        index.add(data)
        return cls(index=index, kind=kind).to_gpu(use_gpu)

    def to_gpu(self, use_gpu: bool | None = None) -> DenseIndex:
        """Move a Flat or IVF index onto GPU 0 when one is present (``use_gpu=None``) or asked for."""
        if use_gpu is False or self._gpu is not None or self.kind == "hnsw":
            return self
        if gpu_count() == 0:
            if use_gpu:
                raise RecsysError("a GPU index was asked for, but faiss sees no GPU (replace faiss-cpu with faiss-gpu)")
            return self
        resources = faiss.StandardGpuResources()
        self.index = faiss.index_cpu_to_gpu(resources, 0, self.index)
        self._gpu = resources  # the GPU index is only valid while its resources live
        return self

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows per query (queries are L2-normalised first): ``(scores, rows)``,
        each (n_queries, k'), best first, with k' = min(k, songs indexed). On a GPU, k past
        ``GPU_MAX_K`` is served by a CPU copy of the index."""
        data = _normalised(queries, "dense queries", self.dim)
        k = min(int(k), self.ntotal)
        if k <= 0:
            return np.empty((len(data), 0), dtype=np.float32), np.empty((len(data), 0), dtype=np.int64)
        index = self.index
        if self._gpu is not None and k > GPU_MAX_K:
            # A widened candidate list (rare filters) or a large -k: search a CPU copy instead.
            if self._cpu_copy is None:
                self._cpu_copy = faiss.index_gpu_to_cpu(self.index)
            index = self._cpu_copy
        scores, rows = index.search(data, k)
        return scores, rows.astype(np.int64)

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` atomically (a GPU index is copied back to the CPU first)."""
        cpu = faiss.index_gpu_to_cpu(self.index) if self._gpu is not None else self.index
        with atomic_path(path) as tmp:
            faiss.write_index(cpu, str(tmp))

    @classmethod
    def load(cls, path: str | Path, *, use_gpu: bool | None = None) -> DenseIndex:
        """Read an index written by ``save``; RecsysError naming the file when missing or damaged."""
        path = Path(path)
        if not path.is_file():
            raise RecsysError(f"{path}: FAISS index file is missing")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise RecsysError(f"{path}: not a readable FAISS index ({first})") from None
        kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "ivf" if isinstance(index, faiss.IndexIVF) else "flat"
        return cls(index=index, kind=kind).to_gpu(use_gpu)


def _ivf(dim: int, nlist: int, nprobe: int, seed: int) -> Any:
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.own_fields = True
    quantizer.this.disown()  # the IVF index frees its quantizer
    index.cp.seed = seed
    index.nprobe = min(nprobe, nlist)
    return index


def build_ivf_sharded(
    shards: Iterable[np.ndarray],
    train_sample: np.ndarray,
    nlist: int,
    *,
    nprobe: int = 16,
    seed: int = 0,
    use_gpu: bool | None = None,
) -> DenseIndex:
    """An IVF index over a catalogue too big to hold in memory at once.

    The coarse quantizer (k-means with ``nlist`` lists, seeded) is trained on ``train_sample``
    only, a random subset of the vectors (FAISS wants >= 39 * nlist of them; a few hundred
    thousand is plenty). Then ``shards`` are added one after the other in catalogue order, so
    row ids continue across shards: the first row of shard 2 is ``len(shard 1)``. Only one
    shard is in memory at a time (e.g. shards read with ``np.load(..., mmap_mode="r")`` slices).
    Search quality is set by ``nprobe`` (lists visited per query).
    """
    sample = _normalised(train_sample, "IVF training sample")
    if len(sample) < nlist:
        raise RecsysError(f"IVF training sample has {len(sample)} vectors, fewer than nlist={nlist}")
    dim = sample.shape[1]
    index = _ivf(dim, nlist, nprobe, seed)
    index.train(sample)
    with progress() as bar:
        task = bar.add_task("adding shards", total=None, info="")
        for number, shard in enumerate(shards):
            index.add(_normalised(shard, f"shard {number}", dim))
            bar.update(task, advance=1, info=f"{index.ntotal} vectors")
    return DenseIndex(index=index, kind="ivf").to_gpu(use_gpu)
