"""The Ray Data embedding job and sharded IVF build, run locally on a few demo songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="ray[data] is not installed (extra: distributed)")


def test_ray_job_matches_the_single_process_encoder(demo_catalog_df: pd.DataFrame, minilm_dir: Path, tmp_path: Path) -> None:
    from index.distributed import embed_and_index
    from index.embed import encode_pooled, load_embedder

    lyrics = demo_catalog_df["lyrics"].head(24).copy()
    lyrics.iloc[3] = None  # a song without lyrics embeds as empty text, not as the word "nan"
    texts = lyrics.fillna("").astype(str).tolist()
    # The column itself, as a caller would pass it; the default actor count (2) on the Ray it starts.
    result = embed_and_index(lyrics, tmp_path, model=minilm_dir, max_length=64, songs_per_task=6, nlist=2, shard_size=10, seed=0)
    print(f"ray embed {result.embed_s:.1f} s, IVF {result.index_s:.2f} s for {len(texts)} songs")

    vectors = np.load(result.vectors_path, mmap_mode="r")
    assert vectors.shape == (24, 384) and vectors.dtype == np.float32
    minilm = load_embedder(minilm_dir)
    local, _ = encode_pooled(minilm.encoder, minilm.tokenizer, texts, max_length=64, device="cpu", progress=False)
    # Row order survives the parallel job: every row equals the single-process vector.
    assert (np.asarray(vectors) * local).sum(axis=1).min() > 0.9999

    index = result.index
    assert index.kind == "ivf" and index.ntotal == 24
    _, rows = index.search(np.asarray(vectors[:6]), 1)
    assert rows[:, 0].tolist() == list(range(6))  # ids continue across shards of 10
    assert not ray.is_initialized()


def test_ray_job_refuses_an_artefact_folder_and_an_impossible_nlist(tmp_path: Path) -> None:
    from index.distributed import embed_and_index
    from recsys.errors import RecsysError

    built = tmp_path / "artifacts"
    built.mkdir()
    (built / "manifest.json").write_text("{}")
    with pytest.raises(RecsysError, match="holds an artefact build; its pooled.npy would be replaced"):
        embed_and_index(["la la love"] * 4, built, nlist=2)
    with pytest.raises(RecsysError, match="nlist must be between 1 and the 4 texts, got 8"):
        embed_and_index(["la la love"] * 4, tmp_path / "new", nlist=8)
    assert not ray.is_initialized() and not (tmp_path / "new").exists()
