"""The batched encoder against the real all-MiniLM-L6-v2 weights, on short inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from index.embed import PlainEncoder, embed_catalog, encode_pooled, load_embedder, precision_agreement
from recsys.errors import RecsysError

pytestmark = pytest.mark.slow

LYRICS = [
    "I walked alone in the cold november rain, tears falling down my face",
    "Dance all night, the party never ends, turn the music up and move your feet",
    "Burning fire in my veins, I'm angry at the world and I will scream",
    "Lying by the ocean, gentle waves and warm sand, everything is calm",
    "Baby I love you, hold me close tonight and never let me go",
    "The city lights are fading as the train rolls out of town",
]


@pytest.fixture(scope="module")
def minilm(minilm_dir: Path) -> PlainEncoder:
    return load_embedder(minilm_dir)


def test_vectors_are_unit_float32_and_mmap_readable(minilm: PlainEncoder, tmp_path: Path) -> None:
    vectors, chunks = encode_pooled(minilm.encoder, minilm.tokenizer, [*LYRICS, "", None], device="cpu", progress=False)
    assert vectors.shape == (8, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert chunks.n_chunked == 0
    np.save(tmp_path / "v.npy", vectors)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, vectors)


def test_long_text_is_chunked_and_averaged_not_truncated(minilm: PlainEncoder) -> None:
    # "hello" and "world" are one WordPiece each: 80 tokens -> chunks of 30, 30, 20 at max_length 32.
    long = "hello world " * 40
    pieces = ["hello world " * 15, "hello world " * 15, "hello world " * 10]
    kw = dict(max_length=32, device="cpu", precision="fp32", progress=False, normalize=False)
    whole, chunks = encode_pooled(minilm.encoder, minilm.tokenizer, [long, LYRICS[0][:20]], **kw)
    parts, _ = encode_pooled(minilm.encoder, minilm.tokenizer, pieces, **kw)
    assert chunks.n_chunked == 1 and chunks.n_capped == 0
    assert np.allclose(whole[0], parts.mean(axis=0), atol=1e-4)
    truncated, _ = encode_pooled(minilm.encoder, minilm.tokenizer, pieces[:1], **kw)
    assert not np.allclose(whole[0], truncated[0], atol=1e-3)
    capped, chunks = encode_pooled(minilm.encoder, minilm.tokenizer, [long, LYRICS[0][:20]], max_chunks=2, **kw)
    assert chunks.n_chunked == 1 and chunks.n_capped == 1
    assert np.allclose(capped[0], parts[:2].mean(axis=0), atol=1e-4)


def test_length_sorted_batches_do_not_change_vectors(minilm: PlainEncoder) -> None:
    kw = dict(device="cpu", precision="fp32", progress=False, batch_size=2)
    forward, _ = encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, **kw)
    backward, _ = encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS[::-1], **kw)
    assert np.allclose(forward, backward[::-1], atol=1e-5)


def test_matches_sentence_transformers_on_short_text(minilm: PlainEncoder, minilm_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    ours, _ = encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, device="cpu", precision="fp32", progress=False)
    st = SentenceTransformer(str(minilm_dir), device="cpu").encode(LYRICS, normalize_embeddings=True)
    assert (ours * st).sum(axis=1).min() > 0.9999


def test_out_of_memory_halves_the_batch_and_keeps_every_vector(minilm: PlainEncoder) -> None:
    import torch

    class RunsOutAbove2(torch.nn.Module):
        """Fault injection: the real encoder, but batches over 2 chunks raise CUDA's OOM error."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner, self.config, self.sizes = inner, inner.config, []

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):  # type: ignore[no-untyped-def]
            self.sizes.append(len(input_ids))
            if len(input_ids) > 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
            return self.inner(input_ids=input_ids, attention_mask=attention_mask)

    flaky = RunsOutAbove2(minilm.encoder)
    kw = dict(device="cpu", precision="fp32", progress=False, batch_size=8)
    got, _ = encode_pooled(flaky, minilm.tokenizer, LYRICS, **kw)
    want, _ = encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, **kw)
    assert flaky.sizes[:3] == [6, 4, 2] and max(flaky.sizes[3:]) == 2
    assert np.allclose(got, want, atol=1e-5)


def test_int8_quantisation_stays_close_to_fp32(minilm: PlainEncoder) -> None:
    cosine = precision_agreement(minilm.encoder, minilm.tokenizer, LYRICS, "int8", progress=False)
    print(f"int8 vs fp32 mean cosine: {cosine:.4f}")
    assert cosine >= 0.95


def test_bf16_autocast_keeps_agreement_with_fp32(minilm: PlainEncoder) -> None:
    # Runs on any CPU (emulated where there is no AMX, so slower, but the same numerics).
    cosine = precision_agreement(minilm.encoder, minilm.tokenizer, LYRICS, "bf16", progress=False)
    print(f"bf16 vs fp32 mean cosine: {cosine:.5f}")
    assert cosine >= 0.999


def test_auto_precision_is_bf16_only_where_the_hardware_has_it() -> None:
    import torch

    from training.runtime import native_bf16, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("int8", cpu) == "int8"
    with pytest.raises(RecsysError, match="--precision 'fp16': choose auto, fp32, bf16, int8"):
        resolve_precision("fp16", cpu)
    with pytest.raises(RecsysError, match=r"--precision 'fp16': choose auto, fp32, bf16$"):  # training offers no int8
        resolve_precision("fp16", cpu, inference=False)
    with pytest.raises(RecsysError, match="embedding only"):
        resolve_precision("int8", cpu, inference=False)


def test_plain_encoder_catalog_embedding(minilm: PlainEncoder) -> None:
    df = pd.DataFrame({"lyrics": [LYRICS[0], None, LYRICS[1]]})
    emb = embed_catalog(minilm, df, device="cpu", progress=False)
    assert emb.embedding.shape == (3, 384) and emb.mood_probs is None and emb.genre_probs is None
    assert np.array_equal(emb.embedding, emb.pooled)
    assert np.allclose(np.linalg.norm(emb.embedding, axis=1), 1.0, atol=1e-5)


def test_not_a_model_directory_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RecsysError, match="not a model directory"):
        load_embedder(tmp_path)
    with pytest.raises(RecsysError, match="not a model directory"):
        load_embedder(tmp_path / "notes.txt")


def test_bad_device_precision_and_batch_size_are_errors(minilm: PlainEncoder) -> None:
    with pytest.raises(RecsysError, match="device"):
        encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, device="tpu", progress=False)
    with pytest.raises(RecsysError, match="device"):
        encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, device="meta", progress=False)
    with pytest.raises(RecsysError, match="precision"):
        encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, precision="half", progress=False)
    with pytest.raises(RecsysError, match="batch_size"):
        encode_pooled(minilm.encoder, minilm.tokenizer, LYRICS, batch_size=0, progress=False)
