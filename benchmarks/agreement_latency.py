"""Warm hybrid search latency of the agreement's settings, in one process: depth 1, the shipped depth without the
evidence rule (``fusion.translation_evident``), and the default (both rules).

The settings alternate round by round over the dev, own, held-out and fresh questions on the bundled index,
so the machine's noise falls on both alike (a full run's latencies move by a few ms between runs here).

Run: ``PYTHONPATH=. python -m benchmarks.agreement_latency [--rounds 6]
[--out benchmarks/results/agreement_latency.json]``
"""

from __future__ import annotations

import functools
import sys

import swsearch
from swsearch import fusion
from swsearch.evaluate import load_queries

from .agreement import POLICY
from .common import alternating_latency, latency_main


def measure(rounds: int) -> dict:
    index = swsearch.default_index()
    queries = [q["query"] for path in POLICY.values() for q in load_queries(path)]
    for q in queries[:20]:
        index.search(q, k=10)  # warm up
    agreed, evident = fusion.translation_agreed, fusion.translation_evident
    rules = {"depth 1, no evidence rule": (1, False),
             f"depth {fusion.AGREEMENT_TOP}, no evidence rule": (fusion.AGREEMENT_TOP, False),
             f"default (depth {fusion.AGREEMENT_TOP} and the evidence rule)": (fusion.AGREEMENT_TOP, True)}

    def setting(depth: int, use_evidence: bool):
        def run(q: str) -> None:
            fusion.translation_agreed = functools.partial(agreed, top=depth)  # what fuse_rankings calls
            fusion.translation_evident = evident if use_evidence else (lambda *a, **kw: False)
            index.search(q, k=10)
        return run

    try:
        return alternating_latency({name: setting(*rule) for name, rule in rules.items()}, queries, rounds)
    finally:
        fusion.translation_agreed, fusion.translation_evident = agreed, evident


def main(argv: list[str] | None = None) -> int:
    return latency_main(argv, __doc__, measure)


if __name__ == "__main__":
    sys.exit(main())
