"""recsys: songs like this one, from lyrics, audio features and tags.

The serving library. No module of it imports torch, ``training`` or ``index`` at module level,
and the ``recsys similar`` path (artifacts, songtable, lexical, dense, resolve, recommend) not
pandas or scipy either (docs/ARCHITECTURE.md has the rules).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# The Python API, imported on first use: ``import recsys`` alone (every command does) stays free of
# numpy, faiss and pyarrow.
_API = {
    "Recommender": "recsys.recommend",
    "Filters": "recsys.recommend",
    "TextSearch": "recsys.search",
    "load_artifacts": "recsys.artifacts",
    "load_catalog": "recsys.catalog",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'recsys' has no attribute {name!r}")
    return getattr(import_module(_API[name]), name)
