"""swsearch: local semantic search over policy documents, English and Chinese.

>>> import swsearch
>>> swsearch.Index.build().search("How many community workers per 10,000 residents?", k=3)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .documents import Document, load_corpus  # noqa: E402
from .errors import (  # noqa: E402
    IndexLoadError,
    IndexWriteError,
    InputError,
    MissingExtraError,
    ModelError,
    SwsearchError,
)
from .index import Hit, Index, default_index  # noqa: E402
from .options import SearchOptions  # noqa: E402
from .split import Chunk  # noqa: E402

__all__ = ["Chunk", "Document", "Hit", "Index", "IndexLoadError", "IndexWriteError", "InputError",
           "MissingExtraError", "ModelError", "SearchOptions", "SwsearchError", "__version__", "default_index",
           "load_corpus"]
