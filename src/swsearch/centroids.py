"""Language centring done on the query side: scores against language-centred vectors without a centred copy.

A multilingual model puts every text of one language near that language's mean vector, so a query is closer
to any same-language paragraph than to the right other-language one. Subtracting each language's centroid
(and normalising again) removes most of that. The centred score of a vector ``v`` of language ``L`` is

    q' . (v - m_L) / |v - m_L|  =  (q' . v - q' . m_L) / n_v

so it needs only the plain vectors, the few centroids and one norm ``n_v`` per vector: no copy of the corpus
(which was 5.2 GiB at 300k chunks with sentences), and the plain vectors' FAISS index can serve it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from . import subspace as language_subspace
from .fusion import centre

_BLOCK = 8_192  # rows per block when computing norms: a few MiB at a time, however many vectors


class Centring:
    """The language centroids of an index and, per vector, its language and the norm of its centred form; with
    ``subspace`` (the model's language subspace, ``subspace.py``), centred queries leave it out too."""

    def __init__(self, centroids: Mapping[str, np.ndarray], languages: np.ndarray,
                 subspace: np.ndarray | None = None):
        #: languages in sorted order; ``matrix[i]`` is the centroid of ``languages[i]``
        self.languages = sorted(centroids)
        self.matrix = np.stack([np.asarray(centroids[lang], dtype=np.float32) for lang in self.languages])
        self._code = {lang: i for i, lang in enumerate(self.languages)}
        #: the row of ``matrix`` for each chunk
        self.chunk_codes = self.codes(languages)
        self.subspace = subspace

    def codes(self, languages: np.ndarray) -> np.ndarray:
        """Index into ``languages``/``matrix`` for each language label."""
        return np.array([self._code[str(lang)] for lang in languages], dtype=np.int64)

    def mean(self) -> np.ndarray:
        """The centroid used for a query whose language the index does not hold."""
        return self.matrix.mean(axis=0)

    def centre_queries(self, qvecs: np.ndarray, query_languages: list[str], subspace: bool = True) -> np.ndarray:
        """Each query minus its own language's centroid, normalised again, and without the language subspace
        (unless ``subspace`` is False)."""
        mean = self.mean()
        per_query = np.stack([self.matrix[self._code[lang]] if lang in self._code else mean
                              for lang in query_languages])
        return language_subspace.remove(centre(qvecs, per_query), self.subspace if subspace else None)

    def norms(self, blocks: Iterator[np.ndarray], codes: np.ndarray) -> np.ndarray:
        """``|v - m_L|`` for every vector (given in row blocks), without holding a centred copy of them."""
        out = np.empty(len(codes), dtype=np.float32)
        start = 0
        for block in blocks:
            end = start + len(block)
            diff = block - self.matrix[codes[start:end]]
            out[start:end] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            start = end
        if start != len(codes):
            raise ValueError(f"expected {len(codes)} vectors for the norms, got {start}")
        return np.maximum(out, 1e-12)

    def scores(self, cq: np.ndarray, raw: np.ndarray, codes: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """Centred scores from the plain inner products ``raw = cq @ V.T`` of centred queries ``cq``."""
        offsets = cq @ self.matrix.T  # (queries, languages)
        return (raw - offsets[..., codes]) / norms

    def rows(self, vectors: np.ndarray, codes: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """The centred form of a few vectors (pseudo-relevance feedback, the sentence clusters' probe)."""
        return (vectors - self.matrix[codes]) / norms[:, None]


def blocks_of(matrix: np.ndarray, size: int = _BLOCK) -> Iterator[np.ndarray]:
    """Row blocks of an in-memory matrix."""
    for start in range(0, len(matrix), size):
        yield matrix[start:start + size]


def blocks_of_faiss(index, size: int = _BLOCK) -> Iterator[np.ndarray]:
    """Row blocks of a FAISS index's stored vectors, so the norms need no full copy of them."""
    for start in range(0, index.ntotal, size):
        yield index.reconstruct_n(start, min(size, index.ntotal - start))
