"""The PostgreSQL store against the FAISS store: same answers, and what a database costs and buys.

Run: ``PYTHONPATH=. python -m benchmarks.postgres [--synthetic N]``. Starts a throwaway PostgreSQL 16 +
pgvector (pgserver), writes the shipped index of the bundled corpus into it, and measures:

- agreement: the share of the 160 policy questions (dev, own, held-out, fresh) whose top-10 is the same in
  both stores, and MRR@10 per set and direction in each;
- insert rate (chunks/s) of ``index.save(url)``, size on disk (the schema's tables and indexes);
- query latency p50/p95 from one process (queries embedded beforehand, so only search is timed), and
  queries/s from 8 concurrent processes, for both stores;
- with ``--synthetic N``: the same timings on N synthetic chunks (the test suite's hash embedder over real
  sentences), to show how the exact in-database scoring grows with the corpus.

Writes ``benchmarks/results/postgres.json`` and prints markdown tables.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import swsearch

from . import quality
from .common import REPO, machine, percentile, write_json

OUT = REPO / "benchmarks" / "results" / "postgres.json"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _latency(index, queries: list[str], repeat: int = 1, **filters) -> dict:
    index.search(queries[0], k=10, **filters)  # warm: model, caches, snapshot
    times = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            index.search(q, k=10, **filters)
            times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1), "n": len(times)}


def _worker(location: str, queries: list[str], seconds: float, model, results) -> None:
    index = swsearch.Index.load(location, model=model)
    index.search(queries[0], k=10)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        index.search(queries[n % len(queries)], k=10)
        n += 1
    results.put(n)


def _throughput(location: str, queries: list[str], model, processes: int = 8, seconds: float = 20.0) -> float:
    """Queries/s of ``processes`` processes searching one index for ``seconds`` (after each has warmed up)."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(location, queries, seconds, model, results)) for _ in range(processes)]
    for p in procs:
        p.start()
    total = sum(results.get(timeout=seconds + 300) for _ in procs)
    for p in procs:
        p.join()
    return round(total / seconds, 1)


def _schema_bytes(server, name: str) -> int:
    out = server.psql(f"SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                      f"ON n.oid = c.relnamespace WHERE n.nspname = 'swsearch_{name}' AND c.relkind = 'r';")
    return int(out.split("\n")[2].strip())


def compare(memory, pg, sets: dict) -> dict:
    queries = [q["query"] for qs in sets.values() for q in qs]
    a, b = memory.search_batch(queries, 10), pg.search_batch(queries, 10)
    same = sum([h.chunk_id for h in x] == [h.chunk_id for h in y] for x, y in zip(a, b))
    return {"questions": len(queries), "same_top10": same, "same_top10_share": round(same / len(queries), 3),
            "faiss": quality.eval_index(memory, sets), "postgres": quality.eval_index(pg, sets)}


def synthetic(server, n: int, model) -> dict:
    """N chunks of real sentences, embedded by the hash embedder, in both stores: insert rate and latency."""
    sys.path.insert(0, str(REPO))
    sentences = [c.text for c in swsearch.default_index().chunks]
    rng = random.Random(0)
    docs = [swsearch.Document(id=f"s{i:07d}", text=" ".join(rng.sample(sentences, 2))[:600], language="en")
            for i in range(n)]
    log(f"synthetic {n}: building in memory")
    t = time.perf_counter()
    memory = swsearch.Index.build(docs, model=model, sentences=False)
    build_s = time.perf_counter() - t
    url = server.get_uri() + f"&index=synthetic_{n}"
    log(f"synthetic {n}: writing to PostgreSQL")
    t = time.perf_counter()
    memory.save(url)
    insert_s = time.perf_counter() - t
    log(f"synthetic {n}: queries")
    pg = swsearch.Index.load(url, model=model)
    queries = [c.text[:80] for c in rng.sample(memory.chunks, 50)]
    out = {"chunks": len(memory), "build_s_faiss": round(build_s, 1), "insert_s_postgres": round(insert_s, 1),
           "insert_chunks_per_s": round(len(memory) / insert_s, 1),
           "size_mib_postgres": round(_schema_bytes(server, f"synthetic_{n}") / 2**20, 1),
           "faiss": _latency(memory, queries), "postgres": _latency(pg, queries),
           # a filter on the language alone (every chunk here is labelled English, so it keeps them all)
           "faiss_language": _latency(memory, queries, language="en"),
           "postgres_language": _latency(pg, queries, language="en")}
    # a write bumps the version: each reader's next search reloads the snapshot (chunk keys, documents, token
    # statistics, lexicon) once; timed as that search's latency, with a one-document add before it
    first, warm = [], []
    for i in range(3):
        t = time.perf_counter()
        pg.add([swsearch.Document(id=f"added{i}", text=docs[i].text, language="en")])
        out.setdefault("add_one_document_s", []).append(round(time.perf_counter() - t, 2))
        for into in (first, warm):
            t = time.perf_counter()
            pg.search(queries[i], k=10)
            into.append(time.perf_counter() - t)
    out["search_after_a_write_ms"] = round(1000 * percentile(first, 50), 1)
    out["same_search_again_ms"] = round(1000 * percentile(warm, 50), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--synthetic", type=int, nargs="*", default=[], help="synthetic corpus sizes (chunks)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the 8 processes query (default 20)")
    args = p.parse_args(argv)
    import pgserver

    memory = swsearch.Index.load(swsearch.index.bundled_index_dir())
    sets = quality.query_sets(False)
    out: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(Path(tmp), cleanup_mode="stop")
        try:
            url = server.get_uri() + "&index=bundled"
            log("bundled: writing to PostgreSQL")
            t = time.perf_counter()
            memory.save(url)
            insert_s = time.perf_counter() - t
            pg = swsearch.Index.load(url)
            out["bundled"] = {"chunks": len(memory), "sentences": len(memory.sentence_vectors),
                              "insert_s": round(insert_s, 1), "insert_chunks_per_s": round(len(memory) / insert_s, 1),
                              "size_mib_postgres": round(_schema_bytes(server, "bundled") / 2**20, 1),
                              **compare(memory, pg, sets)}
            queries = [q["query"] for qs in sets.values() for q in qs]
            log("bundled: latency and throughput")
            out["bundled"]["latency"] = {"faiss": _latency(memory, queries), "postgres": _latency(pg, queries)}
            folder = str(swsearch.index.bundled_index_dir())
            out["bundled"]["queries_per_s_8_processes"] = {
                "faiss": _throughput(folder, queries, None, seconds=args.seconds),
                "postgres": _throughput(url, queries, None, seconds=args.seconds)}
            from tests.conftest import HashEmbedder  # the synthetic corpora's embedder

            out["synthetic"] = [synthetic(server, n, HashEmbedder()) for n in args.synthetic]
        finally:
            server.cleanup()
    write_json(OUT, out)
    b = out["bundled"]
    print(f"same top-10: {b['same_top10']}/{b['questions']}; insert {b['insert_chunks_per_s']} chunks/s; "
          f"{b['size_mib_postgres']} MiB in PostgreSQL")
    print("| set | store | en→en | en→zh | zh→zh | zh→en | all |\n|---|---|---|---|---|---|---|")
    for s in sets:
        for store in ("faiss", "postgres"):
            r = b[store][s]
            print(f"| {s} | {store} | " + " | ".join(f"{r[d]['mrr@10']:.3f}" for d in
                                                   ("en->en", "en->zh", "zh->zh", "zh->en", "all")) + " |")
    lat = b["latency"]
    print(f"latency p50/p95 ms: faiss {lat['faiss']['p50_ms']}/{lat['faiss']['p95_ms']}, postgres "
          f"{lat['postgres']['p50_ms']}/{lat['postgres']['p95_ms']}; 8 processes q/s: {b['queries_per_s_8_processes']}")
    for r in out["synthetic"]:
        print(f"synthetic {r['chunks']}: insert {r['insert_chunks_per_s']} chunks/s, {r['size_mib_postgres']} MiB; "
              f"p50 faiss {r['faiss']['p50_ms']} ms, postgres {r['postgres']['p50_ms']} ms (language=\"en\": "
              f"{r['faiss_language']['p50_ms']} / {r['postgres_language']['p50_ms']} ms); first search after a "
              f"write {r['search_after_a_write_ms']} ms (then {r['same_search_again_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
