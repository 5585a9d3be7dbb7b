"""The index's parts behind one small interface: chunk vectors (FAISS) and sentence vectors here, the lexical
index in ``lexical.py``. ``Index`` only composes them; a new store (say, a database) is one class per part.

Every part is keyed by chunk row and follows a change the same way: ``changed(keep, new…, order)`` keeps the
rows ``keep`` (sorted), appends the new rows and permutes the result by ``order`` (new row i = old row
``order[i]``; None: as is), exactly what a build of the resulting documents would hold. ``to_files`` and
``from_files`` save and load it; ``problems`` says what in a loaded part does not fit the chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from . import store, vectors
from .centroids import Centring, blocks_of, blocks_of_faiss


class Part(Protocol):
    """What ``Index`` asks of every part."""

    def __len__(self) -> int: ...

    def to_files(self) -> dict[str, bytes]: ...

    def problems(self, n_chunks: int, dim: int) -> list[str]: ...


#: the largest share of an HNSW graph's nodes one change removes in place; more is rebuilt. Measured on 50k
#: random vectors (/tmp/hnswdel.py): removing 1% with repair took 3.5 s against 13.6 s to rebuild, recall@10
#: 0.8025 against 0.8025; 10%: 11.2 s against 12.6 s (0.796 against 0.805)
REMOVE_IN_PLACE = 0.01


class ChunkVectors:
    """One vector per chunk in a FAISS index (flat, HNSW, IVF, IVF-PQ), ids = chunk rows.

    A flat or HNSW index is read in FAISS's own memory (zero-copy: HNSW stores the exact vectors); an IVF one
    keeps its vectors once, as saved or reconstructed, for the rankings that score chunks exactly.
    """

    def __init__(self, faiss_index, matrix: np.ndarray | None = None):
        self.faiss_index = faiss_index
        self._matrix = matrix if vectors.index_type_of(faiss_index) not in ("flat", "hnsw") else None

    @classmethod
    def build(cls, matrix: np.ndarray, index_type: str) -> ChunkVectors:
        return cls(vectors.build_index(matrix, index_type), matrix)

    def __len__(self) -> int:
        return int(self.faiss_index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.faiss_index.d)

    @property
    def index_type(self) -> str:
        return vectors.index_type_of(self.faiss_index)

    def matrix(self) -> np.ndarray:
        """Every chunk vector in row order: a flat index's own memory, else a copy kept once reconstructed."""
        if self._matrix is not None:
            return self._matrix
        view = vectors.flat_view(self.faiss_index)
        if view is not None:
            return view
        self._matrix = self.faiss_index.reconstruct_n(0, self.faiss_index.ntotal)
        return self._matrix

    def in_memory(self) -> np.ndarray | None:
        """The vectors when they can be read without reconstructing them from FAISS, else None."""
        return self._matrix if self._matrix is not None else vectors.flat_view(self.faiss_index)

    def blocks(self) -> Iterator[np.ndarray]:
        """The vectors in row blocks (from FAISS when not in memory), for one pass without a full copy."""
        held = self.in_memory()
        return blocks_of(held) if held is not None else blocks_of_faiss(self.faiss_index)

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Inner products of every query with every chunk: (queries, chunks)."""
        return queries @ self.matrix().T

    def search(self, queries: np.ndarray, k: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's top-``k`` (scores, rows) per query; ``allowed``: rows or a selector."""
        return vectors.search(self.faiss_index, queries, k, allowed)

    def changed(self, keep: np.ndarray, new: np.ndarray, order: np.ndarray | None) -> ChunkVectors:
        """Rows ``keep`` plus ``new``, permuted by ``order``. An HNSW graph is changed in a copy (a rebuild
        costs 14 s at 113k chunks): removed nodes are cut out and their links repaired
        (``vectors.keep_entries``) when they are at most ``REMOVE_IN_PLACE`` of the graph, new ones added, and
        the nodes relabelled into ``order``; any other change builds a new index. This one is never changed,
        so views of it stay valid."""
        new = np.ascontiguousarray(new, dtype=np.float32)
        if self.index_type == "hnsw" and len(self) - len(keep) <= REMOVE_IN_PLACE * len(self):
            grown = vectors.clone(self.faiss_index)
            vectors.keep_entries(grown, keep)
            grown.add(new)
            if order is not None:  # node i becomes node order[i]'s: vectors and graph links alike
                vectors.permute(grown, order)
            return ChunkVectors(grown)
        matrix = np.concatenate([self.matrix()[keep], new])
        if order is not None:
            matrix = matrix[order]
        return ChunkVectors.build(matrix, self.index_type)

    def to_files(self) -> dict[str, bytes]:
        files = {store.VECTORS: vectors.serialize(self.faiss_index)}
        if self._matrix is not None:  # an approximate index's exact vectors, for exact rescoring
            files["vectors.npy"] = store.npy_bytes(self._matrix)
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> ChunkVectors:
        matrix = store.npy_load(files["vectors.npy"]) if "vectors.npy" in files else None
        return cls(vectors.deserialize(files[store.VECTORS]), matrix)

    def problems(self, n_chunks: int, dim: int) -> list[str]:
        out = []
        if len(self) != n_chunks:
            out.append(f"{len(self)} vectors for {n_chunks} chunks")
        if self.dim != dim:
            out.append(f"vectors of dimension {self.dim}, manifest says {dim}")
        m = self._matrix
        if m is not None and (m.ndim != 2 or m.shape != (n_chunks, dim) or m.dtype.kind != "f"
                              or not np.isfinite(m).all()):
            out.append(f"vectors.npy is not a finite float matrix of {n_chunks} vectors of dimension {dim}")
        return out


class SentenceVectors:
    """One vector per sentence of every chunk, grouped by chunk, with each sentence's (chunk row, start, end)
    in its document: a chunk scores by its best sentence, and a hit's highlight is that sentence."""

    def __init__(self, matrix: np.ndarray, spans: np.ndarray, n_chunks: int):
        self.matrix = matrix
        self.spans = spans
        #: the first sentence row of every chunk
        self.starts = np.searchsorted(spans[:, 0], np.arange(n_chunks)) if spans.ndim == 2 else np.zeros(0)
        self._centred: tuple[Centring, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.matrix)

    def of_chunk(self, row: int) -> slice:
        """The sentence rows of chunk ``row``."""
        end = self.starts[row + 1] if row + 1 < len(self.starts) else len(self.spans)
        return slice(int(self.starts[row]), int(end))

    def centring(self, centring: Centring) -> tuple[np.ndarray, np.ndarray]:
        """Each sentence's language code (its chunk's) and centred norm under ``centring``, computed once."""
        if self._centred is None or self._centred[0] is not centring:
            codes = centring.chunk_codes[self.spans[:, 0]]
            self._centred = (centring, codes, centring.norms(blocks_of(self.matrix), codes))
        return self._centred[1], self._centred[2]

    def scores(self, queries: np.ndarray, centring: Centring | None = None) -> np.ndarray:
        """Every sentence's score for each query: plain, or language-centred when ``centring`` is given (then
        ``queries`` are centred queries)."""
        raw = queries @ self.matrix.T
        return raw if centring is None else centring.scores(queries, raw, *self.centring(centring))

    def rows_of_chunks(self, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of ``chunk_rows`` (each chunk's in turn) and where each chunk's segment starts."""
        ends = np.append(self.starts[1:], len(self.spans))
        first, counts = self.starts[chunk_rows], ends[chunk_rows] - self.starts[chunk_rows]
        segments = np.cumsum(counts) - counts
        return first.repeat(counts) + (np.arange(counts.sum()) - segments.repeat(counts)), segments

    def best_of_chunks(self, query: np.ndarray, chunk_rows: np.ndarray, centring: Centring | None = None) -> np.ndarray:
        """The best sentence score of each of ``chunk_rows`` for one query (centred like ``scores``): the
        sentence ranking of a candidate pool, reading only those chunks' sentences."""
        if len(chunk_rows) == 0:
            return np.zeros(0, dtype=np.float32)
        rows, segments = self.rows_of_chunks(chunk_rows)
        m = np.asarray(self.matrix[rows], dtype=np.float32)
        raw = m @ query
        if centring is not None:  # the norms of these sentences only, not ``centring()``'s of every sentence
            codes = centring.chunk_codes[self.spans[rows, 0]]
            raw = centring.scores(query[None, :], raw[None, :], codes, centring.norms(iter([m]), codes))[0]
        return np.maximum.reduceat(raw, segments)

    def best_per_chunk(self, scores: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence score, from every sentence's score (last axis)."""
        return np.maximum.reduceat(scores, self.starts, axis=-1)

    def changed(self, keep: np.ndarray, new: SentenceVectors | None, order: np.ndarray | None) -> SentenceVectors:
        """The sentences of chunk rows ``keep`` (renumbered), then ``new``'s (chunk rows counted from 0 among
        the new chunks), regrouped for chunk rows permuted by ``order``."""
        kept = np.isin(self.spans[:, 0], keep)
        spans = self.spans[kept].copy()
        spans[:, 0] = np.searchsorted(keep, spans[:, 0])
        parts, span_parts = [self.matrix[kept]], [spans]
        n_chunks = len(keep)
        if new is not None:
            moved = new.spans.copy()
            moved[:, 0] += len(keep)
            parts.append(new.matrix)
            span_parts.append(moved)
            n_chunks += len(new.starts)
        matrix, spans = np.concatenate(parts), np.concatenate(span_parts)
        if order is not None:
            matrix, spans = _regroup(matrix, spans, order)
        return SentenceVectors(matrix, spans, n_chunks)

    def to_files(self) -> dict[str, bytes]:
        return {store.SENTENCES: store.npy_bytes(self.matrix), store.SENTENCE_SPANS: store.npy_bytes(self.spans)}

    @classmethod
    def from_files(cls, files: dict[str, bytes], n_chunks: int) -> SentenceVectors | None:
        if store.SENTENCES not in files:
            return None
        return cls(store.npy_load(files[store.SENTENCES]).astype(np.float32, copy=False),
                   store.npy_load(files[store.SENTENCE_SPANS]).astype(np.int64, copy=False), n_chunks)

    def problems(self, n_chunks: int, dim: int, bounds: np.ndarray | None = None) -> list[str]:
        """Shape, type and range checks; ``bounds``: each chunk's (start, end) in its document."""
        m, spans = self.matrix, self.spans
        if m.ndim != 2 or m.shape[1] != dim or m.dtype.kind != "f" or not np.isfinite(m).all():
            return [f"sentences.npy is not a finite float matrix of dimension {dim}"]
        if spans.ndim != 2 or spans.shape[1:] != (3,) or len(spans) != len(m):
            return ["sentence spans are not one (chunk, start, end) row per sentence vector"]
        rows = spans[:, 0]
        steps = np.diff(rows)  # every chunk once or more, in order: rows 0, 0, 1, 2, 2, … n-1 (no sort needed)
        if (len(rows) == 0) != (n_chunks == 0) or (len(rows) and (rows[0] != 0 or rows[-1] != n_chunks - 1
                                                                   or np.any((steps != 0) & (steps != 1)))):
            return ["sentence vectors that do not match the chunks"]
        if bounds is not None and len(spans):
            starts, ends = bounds[rows, 0], bounds[rows, 1]
            if np.any(spans[:, 1] < starts) or np.any(spans[:, 2] > ends) or np.any(spans[:, 1] >= spans[:, 2]):
                return ["sentence spans outside their chunks"]
        return []


def _regroup(matrix: np.ndarray, spans: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentence rows regrouped for chunk rows permuted by ``order`` (new row i = old row order[i])."""
    starts = np.searchsorted(spans[:, 0], np.arange(len(order) + 1))
    counts = np.diff(starts)[order]
    first = np.repeat(starts[:-1][order], counts)
    rows = first + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    new_spans = spans[rows].copy()
    new_spans[:, 0] = np.repeat(np.arange(len(order)), counts)
    return matrix[rows], new_spans
