"""recsys: songs like this one, from lyrics, audio features and tags.

The serving library. Importing it stays light (numpy, pandas, scipy, faiss): it never imports
torch, ``training`` or ``index`` at module level.
"""

__version__ = "0.1.0"
