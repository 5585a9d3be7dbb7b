"""Warm latency of searches filtered to the other language, with and without the translated query's ranking
(``dense_translated``: one more query embedded and scored), in one process, and of unfiltered searches (which
never compute it) as the control.

The settings alternate round by round over the dev, own, held-out and fresh questions on the bundled index,
each question filtered to the language it is not in, so the machine's noise falls on all alike.

Run: ``PYTHONPATH=. python -m benchmarks.translated_latency [--rounds 6]
[--out benchmarks/results/translated_latency.json]``
"""

from __future__ import annotations

import sys

import swsearch
from swsearch import fusion
from swsearch.documents import detect_language
from swsearch.evaluate import load_queries

from .agreement import POLICY
from .common import alternating_latency, latency_main

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
    return alternating_latency(settings, queries, rounds)


def main(argv: list[str] | None = None) -> int:
    return latency_main(argv, __doc__, measure)


if __name__ == "__main__":
    sys.exit(main())
