"""Hybrid search at scale: synthetic indexes of real sentences, every search mode, one thread.

Run: ``PYTHONPATH=. python -m benchmarks.hybrid_scale [--work DIR] [N ...]`` (N documents of about one chunk
each; default 10,000 and 100,000; ``--work`` keeps the indexes in DIR and reuses them on the next run). For each
size it builds an index of the bundled corpus's sentences, shuffled into short two-language documents and
embedded by the test suite's hash embedder (no hours of embedding), saves it, then measures in a fresh
process pinned to one thread (``OMP_NUM_THREADS=1``): load time, RSS after load and at peak, size on disk,
p50/p95 latency of each mode including query encoding, agreement of the default search with exhaustive
hybrid (recall@10 of the exact top 10), adding 100 documents and deleting one; and plain FAISS and bm25s
alone on the same vectors and tokens as the floor. Writes ``benchmarks/results/hybrid_scale.json``.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import REPO, index_bytes, percentile, write_json

RESULTS = REPO / "benchmarks" / "results" / "hybrid_scale.json"
N_QUERIES = 100


def log(msg: str) -> None:
    print(f"[hybrid_scale] {msg}", file=sys.stderr, flush=True)


def _sentences() -> dict[str, list[str]]:
    """The bundled corpus's sentences by language (20 to 300 characters)."""
    import swsearch

    out: dict[str, list[str]] = {"en": [], "zh": []}
    for doc in swsearch.load_corpus(None):
        if doc.language not in out:
            continue
        for s in re.split(r"(?<=[.!?。！？])\s*", doc.text):
            s = " ".join(s.split())
            if 20 <= len(s) <= 300:
                out[doc.language].append(s)
    return out


def synthetic_documents(n: int, seed: int = 0) -> list:
    """``n`` documents of random same-language sentences, half English (three sentences), half Chinese (two):
    each fits the hash embedder's 128 tokens, so one document is about one chunk."""
    import swsearch

    pool = _sentences()
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        lang = "zh" if i % 2 else "en"
        text = ("" if lang == "zh" else " ").join(rng.sample(pool[lang], 2 if lang == "zh" else 3))
        docs.append(swsearch.Document(id=f"s{i:07d}", text=text, language=lang))
    return docs


def build(n: int, out: Path) -> dict:
    """Build and save the synthetic index of ``n`` documents: seconds and chunks/s."""
    import swsearch
    from tests.conftest import HashEmbedder

    docs = synthetic_documents(n)
    t = time.perf_counter()
    index = swsearch.Index.build(docs, model=HashEmbedder())
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    index.save(out)
    save_s = time.perf_counter() - t
    return {"documents": n, "chunks": len(index), "sentences": len(index.sentence_spans),
            "index_type": index.info()["index_type"], "build_s": round(build_s, 1),
            "build_chunks_per_s": round(len(index) / build_s, 1), "save_s": round(save_s, 1),
            "disk_mib": round(index_bytes(out) / 2**20, 1)}


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(fn, queries: list[str]) -> tuple[list, dict]:
    out, lat = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q))
        lat.append((time.perf_counter() - t) * 1000)
    return out, {"p50_ms": round(percentile(lat, 50), 2), "p95_ms": round(percentile(lat, 95), 2)}


def measure(path: Path) -> dict:
    """Everything measured on a saved index, in this (one-thread) process."""
    import faiss

    import swsearch
    from swsearch import pools
    from tests.conftest import HashEmbedder

    faiss.omp_set_num_threads(1)
    t = time.perf_counter()
    index = swsearch.Index.load(path, model=HashEmbedder())
    load_s = time.perf_counter() - t
    rss_load = _rss_mib("VmRSS")
    rng = random.Random(1)
    queries = [" ".join(c.text.split())[:80] for c in rng.sample(index.chunks, N_QUERIES)]
    for mode in ("hybrid", "dense", "lexical"):  # first queries: lazy parts (norms, segmenter) load here
        index.search(queries[0], k=10, mode=mode)
    res: dict = {"load_s": round(load_s, 2), "rss_after_load_mib": round(rss_load, 1),
                 "candidates_default": pools.pool_size(None, len(index))}
    _, res["hybrid_default"] = _timed(lambda q: index.search(q, k=10), queries)
    exact, res["hybrid_exact"] = _timed(lambda q: index.search(q, k=10, candidates=0), queries)
    pooled, res["hybrid_pooled"] = _timed(lambda q: index.search(q, k=10, candidates=pools.CANDIDATES), queries)
    # filtered: to one language (half the queries cross-language), and to 1% of the documents
    _, res["hybrid_language"] = _timed(lambda q: index.search(q, k=10, language="zh"), queries)
    some = sorted(rng.sample(sorted(index.documents), max(1, len(index.documents) // 100)))
    _, res["hybrid_documents"] = _timed(lambda q: index.search(q, k=10, doc_ids=some), queries)
    _, res["dense"] = _timed(lambda q: index.search(q, k=10, mode="dense"), queries)
    _, res["lexical"] = _timed(lambda q: index.search(q, k=10, mode="lexical"), queries)
    res["pooled_recall_at_10"] = round(float(np.mean(
        [len({h.chunk_id for h in a} & {h.chunk_id for h in b}) / max(1, len(b)) for a, b in zip(pooled, exact)])), 4)
    # the floor: plain FAISS (encode + search) and bm25s (tokenise + retrieve) alone on the same data
    emb, fi = index.embedder, index.faiss_index
    _, res["floor_faiss"] = _timed(lambda q: fi.search(emb.encode_queries([q]), 10), queries)
    lex = index.lexical
    vocab = lex.retriever.vocab_dict

    def bm25s_alone(q):
        known = [t for t in lex.tokenize(q) if t in vocab]
        return lex.retriever.retrieve([known], k=10, show_progress=False, n_threads=0) if known else None

    _, res["floor_bm25s"] = _timed(bm25s_alone, queries)
    res["rss_peak_mib"] = round(_rss_mib("VmHWM"), 1)
    before = len(index)
    t = time.perf_counter()
    added = index.add([swsearch.Document(id=f"added{i}", text=d.text, language=d.language)
                       for i, d in enumerate(synthetic_documents(100, seed=7))])
    res["add_100_documents_s"] = round(time.perf_counter() - t, 2)
    res["add_chunks"] = len(added) - before
    t = time.perf_counter()
    added.delete(["added0"])
    res["delete_1_document_s"] = round(time.perf_counter() - t, 2)
    return res


def run(sizes: list[int], work: Path | None = None) -> dict:
    """Build (or, with ``work``, reuse the indexes kept there) and measure each size."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}  # this checkout's swsearch
    rows = []
    with tempfile.TemporaryDirectory(prefix="swsearch-scale-") as tmp:
        for n in sizes:
            out = (work or Path(tmp)) / f"n{n}"
            built = out.parent / f"n{n}.build.json"
            if work is not None and built.exists() and (out / "manifest.json").exists():
                row = json.loads(built.read_text())
                log(f"{n:,} documents: reusing the index built earlier in {out}")
            else:
                log(f"{n:,} documents: building")
                row = build(n, out)
                if work is not None:
                    built.write_text(json.dumps(row))
            log(f"{n:,} documents: {row['chunks']:,} chunks built in {row['build_s']} s; measuring")
            proc = subprocess.run([sys.executable, "-m", "benchmarks.hybrid_scale", "--measure", str(out)],
                                  env=env, cwd=REPO, capture_output=True, text=True, check=True)
            row.update(json.loads(proc.stdout))
            log(json.dumps(row))
            rows.append(row)
    return {"rows": rows}


def _p50_p95(timing: dict | None) -> str:
    return "—" if timing is None else f"{timing['p50_ms']} / {timing['p95_ms']}"


def table(rows: list[dict]) -> str:
    head = ("| chunks | index | build chunks/s | disk MiB | load s | RSS load / peak MiB | hybrid default p50 / p95 ms "
            "| hybrid exact p50 / p95 ms | hybrid pooled p50 / p95 ms | pooled recall@10 | dense p50 ms "
            "| lexical p50 ms | FAISS alone p50 ms | bm25s alone p50 ms | add 100 docs s | delete 1 doc s "
            "| hybrid, language=\"zh\" p50 / p95 ms | hybrid, 1% of the documents p50 / p95 ms |")
    lines = [head, "|" + "---|" * 18]
    for r in rows:
        lines.append(
            f"| {r['chunks']:,} | {r['index_type']} | {r['build_chunks_per_s']} | {r['disk_mib']} | {r['load_s']} | "
            f"{r['rss_after_load_mib']:.0f} / {r['rss_peak_mib']:.0f} | {r['hybrid_default']['p50_ms']} / "
            f"{r['hybrid_default']['p95_ms']} | {r['hybrid_exact']['p50_ms']} / {r['hybrid_exact']['p95_ms']} | "
            f"{r['hybrid_pooled']['p50_ms']} / {r['hybrid_pooled']['p95_ms']} | {r['pooled_recall_at_10']} | "
            f"{r['dense']['p50_ms']} | {r['lexical']['p50_ms']} | "
            f"{r['floor_faiss']['p50_ms']} | {r['floor_bm25s']['p50_ms']} | {r['add_100_documents_s']} | "
            f"{r.get('delete_1_document_s', '—')} | {_p50_p95(r.get('hybrid_language'))} | "
            f"{_p50_p95(r.get('hybrid_documents'))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(Path(argv[1]))))
        return 0
    work = None
    if argv[:1] == ["--work"]:  # keep the built indexes there and reuse them on the next run
        work, argv = Path(argv[1]), argv[2:]
        work.mkdir(parents=True, exist_ok=True)
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    result = run(sizes, work)
    write_json(RESULTS, result)
    print(table(result["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
