"""recsys: songs like this one, from lyrics, audio features and tags.

The serving library. No module of it imports torch, ``training`` or ``index`` at module level,
and the ``recsys similar`` path (artifacts, songtable, lexical, dense, resolve, recommend) not
pandas or scipy either (docs/ARCHITECTURE.md has the rules).
"""

__version__ = "0.1.0"
