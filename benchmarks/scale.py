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


class _TableEmbedder:
    """Queries are named ``q<i>`` and map to precomputed vectors: search cost without a model's cost."""

    backend = name = "table"

    def __init__(self, xq: np.ndarray):
        self.xq, self.dim = xq, xq.shape[1]

    def encode_queries(self, texts, *, batch_size=32, show_progress=False):
        return self.xq[[int(t.split("q")[-1]) for t in texts]]


def centred_dense(n: int, index_type: str, n_queries: int = 100, dim: int = 384, k: int = 10, seed: int = 0) -> dict:
    """``mode="dense"`` (language-centred, through FAISS) on a synthetic two-language index of ``n`` chunks.

    Half the vectors are shifted towards one "language" direction and half towards another, as a
    multilingual model's are; returns build seconds, single-query p50/p95 ms (1 thread), recall@10 against
    the exact centred ranking, and the peak memory the first query allocates (tracemalloc, MiB).
    """
    import tracemalloc

    import faiss

    from swsearch import vectors
    from swsearch.index import Index
    from swsearch.split import Chunk

    xb, xq = clustered_vectors(n, dim, n_queries, seed)
    rng = np.random.default_rng(seed + 1)
    shift = rng.standard_normal((2, dim)).astype(np.float32)
    shift /= np.linalg.norm(shift, axis=1, keepdims=True)
    langs = np.where(np.arange(n) % 2 == 0, "en", "zh")
    xb = xb + 0.8 * shift[(langs == "zh").astype(int)]
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    xq = xq + 0.8 * shift[np.arange(n_queries) % 2]
    xq /= np.linalg.norm(xq, axis=1, keepdims=True)
    faiss.omp_set_num_threads(2)
    t0 = time.perf_counter()
    fi = vectors.build_index(xb, index_type)
    build = time.perf_counter() - t0
    chunks = [Chunk(id=f"d{i}#0", doc_id=f"d{i}", text="", start=0, end=0) for i in range(n)]
    docs = [{"id": f"d{i}", "language": str(langs[i])} for i in range(n)]
    centroids = {lang: xb[langs == lang].mean(axis=0) for lang in ("en", "zh")}
    index = Index(chunks=chunks, documents=docs, faiss_index=fi, config={"search": {"default_mode": "dense"}},
                  embedder=_TableEmbedder(xq), centroids=centroids)
    queries = [("\u4e2d" if i % 2 else "") + f"q{i}" for i in range(n_queries)]  # "中" makes odd queries zh
    faiss.omp_set_num_threads(1)
    tracemalloc.start()
    index.search(queries[0], k, mode="dense")
    first_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    lat, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append([h.chunk_id for h in index.search(q, k, mode="dense")])
        lat.append((time.perf_counter() - t) * 1000)
    # the exact centred ranking, by definition (a centred copy, scored in full), for recall
    c = index.centring
    cq = c.centre_queries(xq, ["zh" if q.startswith("\u4e2d") else "en" for q in queries])
    truth = []
    for i in range(n_queries):
        scores = np.empty(n, dtype=np.float32)
        for a in range(0, n, 100_000):
            block = xb[a:a + 100_000] - c.matrix[c.chunk_codes[a:a + 100_000]]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            scores[a:a + 100_000] = block @ cq[i]
        truth.append({chunks[r].id for r in np.argsort(-scores)[:k]})
    faiss.omp_set_num_threads(2)
    recall = float(np.mean([len(set(f) & t) / k for f, t in zip(found, truth)]))
    return {"n": n, "type": index_type, "build_s": round(build, 2), "p50_ms": round(percentile(lat, 50), 3),
            "p95_ms": round(percentile(lat, 95), 3), "recall@10": round(recall, 4),
            "first_query_peak_mib": round(first_peak, 1),
            "centred_copy_mib": round(n * dim * 4 / 2**20, 1)}


if __name__ == "__main__":  # python -m benchmarks.scale [n ...]: centred dense search at those sizes
    import sys

    print("| n | type | build s | p50 ms | p95 ms | recall@10 | first query peak MiB | a centred copy MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in [int(a) for a in sys.argv[1:]] or [100_000]:
        for kind in ("flat", "hnsw"):
            r = centred_dense(n, kind)
            print(f"| {n:,} | {kind} | {r['build_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['recall@10']} | "
                  f"{r['first_query_peak_mib']} | {r['centred_copy_mib']} |", flush=True)
