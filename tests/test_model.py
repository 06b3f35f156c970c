"""The tBERT module: shapes, the split encoder, loss masking, checkpoint round trip and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from recsys.errors import RecsysError
from training.encoding import chunk_token_ids, mean_pool, pad_batch
from training.model import TBert, build_encoder, load_model, masked_losses, save_model, supervised_contrastive


@pytest.fixture(scope="session")
def two_layer_encoder(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path) -> Path:
    """all-MiniLM-L6-v2 cut to its first two layers (real weights, a third of the cost)."""
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(str(minilm_dir))
    encoder.encoder.layer = encoder.encoder.layer[:2]
    encoder.config.num_hidden_layers = 2
    out = tmp_path_factory.mktemp("minilm2")
    encoder.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(minilm_dir)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def tiny(two_layer_encoder: Path) -> tuple[TBert, object]:
    encoder, tokenizer, _ = build_encoder(two_layer_encoder)
    torch.manual_seed(0)
    return TBert(encoder, n_topics=3, audio_dim=5, n_moods=4, n_genres=6, hidden=32).eval(), tokenizer


def _batch(tokenizer: object, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    chunks = chunk_token_ids(tokenizer, texts, max_length=16)
    ids, mask = pad_batch(chunks.input_ids, tokenizer.pad_token_id)  # type: ignore[attr-defined]
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(chunks.owner)


TEXTS = ["the sun is shining and we dance all night long until the morning light comes", "tears fall", ""]


def test_forward_shapes_and_song_pooling(tiny: tuple[TBert, object]) -> None:
    model, tokenizer = tiny
    ids, mask, owner = _batch(tokenizer, TEXTS)
    assert len(owner) > 3  # the long lyric spans several chunks
    with torch.no_grad():
        out = model(ids, mask, owner, torch.rand(3, 3), torch.rand(3, 5))
        chunk_vecs = model.encode_chunks(ids, mask)
        reference = mean_pool(model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
        split = model.upper(model.lower(ids, mask, 1), mask, 1)
    assert out["embedding"].shape == (3, 32)
    assert out["pooled"].shape == (3, 384)
    assert out["mood_logits"].shape == (3, 4) and out["genre_logits"].shape == (3, 6)
    assert torch.allclose(out["pooled"][0], chunk_vecs[owner == 0].mean(dim=0), atol=1e-6)
    assert torch.allclose(chunk_vecs, reference, atol=1e-5)
    assert torch.allclose(split, reference, atol=1e-5)


def test_song_without_labels_adds_no_loss_or_gradient() -> None:
    torch.manual_seed(0)
    logits_mood = torch.randn(3, 4, requires_grad=True)
    logits_genre = torch.randn(3, 6, requires_grad=True)
    out = {"embedding": torch.zeros(3, 2), "mood_logits": logits_mood, "genre_logits": logits_genre}
    mood = torch.tensor([2, -1, 0])
    genres = torch.zeros(3, 6)
    genres[0, 1] = 1
    has_genre = torch.tensor([True, False, False])
    losses = masked_losses(out, mood, genres, has_genre)
    losses["total"].backward()
    assert torch.all(logits_mood.grad[1] == 0)
    assert torch.all(logits_genre.grad[1:] == 0)
    assert torch.any(logits_mood.grad[0] != 0) and torch.any(logits_genre.grad[0] != 0)
    # Equal to the loss over labelled songs alone.
    alone = torch.nn.functional.cross_entropy(logits_mood[[0, 2]], mood[[0, 2]])
    assert torch.isclose(losses["mood"], alone)
    none = masked_losses(out, torch.full((3,), -1), genres, torch.zeros(3, dtype=torch.bool))
    assert float(none["total"]) == 0.0


def test_checkpoint_round_trip_gives_identical_outputs(tiny: tuple[TBert, object], tmp_path: Path, demo_catalog_df: pd.DataFrame) -> None:
    from training.features import AudioFeatures
    from training.topics import TopicModel

    model, tokenizer = tiny
    df = demo_catalog_df.head(60)
    topics = TopicModel.fit(df["lyrics"].tolist(), num_topics=3, passes=1, seed=0)
    features = AudioFeatures.fit(df)
    model = TBert(model.encoder, n_topics=3, audio_dim=features.dim, n_moods=4, n_genres=6, hidden=32).eval()
    save_model(tmp_path / "m", model, tokenizer, topics, features, {"moods": ["happy", "sad", "angry", "relaxed"], "genres": list("abcdef"), "max_length": 16})
    loaded = load_model(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").stat().st_mode & 0o777 == (tmp_path / "m" / "config.json").stat().st_mode & 0o777
    assert not loaded.model.training and loaded.moods == ["happy", "sad", "angry", "relaxed"]
    ids, mask, owner = _batch(loaded.tokenizer, TEXTS)
    side_t = torch.from_numpy(loaded.topics.transform(df["lyrics"].head(3).tolist()))
    side_a = torch.from_numpy(loaded.features.transform(df.head(3)))
    with torch.no_grad():
        before = model(ids, mask, owner, side_t, side_a)
        after = loaded.model(ids, mask, owner, side_t, side_a)
    for key in ("embedding", "pooled", "mood_logits", "genre_logits"):
        assert torch.equal(before[key], after[key]), key
    from index.embed import chunk_length

    assert chunk_length(loaded) == 16  # the batch job and the Ray job chunk as training did
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (tmp_path / "m" / name).unlink(missing_ok=True)
    with pytest.raises(RecsysError, match="the checkpoint's tokenizer files do not load"):
        load_model(tmp_path / "m")


def test_bad_checkpoint_paths_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(RecsysError, match="not a recsys model directory"):
        load_model(tmp_path / "missing")
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(RecsysError, match="no format_version"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(RecsysError, match="model format 99"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 1}))
    with pytest.raises(RecsysError, match="missing model.safetensors"):
        load_model(tmp_path)


def test_supervised_contrastive_by_hand() -> None:
    # Unit embeddings: songs 0 and 1 identical, song 2 orthogonal; temperature 1, so the logits
    # are the cosines. With L = log(1 + e):
    # - moods 0, 0, 1 and no genres: songs 0 and 1 each have the other as positive, with log-softmax
    #   1 - L; song 2 has none and adds nothing. Loss L - 1.
    # - songs 0 and 2 also share a genre: song 0 averages 1 - L and -L, song 1 has 1 - L, and song 2
    #   has song 0 at log(1/2). Loss (2L + log 2 - 1.5) / 3.
    embedding = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # lengths do not matter
    mood = torch.tensor([0, 0, 1])
    no_genres = torch.zeros(3, 2)
    big_l = math.log(1 + math.e)
    assert float(supervised_contrastive(embedding, mood, no_genres, temperature=1.0)) == pytest.approx(big_l - 1)
    genres = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    assert float(supervised_contrastive(embedding, mood, genres, temperature=1.0)) == pytest.approx((2 * big_l + math.log(2) - 1.5) / 3)
    # Unknown moods (-1) are not a shared mood: no song has a positive, the loss is 0 and so is every gradient.
    free = embedding.clone().requires_grad_(True)
    loss = supervised_contrastive(free, torch.full((3,), -1), no_genres)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.all(free.grad == 0)
