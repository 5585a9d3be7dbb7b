"""Warm hybrid search latency of the agreement's settings, in one process: depth 1, the shipped depth without the
evidence rule (``fusion.translation_evident``), and the default (both rules).

The settings alternate round by round over the dev, own, held-out and fresh questions on the bundled index,
so the machine's noise falls on both alike (a full run's latencies move by a few ms between runs here).

Run: ``PYTHONPATH=. python -m benchmarks.agreement_latency [--rounds 6]
[--out benchmarks/results/agreement_latency.json]``
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

import swsearch
from swsearch import fusion
from swsearch.evaluate import load_queries

from .agreement import POLICY
from .common import machine


def measure(rounds: int) -> dict:
    index = swsearch.default_index()
    queries = [q["query"] for path in POLICY.values() for q in load_queries(path)]
    for q in queries[:20]:
        index.search(q, k=10)  # warm up
    agreed, evident = fusion.translation_agreed, fusion.translation_evident
    settings = {"depth 1, no evidence rule": (1, False),
                f"depth {fusion.AGREEMENT_TOP}, no evidence rule": (fusion.AGREEMENT_TOP, False),
                f"default (depth {fusion.AGREEMENT_TOP} and the evidence rule)": (fusion.AGREEMENT_TOP, True)}
    times: dict[str, list[float]] = {name: [] for name in settings}
    try:
        for r in range(rounds):
            for name in (list(settings) if r % 2 == 0 else list(settings)[::-1]):
                depth, use_evidence = settings[name]
                fusion.translation_agreed = functools.partial(agreed, top=depth)  # what fuse_rankings calls
                fusion.translation_evident = evident if use_evidence else (lambda *a, **kw: False)
                for q in queries:
                    t = time.perf_counter()
                    index.search(q, k=10)
                    times[name].append((time.perf_counter() - t) * 1000)
    finally:
        fusion.translation_agreed, fusion.translation_evident = agreed, evident
    summary = {name: {"p50_ms": round(float(np.median(v)), 2), "p95_ms": round(float(np.percentile(v, 95)), 2),
                      "n": len(v)} for name, v in times.items()}
    return {"machine": machine(), "queries": len(queries), "rounds": rounds, "settings": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    res = measure(args.rounds)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    for name, r in res["settings"].items():
        print(f"{name}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms ({r['n']} searches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
