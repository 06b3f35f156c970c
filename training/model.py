"""The tBERT model: a BERT-family encoder's mean-pooled lyric vector, joined with LDA topic
proportions and scaled audio features, feeds one hidden layer (the song embedding) and two
heads, mood (softmax) and genre (multi-label sigmoid).

The encoder can be run in two halves (:meth:`TBert.lower` / :meth:`TBert.upper`) so training
can cache the frozen lower layers' token states once and run only the top layers per epoch.
The checkpoint directory layout is in docs/ARCHITECTURE.md section 2; :func:`save_model`
writes it atomically and :func:`load_model` reads it back for inference.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recsys.errors import RecsysError
from recsys.io import atomic_path
from training.encoding import mean_pool

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOPICS_DIR = "topics"
FEATURES_FILE = "features.json"
# Softmax temperature of the contrastive loss: 0.05 and 0.2 did as well in the head-refit study (docs/STUDIES.md).
CONTRASTIVE_TEMPERATURE = 0.1


def pool_songs(chunk_vectors: torch.Tensor, owner: torch.Tensor, n_songs: int) -> torch.Tensor:
    """Average chunk vectors per song (differentiable): ``owner[i]`` is chunk i's song row."""
    sums = torch.zeros(n_songs, chunk_vectors.shape[1], dtype=chunk_vectors.dtype, device=chunk_vectors.device)
    sums = sums.index_add(0, owner, chunk_vectors)
    counts = torch.bincount(owner, minlength=n_songs).clamp(min=1).to(chunk_vectors.dtype)
    return sums / counts[:, None]


class TBert(nn.Module):
    """Encoder + topics + audio -> hidden layer -> mood and genre logits.

    ``use_topics`` / ``use_audio`` switch the side inputs off (the "fine-tuned encoder alone"
    variant of the comparison); a switched-off input is simply not concatenated.
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        n_topics: int,
        audio_dim: int,
        n_moods: int,
        n_genres: int,
        hidden: int = 256,
        dropout: float = 0.1,
        use_topics: bool = True,
        use_audio: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.enc_dim = int(encoder.config.hidden_size)
        self.n_topics, self.audio_dim = n_topics, audio_dim
        self.use_topics, self.use_audio = use_topics, use_audio
        in_dim = self.enc_dim + (n_topics if use_topics else 0) + (audio_dim if use_audio else 0)
        self.hidden = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU())
        self.dropout = nn.Dropout(dropout)
        with warnings.catch_warnings():
            # A task without labels gets a zero-width head; torch warns that initialising it is a no-op.
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            self.mood = nn.Linear(hidden, n_moods)
            self.genre = nn.Linear(hidden, n_genres)

    @property
    def n_layers(self) -> int:
        return len(self.encoder.encoder.layer)

    def _mask(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        from transformers.masking_utils import create_bidirectional_mask

        # The same mask the model's own forward builds, for whichever attention kernel it uses.
        return create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden, attention_mask=attention_mask)

    def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Token states after the embeddings and the first ``n_layers`` encoder layers."""
        hidden = self.encoder.embeddings(input_ids=input_ids)
        mask = self._mask(hidden, attention_mask)
        for layer in self.encoder.encoder.layer[:n_layers]:
            hidden = layer(hidden, mask)
        return hidden

    def upper(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int) -> torch.Tensor:
        """Run encoder layers ``start..`` over cached token states; return mean-pooled vectors."""
        mask = self._mask(hidden, attention_mask)
        for layer in self.encoder.encoder.layer[start:]:
            hidden = layer(hidden, mask)
        return mean_pool(hidden, attention_mask)

    def encode_chunks(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(n_chunks, enc_dim) mean-pooled final token states."""
        return self.upper(self.lower(input_ids, attention_mask, 0), attention_mask, 0)

    def head(self, text_vec: torch.Tensor, topics: torch.Tensor, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hidden layer and logits from per-song text vectors and side inputs."""
        parts = [text_vec]
        if self.use_topics:
            parts.append(topics.to(text_vec.dtype))
        if self.use_audio:
            parts.append(audio.to(text_vec.dtype))
        embedding = self.hidden(torch.cat(parts, dim=1))
        dropped = self.dropout(embedding)
        return {"embedding": embedding, "mood_logits": self.mood(dropped), "genre_logits": self.genre(dropped)}

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        owner: torch.Tensor,
        topics: torch.Tensor,
        audio: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Chunks of a batch of songs (``owner`` maps chunk -> song row) to the head outputs
        plus ``pooled``, the per-song average of chunk vectors."""
        pooled = pool_songs(self.encode_chunks(input_ids, attention_mask), owner, topics.shape[0])
        return {"pooled": pooled, **self.head(pooled, topics, audio)}


def masked_losses(
    out: dict[str, torch.Tensor],
    mood: torch.Tensor,
    genres: torch.Tensor,
    has_genre: torch.Tensor,
    mood_weight: torch.Tensor | None = None,
    genre_pos_weight: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Mood cross-entropy over songs with a mood (``mood`` = -1 elsewhere) and genre BCE over
    songs with genre labels; a song without a label adds nothing to that task's loss or
    gradient. Each loss is a mean over the songs that have the label (0 when none do)."""
    zero = out["embedding"].sum() * 0.0
    mood_loss = zero
    if out["mood_logits"].shape[1] and bool((mood >= 0).any()):
        keep = mood >= 0
        mood_loss = nn.functional.cross_entropy(out["mood_logits"][keep].float(), mood[keep], weight=mood_weight)
    genre_loss = zero
    if out["genre_logits"].shape[1] and bool(has_genre.any()):
        genre_loss = nn.functional.binary_cross_entropy_with_logits(
            out["genre_logits"][has_genre].float(), genres[has_genre].float(), pos_weight=genre_pos_weight
        )
    return {"mood": mood_loss, "genre": genre_loss, "total": mood_loss + genre_loss}


def supervised_contrastive(
    embedding: torch.Tensor, mood: torch.Tensor, genres: torch.Tensor, temperature: float = CONTRASTIVE_TEMPERATURE
) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al., 2020) over a batch's songs: each song's
    positives are the others that share its mood or one of its genres (the relevance that
    retrieval is judged by), and the loss is the mean negative log-softmax of the cosine to
    them against every other song in the batch. Songs without a positive add nothing (0 when
    no song has one). ``mood`` is -1 where unknown; ``genres`` is the 0/1 genre matrix."""
    unit = nn.functional.normalize(embedding.float(), dim=1)
    logits = unit @ unit.T / temperature
    itself = torch.eye(len(unit), dtype=torch.bool, device=unit.device)
    tagged = genres.float()
    positive = ((mood[:, None] == mood[None, :]) & (mood[:, None] >= 0)) | (tagged @ tagged.T > 0)
    positive &= ~itself
    log_prob = logits.masked_fill(itself, -torch.inf).log_softmax(dim=1)
    n_positive = positive.sum(dim=1)
    anchors = n_positive > 0
    if not bool(anchors.any()):
        return embedding.sum() * 0.0
    per_song = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[anchors] / n_positive[anchors]
    return -per_song.mean()


def is_checkpoint(directory: Path) -> bool:
    """Whether ``directory`` holds a recsys checkpoint (its config.json has a format_version)
    rather than a plain Hugging Face encoder."""
    cfg = directory / CONFIG_FILE
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except OSError:
        return False
    except ValueError:
        raise RecsysError(f"{cfg}: not valid JSON") from None
    return isinstance(data, dict) and "format_version" in data


def load_pretrained(directory: Path) -> tuple[nn.Module, Any]:
    """A plain Hugging Face encoder and its tokenizer; one-line RecsysError if either does not load."""
    from transformers import AutoModel, AutoTokenizer

    try:
        return AutoModel.from_pretrained(str(directory)), AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError, KeyError) as exc:  # transformers' errors for incomplete or unknown model folders
        raise RecsysError(f"{directory}: the encoder or its tokenizer does not load ({type(exc).__name__})") from None


def build_encoder(path: str | Path | None) -> tuple[nn.Module, Any, str]:
    """Pretrained encoder and tokenizer from a local directory (default all-MiniLM-L6-v2)."""
    from training.encoding import encoder_dir

    directory = encoder_dir(path)
    if is_checkpoint(directory):
        raise RecsysError(f"{directory}: a trained recsys checkpoint; training starts from a plain Hugging Face encoder (omit --model for MiniLM)")
    encoder, tokenizer = load_pretrained(directory)
    if not hasattr(encoder, "embeddings") or not hasattr(getattr(encoder, "encoder", None), "layer"):
        raise RecsysError(f"{directory}: {type(encoder).__name__} is not a BERT-style encoder (embeddings + encoder.layer)")
    return encoder, tokenizer, str(directory)


def check_max_length(max_length: int, encoder: nn.Module, tokenizer: Any) -> None:
    """RecsysError unless chunks of ``max_length`` tokens fit the encoder. The tokenizer's limit
    counts too: RoBERTa-style models list 514 positions, of which 512 are usable."""
    limits = [getattr(encoder.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    usable = min((n for n in limits if isinstance(n, int)), default=None)
    if usable is not None and max_length > usable:
        raise RecsysError(f"--max-length {max_length} exceeds this encoder's {usable} positions")


@dataclass
class LoadedModel:
    """A checkpoint ready for inference: model in eval mode and everything needed to feed it."""

    model: TBert
    tokenizer: Any
    topics: Any  # training.topics.TopicModel
    features: Any  # training.features.AudioFeatures
    config: dict[str, Any]

    @property
    def moods(self) -> list[str]:
        return list(self.config["moods"])

    @property
    def genres(self) -> list[str]:
        return list(self.config["genres"])


def save_model(
    out_dir: str | Path, model: TBert, tokenizer: Any, topics: Any, features: Any, config: dict[str, Any]
) -> Path:
    """Write the checkpoint directory atomically; ``config`` gets format and encoder fields added."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    full = {
        **config,
        "format_version": FORMAT_VERSION,
        "encoder_config": model.encoder.config.to_dict(),
        "enc_dim": model.enc_dim,
        "n_topics": model.n_topics,
        "audio_dim": model.audio_dim,
        "hidden": model.hidden[0].out_features,
        "use_topics": model.use_topics,
        "use_audio": model.use_audio,
    }
    with atomic_path(out_dir, marker=CONFIG_FILE) as tmp:
        tmp.mkdir()
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE))
        # safetensors creates the file 0600; a checkpoint is shared like its other files, so it
        # takes the mode the umask gave the staging directory, less the execute bits.
        os.chmod(tmp / WEIGHTS_FILE, tmp.stat().st_mode & 0o666)
        tokenizer.save_pretrained(str(tmp))
        topics.save(tmp / TOPICS_DIR)
        features.save(tmp / FEATURES_FILE)
        # Written last under our own name: the tokenizer may also write a config.json-like file.
        (tmp / CONFIG_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return out_dir


def read_config(path: str | Path) -> dict[str, Any]:
    """The checkpoint's config.json, checked for format version; one-line error otherwise."""
    path = Path(path)
    cfg_file = path / CONFIG_FILE
    if not path.is_dir() or not cfg_file.is_file():
        raise RecsysError(f"{path}: not a recsys model directory (no {CONFIG_FILE})")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecsysError(f"{cfg_file}: unreadable model config ({type(exc).__name__})") from None
    if not isinstance(config, dict) or "format_version" not in config:
        raise RecsysError(f"{path}: not a recsys model directory ({CONFIG_FILE} has no format_version)")
    if config["format_version"] != FORMAT_VERSION:
        raise RecsysError(f"{path}: model format {config['format_version']}, this recsys reads {FORMAT_VERSION}")
    return config


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """Load a checkpoint written by :func:`save_model` for inference (eval mode)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from training.features import AudioFeatures
    from training.topics import TopicModel

    path = Path(path)
    config = read_config(path)
    for name in (WEIGHTS_FILE, TOPICS_DIR, FEATURES_FILE):
        if not (path / name).exists():
            raise RecsysError(f"{path}: model directory is missing {name}")
    enc_cfg = dict(config["encoder_config"])
    encoder = AutoModel.from_config(AutoConfig.for_model(**enc_cfg))
    model = TBert(
        encoder,
        n_topics=config["n_topics"],
        audio_dim=config["audio_dim"],
        n_moods=len(config["moods"]),
        n_genres=len(config["genres"]),
        hidden=config["hidden"],
        use_topics=config["use_topics"],
        use_audio=config["use_audio"],
    )
    try:
        state = load_file(str(path / WEIGHTS_FILE))
        model.load_state_dict(state)
    except Exception as exc:  # safetensors and torch raise several types for damaged files
        raise RecsysError(f"{path / WEIGHTS_FILE}: weights do not load ({type(exc).__name__})") from None
    model.to(device).eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise RecsysError(f"{path}: the checkpoint's tokenizer files do not load ({type(exc).__name__})") from None
    return LoadedModel(model, tokenizer, TopicModel.load(path / TOPICS_DIR), AudioFeatures.load(path / FEATURES_FILE), config)
