"""Draw the target paragraphs of a new policy question set at random, the way ``sealed`` and ``sealed2`` were drawn.

Chunks of the bundled index longer than 120 characters whose text holds no gold span of an earlier set, ``n`` per
language, in draw order: the first 10 English draws are the en->en targets, the next 10 the zh->en ones, likewise
the Chinese draws for zh->zh and en->zh. The questions are then written by hand from the printed texts.

Run: ``PYTHONPATH=. python -m benchmarks.draw_targets --seed 20261207`` (``sealed2``; ``sealed`` used 20261127).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import swsearch
from swsearch.evaluate import contains_span, load_queries

from .common import DEV_QUERIES, FRESH_QUERIES, HELDOUT_QUERIES, OWN_QUERIES, SEALED_QUERIES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--n", type=int, default=30, help="draws per language (default 30)")
    args = parser.parse_args(argv)
    index = swsearch.default_index()
    earlier = [g for path in (DEV_QUERIES, OWN_QUERIES, HELDOUT_QUERIES, FRESH_QUERIES, SEALED_QUERIES)
               for q in load_queries(path) for g in q["gold"]]
    rng = np.random.default_rng(args.seed)
    for lang in ("en", "zh"):
        eligible = [i for i, c in enumerate(index.chunks) if index.chunk_languages[i] == lang and len(c.text) > 120
                    and not contains_span(c.text, earlier)]
        print(f"== {lang}: {len(eligible)} eligible")
        for j, i in enumerate(rng.choice(eligible, size=args.n, replace=False)):
            c = index.chunks[i]
            print(f"--- {lang}{j:02d} row {i} {c.doc_id} [{c.start}:{c.end}]\n{c.text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
