"""FAISS vector indexes: exact inner product by default, HNSW / IVF / IVF-PQ for large collections.

All vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import io
import math
import mmap

import numpy as np

from .errors import InputError

INDEX_TYPES = ("flat", "hnsw", "ivf", "ivfpq")


#: below this many vectors ``auto`` uses exact search (see benchmarks/README.md, "Index types at scale")
EXACT_UP_TO = 100_000


def auto_index_type(n_vectors: int) -> str:
    """Exact search while it is fast enough for one query; HNSW above that."""
    return "flat" if n_vectors <= EXACT_UP_TO else "hnsw"


def _faiss():
    import faiss
    return faiss


def make_index(dim: int, index_type: str, n_vectors: int):
    """Create an empty (untrained) FAISS index of ``index_type`` sized for ``n_vectors``."""
    faiss = _faiss()
    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
        return index
    nlist = max(1, min(int(4 * math.sqrt(max(n_vectors, 1))), max(n_vectors // 39, 1)))
    quantizer = faiss.IndexFlatIP(dim)
    if index_type == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    elif index_type == "ivfpq":
        m = next(m for m in (48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    else:
        raise InputError(f"unknown index type {index_type!r}; use one of {', '.join(INDEX_TYPES)}")
    index.nprobe = max(1, min(nlist, 16))
    return index


def build_index(vectors: np.ndarray, index_type: str = "flat"):
    """Train (when needed) and fill an index with ``vectors``; ids are row numbers."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = make_index(vectors.shape[1], index_type, len(vectors))
    if not index.is_trained:
        if index_type == "ivfpq" and len(vectors) < 256 * 39:
            raise InputError(f"ivfpq needs at least {256 * 39} vectors to train; use flat or hnsw for "
                             f"{len(vectors)} vectors")
        index.train(training_sample(vectors, index))
    index.add(vectors)
    return index


def training_sample(vectors: np.ndarray, index, per_list: int = 64, seed: int = 0) -> np.ndarray:
    """At most ``per_list`` vectors per IVF list (faiss asks for 39-256): k-means on all of 1M is minutes."""
    base = _faiss().downcast_index(index)
    nlist = getattr(base, "nlist", 0)
    if not nlist or len(vectors) <= per_list * nlist:
        return vectors
    rows = np.random.default_rng(seed).choice(len(vectors), per_list * nlist, replace=False)
    return vectors[np.sort(rows)]


def kmeans(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """``k`` spherical k-means centroids (FAISS, 10 iterations, at most 64 training vectors per centroid). The
    training sample is drawn here, before the float32 copy FAISS needs: at 3.4M float16 sentences a copy of all
    of them would be 5.2 GB for the 0.5M that FAISS reads."""
    k = max(1, min(k, len(vectors)))
    if len(vectors) > 64 * k:
        vectors = vectors[np.sort(np.random.default_rng(seed).choice(len(vectors), 64 * k, replace=False))]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    km = _faiss().Kmeans(vectors.shape[1], k, niter=10, seed=seed, spherical=True, max_points_per_centroid=64,
                         min_points_per_centroid=1, verbose=False)
    km.train(vectors)
    return np.asarray(km.centroids, dtype=np.float32)


def nearest(centroids: np.ndarray, vectors: np.ndarray, block: int = 262_144) -> np.ndarray:
    """The row of ``centroids`` with the largest inner product with each vector (int32), in blocks of rows so a
    memory-mapped matrix is not copied whole."""
    flat = _faiss().IndexFlatIP(centroids.shape[1])
    flat.add(np.ascontiguousarray(centroids, dtype=np.float32))
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), block):
        _, ids = flat.search(np.ascontiguousarray(vectors[start:start + block], dtype=np.float32), 1)
        out[start:start + block] = ids[:, 0]
    return out


def selector(rows: np.ndarray):
    """A FAISS selector of ``rows``: a bitmap up to the largest row (``IDSelectorBitmap``; a hash set of 632k
    rows, ``IDSelectorBatch``, took 32 ms to build, the bitmap of 1.13M chunks about 1 ms)."""
    faiss = _faiss()
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return faiss.IDSelectorBatch(np.zeros(0, dtype=np.int64))
    member = np.zeros(int(rows.max()) + 1, dtype=bool)
    member[rows] = True
    bitmap = np.packbits(member, bitorder="little")  # bit i of byte j: row 8j + i, as FAISS reads it
    sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
    sel.referenced_objects = [bitmap]  # FAISS keeps only a pointer: the bytes live as long as the selector
    return sel


def search(index, queries: np.ndarray, k: int, allowed=None):
    """Top-``k`` (scores, row ids) for each query; ``allowed`` (rows, or a ``selector``) restricts the search."""
    faiss = _faiss()
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if allowed is None:
        return index.search(queries, k)
    sel = allowed if isinstance(allowed, faiss.IDSelector) else selector(allowed)
    base = faiss.downcast_index(index)
    if isinstance(base, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(base.hnsw.efSearch, 2 * k))
    elif isinstance(base, faiss.IndexIVF):
        params = faiss.SearchParametersIVF(sel=sel, nprobe=base.nprobe)
    else:
        params = faiss.SearchParameters(sel=sel)
    return index.search(queries, k, params=params)


class _Owner:
    """Holds a FAISS index for as long as a numpy view of its memory lives (the view's ``base``)."""

    def __init__(self, index, raw: np.ndarray):
        self.index = index
        self.__array_interface__ = raw.__array_interface__


def flat_view(index) -> np.ndarray | None:
    """The stored vectors of a flat index, or of an HNSW index's flat storage, as a read-only array that shares
    FAISS's memory (no copy), else None.

    The view keeps the index alive; swsearch never adds to an index that has a view in place (``Index.add``
    builds a new one, or appends to a clone), so the memory under a view does not move.
    """
    faiss = _faiss()
    base = faiss.downcast_index(index)
    if isinstance(base, faiss.IndexHNSW):
        base = faiss.downcast_index(base.storage)
    if not isinstance(base, faiss.IndexFlat) or base.ntotal == 0:
        return None
    raw = faiss.rev_swig_ptr(base.get_xb(), base.ntotal * base.d).reshape(base.ntotal, base.d)
    view = np.asarray(_Owner(index, raw))
    view.flags.writeable = False
    return view


def clone(index):
    """A copy of ``index`` to change while views of the original stay valid."""
    return _faiss().clone_index(index)


def permute(index, order: np.ndarray) -> None:
    """Relabel an HNSW index's entries in place: entry i becomes the old entry ``order[i]`` (vectors and graph)."""
    _faiss().downcast_index(index).permute_entries(np.ascontiguousarray(order, dtype=np.int64))


def keep_entries(index, keep: np.ndarray) -> None:
    """Remove every entry of an HNSW index but ``keep`` (ascending), in place: entry i becomes old entry
    ``keep[i]``. FAISS cannot remove from a graph, so the removed nodes are relabelled past the kept ones, cut
    off with their vectors, and dropped from the kept nodes' neighbour lists (each list closed up, as FAISS
    stops reading a list at its first -1); each lost link is replaced by the nearest of the removed node's own
    kept neighbours (hnswlib's repair), and a removed entry point hands over to a kept node of the highest
    level. A few deletions cost a pass over the arrays instead of a rebuild of the graph (14 s at 113k chunks)."""
    faiss = _faiss()
    base = faiss.downcast_index(index)
    n, m = int(base.ntotal), len(keep)
    if m == n:
        return
    dead = np.setdiff1d(np.arange(n, dtype=np.int64), keep)
    base.permute_entries(np.concatenate([np.asarray(keep, dtype=np.int64), dead]))
    hnsw = base.hnsw
    offsets = faiss.vector_to_array(hnsw.offsets).astype(np.int64)
    neighbors = faiss.vector_to_array(hnsw.neighbors)[:offsets[m]].copy()
    levels = faiss.vector_to_array(hnsw.levels)[:m].copy()
    cum = faiss.vector_to_array(hnsw.cum_nneighbor_per_level).astype(np.int64)
    every = faiss.vector_to_array(hnsw.neighbors)  # the removed nodes' lists too, for the repair below
    xb = flat_view(base)
    stale = np.flatnonzero(neighbors >= m)  # links to removed nodes
    nodes = np.searchsorted(offsets, stale, side="right") - 1
    level = np.searchsorted(cum, stale - offsets[nodes], side="right") - 1
    for a, b in {(int(a), int(b)) for a, b in zip(nodes, level)}:
        start, end = offsets[a] + cum[b], offsets[a] + cum[b + 1]
        links = neighbors[start:end]
        links = links[links >= 0]
        lost, links = links[links >= m], links[links < m]
        # each lost link hands over to the best of the removed node's own kept neighbours (hnswlib's repair)
        near = np.concatenate([every[offsets[x] + cum[b]:offsets[x] + cum[b + 1]] for x in lost])
        near = np.setdiff1d(near[(near >= 0) & (near < m) & (near != a)], links)
        if len(near):
            near = near[np.argsort(-(xb[near] @ xb[a]), kind="stable")[:len(lost)]]
            links = np.concatenate([links, near.astype(links.dtype)])
        neighbors[start:end] = -1
        neighbors[start:start + len(links)] = links
    faiss.copy_array_to_vector(neighbors, hnsw.neighbors)
    faiss.copy_array_to_vector(offsets[:m + 1].astype(np.uint64), hnsw.offsets)
    faiss.copy_array_to_vector(levels, hnsw.levels)
    if hnsw.entry_point >= m:
        hnsw.entry_point = int(np.argmax(levels))
        hnsw.max_level = int(levels[hnsw.entry_point]) - 1
    faiss.downcast_index(base.storage).remove_ids(faiss.IDSelectorRange(m, n))
    base.ntotal = m


def serialize(index) -> bytes:
    return _faiss().serialize_index(index).tobytes()


def deserialize(data: bytes | mmap.mmap):
    """An index from its serialised bytes or a memory map of its file, read through a callback: FAISS's own
    ``deserialize_index`` copies the whole file into a vector first (1.65 s and 1.1 GiB against 0.81 s and
    0.56 GiB for a 1.13M-chunk HNSW index)."""
    faiss = _faiss()
    stream = io.BytesIO(data) if isinstance(data, bytes) else _MapReader(data)
    return faiss.read_index(faiss.PyCallbackIOReader(stream.read))


class _MapReader:
    """Sequential reads from a memory map without moving the map's own position (others may read it)."""

    def __init__(self, data: mmap.mmap):
        self.data, self.at = data, 0

    def read(self, n: int) -> bytes:
        out = self.data[self.at:self.at + n]
        self.at += len(out)
        return out


def index_type_of(index) -> str:
    faiss = _faiss()
    base = faiss.downcast_index(index)
    if isinstance(base, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(base, faiss.IndexIVFPQ):
        return "ivfpq"
    if isinstance(base, faiss.IndexIVF):
        return "ivf"
    return "flat"
