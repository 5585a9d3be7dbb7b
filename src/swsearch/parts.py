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
from .fusion import top_k


class Part(Protocol):
    """What ``Index`` asks of every part."""

    def __len__(self) -> int: ...

    def to_files(self) -> dict[str, bytes]: ...

    def problems(self, n_chunks: int, dim: int) -> list[str]: ...


#: how sentence vectors are stored, on disk and in memory: float16 halves the largest file, its load and its
#: memory (3.4M sentences at 1.13M chunks: 2.6 GB, not 5.2). Every product reads them upcast to float32, and the
#: values are rounded once, when embedded, so a built, a loaded and a changed index hold the same vectors. Measured
#: on the bundled corpus (/tmp/fp16.py, session 12): MRR@10 of every question set unchanged, 158 of 160 questions
#: with the same top 10 as float32 (the other two swap near-ties)
SENTENCE_DTYPE = np.float16
#: the largest float32 copy of the sentence vectors that a whole-matrix product (exact search) makes once and
#: keeps, instead of upcasting block by block on every query (which made exhaustive hybrid search at 113k
#: synthetic chunks 128 ms against float32 storage's 81); made on the first such search only, so pooled
#: searches (the default above ``pools.POOLS_ABOVE`` chunks, reading rows) never hold it
UPCAST_KEPT_BYTES = 256 << 20

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


#: the sentence vectors of an index with more chunks than this get an inverted file (``SentenceClusters``): where
#: search uses candidate pools by default (``pools.POOLS_ABOVE``)
CLUSTERS_ABOVE = 20_000
#: clusters per square root of the number of sentences, and clusters a query reads (benchmarks/README.md,
#: "Hybrid search at scale")
CLUSTERS_PER_ROOT = 4
PROBES = 16


def wants_clusters(n_chunks: int) -> bool:
    """Whether the sentence vectors of an index of ``n_chunks`` chunks get an inverted file."""
    return n_chunks > CLUSTERS_ABOVE


class SentenceClusters:
    """An inverted file over the sentence vectors, so that the sentence ranking offers its own candidates to a
    pool (``pools.py``) instead of only scoring the others': k-means centroids fitted per language and each
    sentence's nearest centroid. A query scores only the sentences of the ``PROBES`` clusters nearest to it."""

    def __init__(self, centroids: np.ndarray, languages: list[str], assignment: np.ndarray):
        self.centroids = centroids
        #: each cluster's language: a query centred on its own language probes it centred on that one
        self.languages = languages
        #: each sentence's cluster
        self.assignment = assignment
        self._lists: tuple[np.ndarray, np.ndarray] | None = None
        self._directions: tuple[Centring | None, np.ndarray] | None = None

    @classmethod
    def build(cls, matrix: np.ndarray, languages: np.ndarray) -> SentenceClusters:
        """Clusters for ``matrix`` (one language label per row): each language gets its share of
        ``CLUSTERS_PER_ROOT`` × √rows centroids, and every row its nearest centroid of any language."""
        total = max(1, round(CLUSTERS_PER_ROOT * np.sqrt(len(matrix))))
        found, labels = [], []
        for lang in sorted(set(languages.tolist())):
            rows = np.flatnonzero(languages == lang)
            centroids = vectors.kmeans(matrix[rows], max(1, round(total * len(rows) / len(matrix))))
            found.append(centroids)
            labels += [str(lang)] * len(centroids)
        centroids = np.concatenate(found)
        return cls(centroids, labels, vectors.nearest(centroids, matrix))

    def __len__(self) -> int:
        return len(self.centroids)

    def outgrown(self) -> bool:
        """Whether the sentences have grown to more than 4× what these centroids were fitted for (the count
        whose ``CLUSTERS_PER_ROOT`` × √n they are): each cluster would be read at 4× its planned size."""
        return len(self.assignment) > 4 * (len(self) / CLUSTERS_PER_ROOT) ** 2

    def assign(self, matrix: np.ndarray) -> np.ndarray:
        """The nearest cluster of each new sentence vector (the centroids stay as fitted)."""
        return vectors.nearest(self.centroids, matrix) if len(matrix) else np.zeros(0, dtype=np.int32)

    def rows(self, clusters: np.ndarray) -> np.ndarray:
        """The sentence rows of ``clusters``, sorted (reads of a memory-mapped matrix in file order)."""
        if self._lists is None:  # derived once: sentence rows by cluster, and where each cluster starts
            order = np.argsort(self.assignment, kind="stable")
            self._lists = order, np.searchsorted(self.assignment[order], np.arange(len(self) + 1))
        order, bounds = self._lists
        return np.sort(np.concatenate([order[bounds[c]:bounds[c + 1]] for c in clusters]))

    def probe(self, query: np.ndarray, n: int, centring: Centring | None = None) -> np.ndarray:
        """The ``n`` clusters nearest to ``query``: by the centroid's direction, centred on the cluster's
        language when ``centring`` is given (then ``query`` is a centred query)."""
        if self._directions is None or self._directions[0] is not centring:
            directions = self.centroids
            if centring is not None:  # centred as the ranking centres sentences (a language without one: as is)
                directions = directions.copy()
                mine = np.isin(self.languages, centring.languages)
                codes = centring.codes(np.asarray(self.languages)[mine])
                centroids = self.centroids[mine]
                directions[mine] = centring.rows(centroids, codes, centring.norms(iter([centroids]), codes))
            self._directions = (centring, directions)
        near = self._directions[1] @ query
        if n >= len(near):
            return np.arange(len(near))
        return np.flatnonzero(near >= -np.partition(-near, n - 1)[n - 1])  # and every one tied with the n-th

    def changed(self, kept: np.ndarray, new: np.ndarray | None) -> SentenceClusters:
        """The clusters of sentence rows ``kept`` (a mask), then of the ``new`` vectors (nearest centroid)."""
        parts = [self.assignment[kept]] + ([self.assign(new)] if new is not None else [])
        return SentenceClusters(self.centroids, self.languages, np.concatenate(parts).astype(np.int32))

    def to_files(self) -> dict[str, bytes]:
        return {store.SENTENCE_CLUSTERS: store.npy_bytes(self.assignment.astype(np.int32)),
                store.SENTENCE_CENTROIDS: store.npy_bytes(self.centroids.astype(np.float32)),
                store.SENTENCE_CLUSTER_LANGUAGES: store.jsonl_bytes([{"languages": self.languages}])}

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> SentenceClusters | None:
        if store.SENTENCE_CLUSTERS not in files:
            return None
        return cls(store.npy_load(files[store.SENTENCE_CENTROIDS]),
                   list(store.jsonl_load(files[store.SENTENCE_CLUSTER_LANGUAGES])[0]["languages"]),
                   store.npy_load(files[store.SENTENCE_CLUSTERS]))

    def problems(self, n_sentences: int, dim: int) -> list[str]:
        c, a, labels = self.centroids, self.assignment, self.languages
        if c.ndim != 2 or c.shape[1] != dim or not len(c) or c.dtype.kind != "f" or not np.isfinite(c).all():
            return [f"sentence centroids are not a finite float matrix of dimension {dim}"]
        if not isinstance(labels, list) or len(labels) != len(c) or not all(isinstance(x, str) for x in labels):
            return ["sentence cluster languages are not one name per centroid"]
        if a.shape != (n_sentences,) or a.dtype.kind not in "iu" or (len(a) and (a.min() < 0 or a.max() >= len(c))):
            return ["sentence clusters are not one centroid number per sentence vector"]
        return []


class SentenceVectors:
    """One vector per sentence of every chunk, grouped by chunk, with each sentence's (chunk row, start, end)
    in its document: a chunk scores by its best sentence, and a hit's highlight is that sentence. Above
    ``CLUSTERS_ABOVE`` chunks, an inverted file (``clusters``) finds the best sentences without reading all."""

    def __init__(self, matrix: np.ndarray, spans: np.ndarray, n_chunks: int,
                 clusters: SentenceClusters | None = None):
        self.matrix = matrix
        self.spans = spans
        self.clusters = clusters
        #: the first sentence row of every chunk, and the row after its last
        self.starts = np.searchsorted(spans[:, 0], np.arange(n_chunks)) if spans.ndim == 2 else np.zeros(0)
        self.ends = np.append(self.starts[1:], len(spans))
        self._centred: tuple[Centring, np.ndarray, np.ndarray] | None = None
        self._upcast: np.ndarray | None = None
        self._held: tuple[np.ndarray, np.ndarray] | None = None
        #: the held rows' language codes and centred norms under one centring, like ``_centred`` for all rows
        self._held_centred: tuple[Centring, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.matrix)

    def blocks(self, keep: bool = False) -> Iterator[np.ndarray]:
        """The vectors as float32 row blocks: the whole matrix at once where a float32 copy is kept (``keep``:
        make one, up to ``UPCAST_KEPT_BYTES``; exact search does), else fresh blocks (the centred norms, read
        once, do not make one)."""
        m = self.matrix
        if m.dtype == np.float32:
            yield m
        elif self._upcast is not None or (keep and 4 * m.size <= UPCAST_KEPT_BYTES):
            if self._upcast is None:
                self._upcast = m.astype(np.float32)
            yield self._upcast
        else:
            for block in blocks_of(m):
                yield block.astype(np.float32)

    def of_chunk(self, row: int) -> slice:
        """The sentence rows of chunk ``row``."""
        return slice(int(self.starts[row]), int(self.ends[row]))

    def centring(self, centring: Centring) -> tuple[np.ndarray, np.ndarray]:
        """Each sentence's language code (its chunk's) and centred norm under ``centring``, computed once."""
        if self._centred is None or self._centred[0] is not centring:
            codes = centring.chunk_codes[self.spans[:, 0]]
            self._centred = (centring, codes, centring.norms(self.blocks(), codes))
        return self._centred[1], self._centred[2]

    def scores(self, queries: np.ndarray, centring: Centring | None = None) -> np.ndarray:
        """Every sentence's score for each query: plain, or language-centred when ``centring`` is given (then
        ``queries`` are centred queries)."""
        raw = np.concatenate([queries @ block.T for block in self.blocks(keep=True)], axis=-1)
        return raw if centring is None else centring.scores(queries, raw, *self.centring(centring))

    def rows_of_chunks(self, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of ``chunk_rows`` (each chunk's in turn) and where each chunk's segment starts."""
        first, counts = self.starts[chunk_rows], self.ends[chunk_rows] - self.starts[chunk_rows]
        segments = np.cumsum(counts) - counts
        return first.repeat(counts) + (np.arange(counts.sum()) - segments.repeat(counts)), segments

    def best_of_chunks(self, query: np.ndarray, chunk_rows: np.ndarray, centring: Centring | None = None) -> np.ndarray:
        """The best sentence score of each of ``chunk_rows`` for one query (centred like ``scores``): the
        sentence ranking of a candidate pool, reading only those chunks' sentences."""
        if len(chunk_rows) == 0:
            return np.zeros(0, dtype=np.float32)
        rows, segments = self.rows_of_chunks(chunk_rows)
        return np.maximum.reduceat(self.row_scores(query, rows, centring), segments)

    def hold(self, chunk_rows: np.ndarray) -> None:
        """Keep the sentences of sorted ``chunk_rows`` as one float32 block that ``row_scores`` reads instead of
        gathering and upcasting them: the pools' fixed sample (``pools.SAMPLE`` chunks) is scored on every
        search, and upcasting float16 rows costs more than their product (measured: 3.2 ms against 0.8 ms for
        float32 rows, 15,000 rows of 64 dimensions)."""
        rows, _ = self.rows_of_chunks(np.asarray(chunk_rows, dtype=np.int64))
        self._held, self._held_centred = (rows, np.asarray(self.matrix[rows], dtype=np.float32)), None

    def row_scores(self, query: np.ndarray, rows: np.ndarray, centring: Centring | None = None) -> np.ndarray:
        """The scores of sentence ``rows`` for one query (centred like ``scores``), reading only those
        rows, or the held block (``hold``) where it holds at least half of them."""
        held = self._held
        if held is not None and len(rows):
            at = np.minimum(np.searchsorted(held[0], rows), len(held[0]) - 1)
            hit = held[0][at] == rows
            if 2 * np.count_nonzero(hit) >= len(held[0]):
                centred = None
                if centring is not None:
                    if self._held_centred is None or self._held_centred[0] is not centring:
                        self._held_centred = (centring, *self._codes_and_norms(held[0], held[1], centring))
                    centred = self._held_centred[1:]
                out = np.empty(len(rows), dtype=np.float32)
                out[hit] = self._scores_of(query, held[1], centring, centred)[at[hit]]
                out[~hit] = self._gathered_scores(query, rows[~hit], centring)
                return out
        return self._gathered_scores(query, rows, centring)

    def _gathered_scores(self, query: np.ndarray, rows: np.ndarray, centring: Centring | None) -> np.ndarray:
        """``row_scores`` from the rows themselves, gathered and upcast."""
        m = np.asarray(self.matrix[rows], dtype=np.float32)
        centred = None if centring is None else self._codes_and_norms(rows, m, centring)
        return self._scores_of(query, m, centring, centred)

    def _codes_and_norms(self, rows: np.ndarray, m: np.ndarray, centring: Centring) -> tuple[np.ndarray, np.ndarray]:
        """The language codes and centred norms of sentence ``rows`` (``m``: their float32 vectors) only, not
        ``centring()``'s of every sentence."""
        codes = centring.chunk_codes[self.spans[rows, 0]]
        return codes, centring.norms(iter([m]), codes)

    @staticmethod
    def _scores_of(query: np.ndarray, m: np.ndarray, centring: Centring | None,
                   codes_and_norms: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Float32 sentence vectors ``m`` scored for one query, centred with their ``codes_and_norms`` when
        ``centring`` is given."""
        raw = m @ query
        return raw if centring is None else centring.scores(query[None, :], raw[None, :], *codes_and_norms)[0]

    def candidates(self, query: np.ndarray, c: int, centring: Centring | None = None,
                   allowed: np.ndarray | None = None) -> np.ndarray:
        """Up to ``c`` chunk rows (inside sorted rows ``allowed``), best first by their best sentence among the
        sentences of the clusters nearest to ``query``; none without clusters (then the ranking only scores the
        other rankings' candidates)."""
        if self.clusters is None or c <= 0:
            return np.zeros(0, dtype=np.int64)
        rows = self.clusters.rows(self.clusters.probe(query, PROBES, centring))
        if allowed is not None:
            rows = rows[np.isin(self.spans[rows, 0], allowed)]
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        scores = self.row_scores(query, rows, centring)
        for many in (8 * c, len(scores)):  # the best 8c sentences hold c chunks unless chunks have many more
            # equal scores in row order (tie-break order), as exact search ranks them: a sentence repeated in
            # thousands of chunks must give the same c of them
            ranked = self.spans[rows[top_k(scores, many)], 0]
            _, first = np.unique(ranked, return_index=True)  # each chunk at its best sentence
            if len(first) >= c:
                break
        return ranked[np.sort(first)[:c]].astype(np.int64)

    def clustered(self, chunk_languages: np.ndarray) -> SentenceVectors:
        """These vectors with an inverted file fitted on them (``chunk_languages``: each chunk's language)."""
        clusters = SentenceClusters.build(self.matrix, np.asarray(chunk_languages)[self.spans[:, 0]])
        return SentenceVectors(self.matrix, self.spans, len(self.starts), clusters)

    def best_per_chunk(self, scores: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence score, from every sentence's score (last axis)."""
        return np.maximum.reduceat(scores, self.starts, axis=-1)

    def changed(self, keep: np.ndarray, new: SentenceVectors | None, order: np.ndarray | None) -> SentenceVectors:
        """The sentences of chunk rows ``keep`` (renumbered), then ``new``'s (chunk rows counted from 0 among
        the new chunks), regrouped for chunk rows permuted by ``order``."""
        kept = np.isin(self.spans[:, 0], keep)
        clusters = None if self.clusters is None else self.clusters.changed(kept, None if new is None else new.matrix)
        spans = self.spans[kept].copy()
        spans[:, 0] = np.searchsorted(keep, spans[:, 0])
        # an index saved before float16 storage is rounded now, as a build of these documents would be
        parts, span_parts = [self.matrix[kept].astype(SENTENCE_DTYPE, copy=False)], [spans]
        n_chunks = len(keep)
        if new is not None:
            moved = new.spans.copy()
            moved[:, 0] += len(keep)
            parts.append(new.matrix.astype(SENTENCE_DTYPE, copy=False))
            span_parts.append(moved)
            n_chunks += len(new.starts)
        matrix, spans = np.concatenate(parts), np.concatenate(span_parts)
        if order is not None:
            rows, spans = _regroup(spans, order)
            matrix = matrix[rows]
            if clusters is not None:
                clusters = SentenceClusters(clusters.centroids, clusters.languages, clusters.assignment[rows])
        return SentenceVectors(matrix, spans, n_chunks, clusters)

    def to_files(self) -> dict[str, bytes]:
        files = {store.SENTENCES: store.npy_bytes(self.matrix), store.SENTENCE_SPANS: store.npy_bytes(self.spans)}
        if self.clusters is not None:
            files.update(self.clusters.to_files())
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes], n_chunks: int) -> SentenceVectors | None:
        if store.SENTENCES not in files:
            return None
        matrix = store.npy_load(files[store.SENTENCES])  # float16; float32 from an index saved before that
        return cls(matrix if matrix.dtype in (np.float16, np.float32) else matrix.astype(np.float32),
                   store.npy_load(files[store.SENTENCE_SPANS]).astype(np.int64, copy=False), n_chunks,
                   SentenceClusters.from_files(files))

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
        return [] if self.clusters is None else self.clusters.problems(len(m), dim)


def _regroup(spans: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentence rows regrouped for chunk rows permuted by ``order`` (new row i = old row order[i]): which old
    sentence row each new one is, and the new spans."""
    starts = np.searchsorted(spans[:, 0], np.arange(len(order) + 1))
    counts = np.diff(starts)[order]
    first = np.repeat(starts[:-1][order], counts)
    rows = first + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    new_spans = spans[rows].copy()
    new_spans[:, 0] = np.repeat(np.arange(len(order)), counts)
    return rows, new_spans
