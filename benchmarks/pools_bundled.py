"""Candidate pools forced on for the bundled index (real model): do they keep exact search's answers?

Run: ``PYTHONPATH=. python -m benchmarks.pools_bundled``. The shipped index has 1,018 chunks, so search is
exact by default; this forces pools of ``C`` chunks per ranking (``candidates=C``), first without and then with
the sentence vectors' inverted file (``parts.SentenceClusters``, which indexes above 20,000 chunks get), and
prints, for the 160 policy questions, how many keep exact search's top 10 and the MRR@10 of every set.
"""

from __future__ import annotations

import argparse
import json
import sys

import swsearch
from swsearch.index import bundled_index_dir

from . import quality


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=50, help="chunks per ranking in a pool")
    args = parser.parse_args(argv)
    index = swsearch.Index.load(bundled_index_dir())
    sets = quality.query_sets(False)
    queries = [q["query"] for qs in sets.values() for q in qs]
    exact = index.search_batch(queries, 10, candidates=0)
    rows = {}
    for label in ("exact", "pools", "pools + sentence clusters"):
        if label == "pools + sentence clusters":
            index.sentence_vectors = index.sentence_vectors.clustered(index.chunks.languages(index.documents))
        c = 0 if label == "exact" else args.candidates
        found = index.search_batch(queries, 10, candidates=c)
        same = sum([h.chunk_id for h in a] == [h.chunk_id for h in b] for a, b in zip(exact, found))
        scores = quality.eval_index(index, sets, candidates=c)
        rows[label] = {"same_top10": same, "questions": len(queries),
                       "mrr@10": {name: round(r["all"]["mrr@10"], 3) for name, r in scores.items()}}
        print(f"{label}: same top 10 as exact search for {same} of {len(queries)} questions; MRR@10 "
              + ", ".join(f"{k} {v}" for k, v in rows[label]["mrr@10"].items()), flush=True)
    clusters = index.sentence_vectors.clusters
    print(json.dumps({"candidates": args.candidates, "clusters": len(clusters),
                      "sentences": len(index.sentence_vectors), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
