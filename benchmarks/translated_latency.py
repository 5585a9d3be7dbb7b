"""Warm latency of searches filtered to the other language, with and without the translated query's ranking
(``dense_translated``: one more query embedded and scored), in one process, and of unfiltered searches (which
never compute it) as the control.

The settings alternate round by round over the dev, own, held-out and fresh questions on the bundled index,
each question filtered to the language it is not in, so the machine's noise falls on all alike.

Run: ``PYTHONPATH=. python -m benchmarks.translated_latency [--rounds 6]
[--out benchmarks/results/translated_latency.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import swsearch
from swsearch import fusion
from swsearch.documents import detect_language
from swsearch.evaluate import load_queries

from .agreement import POLICY
from .common import machine

WITHOUT = {"fusion": "convex", "weights": {**fusion.CONVEX_WEIGHTS, "dense_translated": 0.0}}


def measure(rounds: int) -> dict:
    index = swsearch.default_index()
    queries = [q["query"] for path in POLICY.values() for q in load_queries(path)]
    other = {q: "en" if detect_language(q) == "zh" else "zh" for q in queries}
    settings = {"filtered to the other language, default (with the translated query)":
                lambda q: index.search(q, k=10, language=other[q]),
                "filtered to the other language, without the translated query":
                lambda q: index.search(q, k=10, language=other[q], **WITHOUT),
                "unfiltered, default (never computes it)": lambda q: index.search(q, k=10)}
    for q in queries[:20]:
        for run in settings.values():
            run(q)  # warm up
    times: dict[str, list[float]] = {name: [] for name in settings}
    for r in range(rounds):
        for name in (list(settings) if r % 2 == 0 else list(settings)[::-1]):
            for q in queries:
                t = time.perf_counter()
                settings[name](q)
                times[name].append((time.perf_counter() - t) * 1000)
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
