"""FAISS index types at scale: exact flat vs HNSW vs IVF vs IVF-PQ (+ exact re-ranking).

Each type is built on the same vectors and asked the same queries one at a time on one thread, as a
search call from the CLI or API would: build time, memory (serialised size), single-query latency and
recall@10 against exact search.
"""

from __future__ import annotations

import time

import numpy as np

from .common import percentile


def clustered_vectors(n: int, dim: int = 384, n_queries: int = 200, seed: int = 0):
    """Normalised points around ~sqrt(n) random centres (text embeddings cluster by topic)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(16, int(np.sqrt(n))), dim)).astype(np.float32)
    def sample(m):
        out = np.empty((m, dim), dtype=np.float32)
        for a in range(0, m, 100_000):
            b = min(m, a + 100_000)
            c = centres[rng.integers(0, len(centres), b - a)]
            out[a:b] = c + 0.6 * rng.standard_normal((b - a, dim)).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out
    return sample(n), sample(n_queries)


def _build(kind: str, xb: np.ndarray):
    import faiss

    from swsearch import vectors

    if kind == "ivfpq+rerank":
        base = vectors.make_index(xb.shape[1], "ivfpq", len(xb))
        index = faiss.IndexRefineFlat(base)
        index.k_factor = 4
        index.train(vectors.training_sample(xb, base))
        index.add(xb)
        return index
    return vectors.build_index(xb, kind)


def compare(xb: np.ndarray, xq: np.ndarray, kinds=("flat", "hnsw", "ivf", "ivfpq", "ivfpq+rerank"), k: int = 10):
    """One row per index type: build_s, bytes, p50/p95 single-query ms (1 thread), recall@10 vs flat."""
    import faiss

    faiss.omp_set_num_threads(2)
    exact = faiss.IndexFlatIP(xb.shape[1])
    exact.add(xb)
    _, truth = exact.search(xq, k)
    rows = []
    for kind in kinds:
        if kind.startswith("ivfpq") and len(xb) < 256 * 39:
            continue
        faiss.omp_set_num_threads(2)
        t0 = time.perf_counter()
        index = _build(kind, xb)
        build = time.perf_counter() - t0
        size = len(faiss.serialize_index(index))
        faiss.omp_set_num_threads(1)
        lat, found = [], []
        for q in xq:
            t = time.perf_counter()
            _, ids = index.search(q[None, :], k)
            lat.append((time.perf_counter() - t) * 1000)
            found.append(ids[0])
        recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)]))
        rows.append({"type": kind, "n": len(xb), "build_s": round(build, 2), "mib": round(size / 2**20, 1),
                     "p50_ms": round(percentile(lat, 50), 3), "p95_ms": round(percentile(lat, 95), 3),
                     "recall@10": round(recall, 4)})
    faiss.omp_set_num_threads(2)
    return rows
