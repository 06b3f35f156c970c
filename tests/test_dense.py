"""DenseIndex against numpy brute force, HNSW/IVF recall, save/load round trip."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from recsys.dense import DenseIndex, build_ivf_sharded, set_threads
from recsys.errors import RecsysError


def _clustered(n: int, dim: int, centres: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(centres, dim))
    data = centre[rng.integers(centres, size=n)] + 0.35 * rng.normal(size=(n, dim))
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    set_threads(1)  # shared 2-core machine
    return _clustered(4000, 32, 40, seed=0)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def test_flat_equals_numpy_brute_force(data: np.ndarray) -> None:
    index = DenseIndex.build(data, kind="auto")
    assert index.kind == "flat"
    queries = data[:50] * 3.0  # unnormalised queries are normalised: scores stay cosines
    scores, rows = index.search(queries, 10)
    exact = data[:50] @ data.T
    expected = np.argsort(-exact, axis=1, kind="stable")[:, :10]
    np.testing.assert_allclose(scores, np.take_along_axis(exact, expected, axis=1), atol=1e-5)
    assert _recall(rows, expected) == 1.0
    assert rows[:, 0].tolist() == list(range(50))
    assert index.search(data[:1], 10_000)[1].shape == (1, len(data))


def test_hnsw_recall_and_round_trip(data: np.ndarray, tmp_path: Path) -> None:
    hnsw = DenseIndex.build(data, kind="auto", threshold=1000)
    assert hnsw.kind == "hnsw"
    truth = DenseIndex.build(data, kind="flat").search(data[:200], 10)[1]
    _, rows = hnsw.search(data[:200], 10)
    assert _recall(rows, truth) >= 0.95

    hnsw.save(tmp_path / "faiss.index")
    loaded = DenseIndex.load(tmp_path / "faiss.index")
    assert loaded.kind == "hnsw" and loaded.index.hnsw.efSearch == hnsw.index.hnsw.efSearch
    for got, want in zip(loaded.search(data[:20], 10), hnsw.search(data[:20], 10)):
        np.testing.assert_array_equal(got, want)


def test_ivf_sharded_build_recall_and_row_ids(data: np.ndarray, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    sample = data[rng.choice(len(data), 2000, replace=False)]
    shards = (data[i : i + 1000] for i in range(0, len(data), 1000))
    ivf = build_ivf_sharded(shards, sample, nlist=40, nprobe=8, seed=0)
    assert ivf.ntotal == len(data)
    truth = DenseIndex.build(data, kind="flat").search(data[-200:], 10)[1]
    _, rows = ivf.search(data[-200:], 10)
    # Row ids continue across shards: the last shard's songs find themselves.
    assert rows[:, 0].tolist() == list(range(len(data) - 200, len(data)))
    assert _recall(rows, truth) >= 0.9

    ivf.save(tmp_path / "ivf.index")
    loaded = DenseIndex.load(tmp_path / "ivf.index")
    assert loaded.kind == "ivf"
    np.testing.assert_array_equal(loaded.search(data[:5], 10)[1], ivf.search(data[:5], 10)[1])


def test_bad_input_and_files_raise_one_line_errors(data: np.ndarray, tmp_path: Path) -> None:
    index = DenseIndex.build(data[:100], kind="flat")
    with pytest.raises(RecsysError, match="dimension 5 does not match"):
        index.search(np.ones((1, 5), dtype=np.float32), 3)
    with pytest.raises(RecsysError, match="NaN"):
        DenseIndex.build(np.full((3, 4), np.nan))
    with pytest.raises(RecsysError, match="missing"):
        DenseIndex.load(tmp_path / "none.index")
    (tmp_path / "junk.index").write_bytes(b"not an index")
    with pytest.raises(RecsysError, match="junk.index: not a readable FAISS index"):
        DenseIndex.load(tmp_path / "junk.index")


def test_build_settings_reach_the_faiss_index(data: np.ndarray) -> None:
    hnsw = DenseIndex.build(data[:500], kind="hnsw", ef_search=77, ef_construction=50)
    assert (hnsw.index.hnsw.efSearch, hnsw.index.hnsw.efConstruction) == (77, 50)
    ivf = DenseIndex.build(data, kind="ivf", nprobe=5)
    # The default list count: about 4 * sqrt(n), but at least 39 training points per list.
    assert (ivf.kind, ivf.index.nlist, ivf.index.nprobe) == ("ivf", min(int(4 * np.sqrt(len(data))), len(data) // 39), 5)
    assert DenseIndex.build(data[:10], threshold=10).kind == "hnsw" and DenseIndex.build(data[:9], threshold=10).kind == "flat"
    scores, rows = ivf.search(data[:3], 0)
    assert scores.shape == rows.shape == (3, 0)
    # The IVF k-means takes the seed: the same seed gives the same lists, another seed others.
    def centroids(seed: int) -> np.ndarray:
        index = DenseIndex.build(data, kind="ivf", seed=seed).index
        return faiss.downcast_index(index.quantizer).reconstruct_n(0, index.nlist)

    np.testing.assert_array_equal(centroids(0), centroids(0))
    assert not np.array_equal(centroids(0), centroids(1))


def test_asking_for_a_gpu_without_one_is_an_error(data: np.ndarray) -> None:
    from recsys.dense import gpu_count

    if gpu_count():
        pytest.skip("a GPU is present: the request is granted")
    with pytest.raises(RecsysError, match="no GPU"):
        DenseIndex.build(data[:100], kind="flat", use_gpu=True)
